import { describe, expect, it } from 'vitest'
import { fixture, problem } from './support.js'

async function json<T>(res: Response, status = 200): Promise<T> {
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${await res.text()}`)
  return (await res.json()) as T
}

type Version = { id: string; version: number; locale: string; content: Record<string, string> }

describe('template routes', () => {
  it('creates, edits, reads, lists and pages templates over HTTP', async () => {
    const f = fixture()
    const q = `infrastructureId=${f.infraA}`
    const created = await f.call('POST', '/templates', {
      body: {
        infrastructureId: f.infraA,
        categoryKey: 'invoice.paid',
        channelType: 'email',
        locale: 'de-ch',
        content: { subject: 'Rechnung {{ data.n }}', text: 'Bezahlt.' },
      },
    })
    const v1 = await json<Version>(created, 201)
    expect(v1).toMatchObject({ version: 1, locale: 'de-CH' })
    expect(created.headers.get('location')).toBe(
      `/functions/v1/messaging/templates/invoice.paid/email/de-CH?infrastructureId=${f.infraA}`,
    )
    const edited = await f.call('PUT', '/templates/invoice.paid/email/de-CH', {
      body: {
        infrastructureId: f.infraA,
        baseVersion: 1,
        channelType: 'email',
        content: { subject: 'v2', html: '<b>2</b>' },
      },
    })
    expect(await json<Version>(edited)).toMatchObject({ version: 2 })
    // Read by a member of the tenant: current, a version, the history and the list.
    const get = (path: string) => f.call('GET', path, { who: 'memberA' })
    expect(await json<Version>(await get(`/templates/invoice.paid/email/de-CH?${q}`))).toMatchObject({
      version: 2,
    })
    expect(await json<Version>(await get(`/templates/invoice.paid/email/de-CH?${q}&version=1`))).toEqual(v1)
    const history = await json<Version[]>(
      await get(`/templates/invoice.paid/email/de-CH/versions?${q}&limit=1`),
    )
    expect(history.map((v) => v.version)).toEqual([2])
    const older = await json<Version[]>(
      await get(`/templates/invoice.paid/email/de-CH/versions?${q}&before=2`),
    )
    expect(older.map((v) => v.version)).toEqual([1])
    const list = await json<Version[]>(await get(`/templates?${q}&channelType=email`))
    expect(list.map((v) => [v.locale, v.version])).toEqual([['de-CH', 2]])
    expect(await json<Version[]>(await get(`/templates?${q}&channelType=sms`))).toEqual([])
  })

  it('previews without sending, and answers bad templates with the field and the rule', async () => {
    const f = fixture()
    const preview = await f.call('POST', '/templates/preview', {
      body: {
        infrastructureId: f.infraA,
        channelType: 'email',
        content: { subject: 'Hi {{ data.name }}', html: '<p>{{ data.name }}</p>' },
        data: { name: '<Ada>' },
      },
    })
    expect(await json(preview)).toEqual({
      channelType: 'email',
      locale: 'en',
      payload: { subject: 'Hi <Ada>', html: '<p>&lt;Ada&gt;</p>' },
    })
    const broken = await f.call('POST', '/templates', {
      body: {
        infrastructureId: f.infraA,
        categoryKey: 'x',
        channelType: 'sms',
        locale: 'en',
        content: { text: '{% render "secrets" %}' },
      },
    })
    expect(broken.status).toBe(400)
    expect((await problem(broken)).errors).toEqual([
      {
        path: 'content.text',
        rule: 'template_syntax',
        message: expect.stringContaining('cannot read other templates'),
      },
    ])
    const unrendered = await f.call('POST', '/templates/preview', {
      body: { infrastructureId: f.infraA, channelType: 'sms', content: { text: '{{ data.code }}' } },
    })
    expect(unrendered.status).toBe(400)
    expect((await problem(unrendered)).errors).toMatchObject([
      { path: 'content.text', rule: 'template_render' },
    ])
    // Nothing was written: no template, no message.
    expect((await f.snapshot()).messages).toBe(0)
    expect(await f.messaging.listTemplates(f.principals.adminA, { infrastructureId: f.infraA })).toEqual([])
  })

  it('answers 409 for a second create and a stale base, 404 for an unknown template, 403 for a member writing', async () => {
    const f = fixture()
    const body = {
      infrastructureId: f.infraA,
      categoryKey: 'order.shipped',
      channelType: 'sms',
      locale: 'en',
      content: { text: 'Shipped' },
    }
    await json(await f.call('POST', '/templates', { body }), 201)
    const twice = await f.call('POST', '/templates', { body })
    expect(twice.status).toBe(409)
    expect(await problem(twice)).toMatchObject({ code: 'CONFLICT', entity: 'template' })
    const put = (baseVersion?: number) =>
      f.call('PUT', '/templates/order.shipped/sms/en', {
        body: {
          infrastructureId: f.infraA,
          channelType: 'sms',
          content: { text: 'again' },
          ...(baseVersion && { baseVersion }),
        },
      })
    await json(await put(1))
    expect((await put(1)).status).toBe(409)
    const missing = await f.call('GET', `/templates/order.shipped/sms/fr?infrastructureId=${f.infraA}`)
    expect(await problem(missing)).toMatchObject({ status: 404, code: 'NOT_FOUND', entity: 'template' })
    const member = await f.call('POST', '/templates', { who: 'memberA', body: { ...body, locale: 'de' } })
    expect(await problem(member)).toMatchObject({ status: 403, code: 'FORBIDDEN_ROLE' })
    const mismatch = await f.call('PUT', '/templates/order.shipped/sms/en', {
      body: { infrastructureId: f.infraA, channelType: 'email', content: { subject: 's', text: 't' } },
    })
    expect(await problem(mismatch)).toMatchObject({
      status: 400,
      errors: [{ path: 'channelType', rule: 'path_mismatch' }],
    })
  })

  it('reads and sets the default locale', async () => {
    const f = fixture()
    const q = `infrastructureId=${f.infraA}`
    expect(await json(await f.call('GET', `/template-settings?${q}`, { who: 'memberA' }))).toEqual({
      infrastructureId: f.infraA,
      defaultLocale: 'en',
      updatedBy: null,
      updatedAt: null,
    })
    const set = await f.call('PUT', '/template-settings', {
      body: { infrastructureId: f.infraA, defaultLocale: 'fr-ca' },
    })
    expect(await json(set)).toMatchObject({ defaultLocale: 'fr-CA', updatedBy: f.principals.adminA.userId })
    const refused = await f.call('PUT', '/template-settings', {
      who: 'memberA',
      body: { infrastructureId: f.infraA, defaultLocale: 'de' },
    })
    expect(refused.status).toBe(403)
  })
})
