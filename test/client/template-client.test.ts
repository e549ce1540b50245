import { describe, expect, it } from 'vitest'
import { createMessagingClient } from '../../src/client/index.js'
import { ConflictError, ValidationError } from '../../src/index.js'
import { fixture, serveOnLoopback } from '../http/support.js'

describe('typed client: templates over loopback', () => {
  const f = fixture()
  const baseUrl = serveOnLoopback(f.handler)
  const as = (who: 'adminA' | 'memberA') =>
    createMessagingClient({ baseUrl: baseUrl(), getToken: () => `tok-${who}`, infrastructureId: f.infraA })

  it('creates, edits, previews and reads templates with Dates revived and typed errors', async () => {
    const admin = as('adminA')
    const key = { categoryKey: 'invoice.paid', channelType: 'in_app' as const, locale: 'de' }
    const v1 = await admin.createTemplate({ ...key, content: { title: 'Rechnung {{ data.n }} bezahlt' } })
    expect(v1).toMatchObject({ infrastructureId: f.infraA, version: 1, locale: 'de' })
    expect(v1.createdAt).toBeInstanceOf(Date)
    const v2 = await admin.updateTemplate({
      ...key,
      baseVersion: 1,
      content: { title: 'Rechnung {{ data.n }}', actionUrl: '/invoices/{{ data.n }}' },
    })
    expect(v2.version).toBe(2)
    await expect(
      admin.updateTemplate({ ...key, baseVersion: 1, content: { title: 'lost' } }),
    ).rejects.toBeInstanceOf(ConflictError)
    const member = as('memberA')
    expect(await member.getTemplate(key)).toEqual(v2)
    expect(await member.getTemplate({ ...key, version: 1 })).toEqual(v1)
    expect((await member.listTemplateVersions(key)).map((v) => v.version)).toEqual([2, 1])
    expect(await member.listTemplates({ categoryKey: 'invoice.paid' })).toEqual([v2])
    const preview = await admin.previewTemplate({
      channelType: 'in_app',
      content: v2.content,
      data: { n: 7 },
    })
    expect(preview).toEqual({
      channelType: 'in_app',
      locale: 'en',
      payload: { title: 'Rechnung 7', actionUrl: '/invoices/7', data: { n: 7 } },
    })
    const bad = await admin
      .previewTemplate({ channelType: 'in_app', content: v2.content })
      .catch((e: unknown) => e)
    expect(bad).toBeInstanceOf(ValidationError)
    expect((bad as ValidationError).field).toBe('content.title')
    const settings = await admin.setTemplateSettings({ defaultLocale: 'de' })
    expect(settings.updatedAt).toBeInstanceOf(Date)
    expect(await member.getTemplateSettings()).toEqual(settings)
  })
})
