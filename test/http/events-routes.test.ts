import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createMessagingClient } from '../../src/client/index.js'
import type { DeliveryEvent } from '../../src/index.js'
import { readSse } from '../support/sse.js'
import { until } from '../support/transports.js'
import { fixture, problem, serveOnLoopback } from './support.js'

/** A cancelled message is the cheapest event: no worker needed. */
async function cancelOne(f: ReturnType<typeof fixture>, who: 'adminA' | 'adminB', infrastructureId: string) {
  const admin = f.principals[who]
  const channel = await f.messaging.createChannel(admin, {
    infrastructureId,
    channelKey: `ops-${randomUUID().slice(0, 8)}`,
    type: 'in_app',
  })
  const { message } = await f.messaging.enqueue(admin, {
    infrastructureId,
    channelId: channel.id,
    payload: { title: 'x' },
    recipients: [admin.userId],
  })
  await f.messaging.cancel(admin, { infrastructureId, messageId: message.id })
  return message.id
}

describe('GET /events over HTTP and the typed client', () => {
  const f = fixture()
  const baseUrl = serveOnLoopback(f.handler)

  it("lists the tenant's events to its admins and services only, pages by cursor, and refuses bad input naming the field", async () => {
    const a1 = await cancelOne(f, 'adminA', f.infraA)
    const a2 = await cancelOne(f, 'adminA', f.infraA)
    await cancelOne(f, 'adminB', f.infraB)

    const res = await f.call('GET', `/events?infrastructureId=${f.infraA}`, { who: 'serviceA' })
    expect(res.status).toBe(200)
    const events = (await res.json()) as DeliveryEvent[]
    expect(events.map((e) => [e.type, e.messageId, e.infrastructureId])).toEqual([
      ['message.cancelled', a1, f.infraA],
      ['message.cancelled', a2, f.infraA],
    ])
    const page = await f.call(
      'GET',
      `/events?infrastructureId=${f.infraA}&after=${events[0]!.cursor}&limit=5&type=message.cancelled`,
      { who: 'adminA' },
    )
    expect(((await page.json()) as DeliveryEvent[]).map((e) => e.messageId)).toEqual([a2])

    // A member of the tenant, and another tenant's admin: refused, nothing listed.
    const member = await f.call('GET', `/events?infrastructureId=${f.infraA}`, { who: 'memberA' })
    expect(member.status).toBe(403)
    expect((await problem(member)).code).toBe('FORBIDDEN_ROLE')
    const stranger = await f.call('GET', `/events?infrastructureId=${f.infraA}`, { who: 'adminB' })
    expect(stranger.status).toBe(403)
    expect((await problem(stranger)).code).toBe('TENANT_SCOPE_VIOLATION')
    expect((await f.call('GET', `/events?infrastructureId=${f.infraA}`, { who: null })).status).toBe(401)

    for (const [query, path] of [
      ['after=abc', 'after'],
      ['after=1.2.3', 'after'],
      ['after=99999999999999999999.0', 'after'],
      ['limit=0', 'limit'],
      ['limit=many', 'limit'],
      ['limit=1001', 'limit'],
      ['type=message.sent', 'type'],
      ['after=1.1&after=1.2', 'after'],
    ] as const) {
      const bad = await f.call('GET', `/events?infrastructureId=${f.infraA}&${query}`, { who: 'serviceA' })
      expect(bad.status, query).toBe(400)
      const body = await problem(bad)
      expect(body.code, query).toBe('VALIDATION_FAILED')
      expect(
        (body.errors as { path: string }[]).map((e) => e.path),
        query,
      ).toContain(path)
    }
    expect(f.errors).toEqual([])

    // The typed client: dates revived, the same events, paging with `after`.
    const client = createMessagingClient({
      baseUrl: baseUrl(),
      getToken: () => 'tok-serviceA',
      infrastructureId: f.infraA,
    })
    const listed = await client.listEvents()
    expect(listed.map((e) => e.id)).toEqual(events.map((e) => e.id))
    expect(listed[0]!.occurredAt).toBeInstanceOf(Date)
    expect((await client.listEvents({ after: listed[0]!.cursor })).map((e) => e.messageId)).toEqual([a2])
    // Live through the client: resumed after the first event, the second comes, then one made now.
    const live: DeliveryEvent[] = []
    const stop = new AbortController()
    const following = client.streamEvents({
      after: listed[0]!.cursor,
      signal: stop.signal,
      onEvent: (e) => live.push(e),
    })
    await until(() => live.length === 1)
    const a3 = await cancelOne(f, 'adminA', f.infraA)
    await until(() => live.length === 2)
    expect(live.map((e) => e.messageId)).toEqual([a2, a3])
    expect(live[1]!.occurredAt).toBeInstanceOf(Date)
    stop.abort()
    await following
    const asMember = createMessagingClient({
      baseUrl: baseUrl(),
      getToken: () => 'tok-memberA',
      infrastructureId: f.infraA,
    })
    await expect(asMember.listEvents()).rejects.toMatchObject({ code: 'FORBIDDEN_ROLE' })
  })

  it('GET /events/stream: live events named by type with their cursor as id, resumed by Last-Event-ID, for services of the tenant only', async () => {
    const res = await f.call('GET', `/events/stream?infrastructureId=${f.infraA}`, { who: 'serviceA' })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const sse = readSse(res)
    await sse.waitForComment((c) => c === 'event stream')
    const first = await cancelOne(f, 'adminA', f.infraA)
    await cancelOne(f, 'adminB', f.infraB)
    const e1 = await sse.waitFor((e) => e.event === 'message.cancelled')
    const body = JSON.parse(e1.data) as DeliveryEvent
    expect(body).toMatchObject({ messageId: first, infrastructureId: f.infraA, cursor: e1.id })
    await sse.close()

    // Missed while away: the reconnect's Last-Event-ID sends it first.
    const missed = await cancelOne(f, 'adminA', f.infraA)
    const again = await f.call('GET', `/events/stream?infrastructureId=${f.infraA}`, {
      who: 'serviceA',
      headers: { 'last-event-id': e1.id! },
    })
    const resumed = readSse(again)
    const e2 = await resumed.waitFor((e) => e.event === 'message.cancelled')
    expect((JSON.parse(e2.data) as DeliveryEvent).messageId).toBe(missed)
    expect(
      resumed.events.every((e) => (JSON.parse(e.data) as DeliveryEvent).infrastructureId === f.infraA),
    ).toBe(true)
    await resumed.close()

    for (const [who, status, code] of [
      ['memberA', 403, 'FORBIDDEN_ROLE'],
      ['adminA', 403, 'FORBIDDEN_ROLE'],
      ['adminB', 403, 'TENANT_SCOPE_VIOLATION'],
    ] as const) {
      const refused = await f.call('GET', `/events/stream?infrastructureId=${f.infraA}`, { who })
      expect(refused.status, who).toBe(status)
      expect((await problem(refused)).code, who).toBe(code)
    }
    const bad = await f.call('GET', `/events/stream?infrastructureId=${f.infraA}`, {
      who: 'serviceA',
      headers: { 'last-event-id': 'not-a-cursor' },
    })
    expect(bad.status).toBe(400)
    expect(((await problem(bad)).errors as { path: string }[]).map((e) => e.path)).toEqual(['after'])
  })
})

