import type { AddressInfo } from 'node:net'
import { Agent, fetch as undiciFetch } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMemoryStorage } from '../../../src/adapters/memory/index.js'
import { createInAppTransport } from '../../../src/adapters/transports/in-app/index.js'
import type { FetchHandler } from '../../../src/http/index.js'
import { createDeliveryWorker } from '../../../src/worker/index.js'
import { readSse, waitUntil } from '../../support/sse.js'
import { BASE, type Fixture, fixture } from '../support.js'

export interface Booted {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string
  close(): Promise<void>
}

/** The origin of a Node server listening on loopback. */
export function originOf(address: AddressInfo | string | null): string {
  if (address === null || typeof address === 'string') throw new Error('not listening on TCP')
  return `http://127.0.0.1:${address.port}`
}

/**
 * The cases every mount passes over real HTTP: success, validation failure, wrong tenant,
 * wrong role, plus the body cap and a host route that keeps working beside the mount.
 * `boot` starts the framework's app on 127.0.0.1, port 0, with the handler mounted and a
 * host route `GET /host/ping` answering `{ pong: true }` (after the host's JSON parser).
 */
export function describeMount(name: string, boot: (f: Fixture, handler: FetchHandler) => Promise<Booted>) {
  describe(`${name} mount, over HTTP on loopback`, () => {
    const storage = createMemoryStorage()
    const f = fixture({ maxBodyBytes: 16 * 1024 }, { storage })
    let app: Booted
    let channelId: string
    const call = (method: string, path: string, who: string | null, body?: unknown, raw?: string) =>
      fetch(`${app.origin}${BASE}${path}`, {
        method,
        headers: {
          ...(who && { authorization: `Bearer tok-${who}` }),
          ...((body !== undefined || raw !== undefined) && { 'content-type': 'application/json' }),
        },
        ...(body !== undefined && { body: JSON.stringify(body) }),
        ...(raw !== undefined && { body: raw }),
      })

    beforeAll(async () => {
      app = await boot(f, f.handler)
      channelId = (await f.seed()).channelId
    })
    afterAll(() => app?.close())

    it('succeeds: creates a channel, enqueues, lists', async () => {
      const created = await call('POST', '/channel', 'adminA', {
        infrastructureId: f.infraA,
        channelKey: 'mounted',
        type: 'in_app',
      })
      expect(created.status).toBe(201)
      const queued = await call('POST', '/queue', 'memberA', {
        infrastructureId: f.infraA,
        channelId,
        payload: { text: 'hello' },
      })
      expect(queued.status).toBe(201)
      expect(await queued.json()).toMatchObject({
        created: true,
        message: { channelId, payload: { text: 'hello' } },
      })
      const listed = await call('GET', `/channels?infrastructureId=${f.infraA}`, 'memberA')
      expect(listed.status).toBe(200)
      expect(
        ((await listed.json()) as Array<{ channelKey: string }>).map((c) => c.channelKey).sort(),
      ).toEqual(['mounted', 'ops'])
      const members = await call(
        'GET',
        `/channels/${channelId}/members?infrastructureId=${f.infraA}`,
        'memberA',
      )
      expect(await members.json()).toEqual([expect.objectContaining({ userId: f.principals.memberA.userId })])
    })

    it('fails validation with 400 problems (field paths; malformed JSON too) and writes nothing', async () => {
      const before = await f.snapshot()
      const invalid = await call('POST', '/queue', 'memberA', { infrastructureId: f.infraA, payload: 1 })
      expect(invalid.status).toBe(400)
      expect(invalid.headers.get('content-type')).toBe('application/problem+json')
      expect(await invalid.json()).toMatchObject({
        code: 'VALIDATION_FAILED',
        errors: [{ path: 'channelId', rule: 'exactly_one_channel_ref' }],
      })
      const malformed = await call('POST', '/queue', 'memberA', undefined, '{"infrastructureId": ')
      expect(malformed.status).toBe(400)
      expect(await malformed.json()).toMatchObject({ errors: [{ rule: 'malformed_json' }] })
      expect(await f.snapshot()).toEqual(before)
    })

    it('refuses another tenant with 403 TENANT_SCOPE_VIOLATION', async () => {
      const res = await call('GET', `/channels?infrastructureId=${f.infraA}`, 'adminB')
      expect(res.status).toBe(403)
      expect(await res.json()).toMatchObject({ code: 'TENANT_SCOPE_VIOLATION' })
      const write = await call('POST', '/queue', 'adminB', {
        infrastructureId: f.infraA,
        channelId,
        payload: 1,
      })
      expect(write.status).toBe(403)
    })

    it('refuses the wrong role with 403 FORBIDDEN_ROLE', async () => {
      const res = await call('POST', '/channel', 'memberA', {
        infrastructureId: f.infraA,
        channelKey: 'not-mine',
        type: 'in_app',
      })
      expect(res.status).toBe(403)
      expect(await res.json()).toMatchObject({ code: 'FORBIDDEN_ROLE', action: 'channel.create' })
    })

    it('answers 401 without a token and 413 for a body over the cap, on a connection that survives', async () => {
      expect((await call('GET', `/channels?infrastructureId=${f.infraA}`, null)).status).toBe(401)
      const big = await call(
        'POST',
        '/queue',
        'memberA',
        undefined,
        JSON.stringify({ payload: 'x'.repeat(200_000) }),
      )
      expect(big.status).toBe(413)
      expect(await big.json()).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' })
    })

    it("leaves the host's own routes working", async () => {
      const res = await fetch(`${app.origin}/host/ping`)
      expect(res.status).toBe(200)
      expect(await res.json()).toMatchObject({ pong: true })
    })

    it('streams the live inbox as it comes, without buffering, and lets go when the client leaves', async () => {
      // A connection of its own: not one the earlier cases left in the shared pool.
      const own = new Agent({ pipelining: 0 })
      const res = await undiciFetch(`${app.origin}${BASE}/inbox/stream?infrastructureId=${f.infraA}`, {
        headers: { authorization: 'Bearer tok-memberA' },
        dispatcher: own,
      })
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
      const sse = readSse(res as unknown as Response)
      await sse.waitFor((e) => e.event === 'unread')
      // The entry is written after the response started: only a body passed on as it comes shows it.
      const { message } = await f.messaging.enqueue(f.principals.adminA, {
        infrastructureId: f.infraA,
        channelId,
        payload: { title: 'streamed' },
        recipients: [f.principals.memberA.userId],
      })
      await createDeliveryWorker({
        messaging: f.messaging,
        principal: f.principals.serviceA,
        transports: [createInAppTransport({ messaging: f.messaging })],
      }).drain()
      const entry = await sse.waitFor((e) => e.event === 'entry' && e.data.includes(message.id))
      expect(JSON.parse(entry.data)).toMatchObject({ messageId: message.id, payload: { title: 'streamed' } })
      await sse.close()
      const feed = storage.inboxFeed!
      await waitUntil(() => feed.listeners === 0, 'the stream stops listening once the client left')
      await own.close()
    })
  })
}
