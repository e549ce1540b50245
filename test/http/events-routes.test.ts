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