describe('/event-endpoints over HTTP and the typed client', () => {
  const f = fixture()
  const baseUrl = serveOnLoopback(f.handler)

  it('registers, reads, changes, rotates and removes an endpoint for admins only; bad input is a 400 naming the field and rule', async () => {
    const created = await f.call('POST', '/event-endpoints', {
      who: 'adminA',
      body: { infrastructureId: f.infraA, url: 'https://hooks.example.com/in', eventTypes: ['message.dead'] },
    })
    expect(created.status).toBe(201)
    const { endpoint, secret } = (await created.json()) as { endpoint: { id: string }; secret: string }
    expect(secret).toMatch(/^whsec_/)
    expect(created.headers.get('location')).toContain(`/event-endpoints/${endpoint.id}?infrastructureId=`)
    const ref = `/event-endpoints/${endpoint.id}?infrastructureId=${f.infraA}`
    const read = await f.call('GET', ref, { who: 'adminA' })
    expect(read.status).toBe(200)
    const listed = await f.call('GET', `/event-endpoints?infrastructureId=${f.infraA}`, { who: 'adminA' })
    for (const body of [await read.text(), await listed.text()]) expect(body).not.toContain(secret.slice(6))

    // Services, members and other tenants are refused; nothing of another tenant is found.
    for (const who of ['serviceA', 'memberA'] as const) {
      const r = await f.call('GET', `/event-endpoints?infrastructureId=${f.infraA}`, { who })
      expect(r.status, who).toBe(403)
      expect((await problem(r)).code).toBe('FORBIDDEN_ROLE')
    }
    const stranger = await f.call('POST', '/event-endpoints', {
      who: 'adminB',
      body: { infrastructureId: f.infraA, url: 'https://hooks.example.com/in' },
    })
    expect(stranger.status).toBe(403)
    expect((await problem(stranger)).code).toBe('TENANT_SCOPE_VIOLATION')
    const other = await f.call('GET', `/event-endpoints/${endpoint.id}?infrastructureId=${f.infraB}`, {
      who: 'adminB',
    })
    expect(other.status).toBe(404)

    for (const [body, path, rule] of [
      [{ url: 'ftp://hooks.example.com/' }, 'url', undefined],
      [{ url: 'https://192.168.1.10/in' }, 'url', 'destination_refused'],
      [{ url: 'https://u:p@hooks.example.com/' }, 'url', 'no_userinfo'],
      [{ url: 'https://hooks.example.com:8080/' }, 'url', 'port_not_allowed'],
      [{ url: 'https://hooks.example.com/', eventTypes: [] }, 'eventTypes', 'too_small'],
      [{ url: 'https://hooks.example.com/', eventTypes: ['x'] }, 'eventTypes.0', 'invalid_value'],
      [{ url: 'https://hooks.example.com/', enabled: 'yes' }, 'enabled', 'invalid_type'],
      [{ url: 'https://hooks.example.com/', secret: 'whsec_mine' }, '(input)', 'unrecognized_keys'],
      [{ url: `https://hooks.example.com/${'a'.repeat(3000)}` }, 'url', undefined],
    ] as const) {
      const bad = await f.call('POST', '/event-endpoints', {
        who: 'adminA',
        body: { infrastructureId: f.infraA, ...body },
      })
      expect(bad.status, JSON.stringify(body)).toBe(400)
      const issues = (await problem(bad)).errors as { path: string; rule: string }[]
      expect(
        issues.map((e) => e.path),
        JSON.stringify(body),
      ).toContain(path)
      if (rule) expect(issues.find((e) => e.path === path)?.rule).toBe(rule)
    }
    const badId = await f.call('DELETE', `/event-endpoints/not-an-id?infrastructureId=${f.infraA}`, {
      who: 'adminA',
    })
    expect(badId.status).toBe(400)

    // The typed client: disable, rotate, remove.
    const client = createMessagingClient({
      baseUrl: baseUrl(),
      getToken: () => 'tok-adminA',
      infrastructureId: f.infraA,
    })
    const disabled = await client.updateEventEndpoint({ endpointId: endpoint.id, enabled: false })
    expect(disabled).toMatchObject({ status: 'disabled', enabled: false })
    expect(disabled.createdAt).toBeInstanceOf(Date)
    const rotated = await client.rotateEventEndpointSecret({ endpointId: endpoint.id })
    expect(rotated.secret).not.toBe(secret)
    expect((await client.listEventEndpoints()).map((e) => e.id)).toEqual([endpoint.id])
    await client.deleteEventEndpoint({ endpointId: endpoint.id })
    await expect(client.getEventEndpoint({ endpointId: endpoint.id })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })
    expect(f.errors).toEqual([])
  })
})
