import { randomBytes } from 'node:crypto'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhook } from 'standardwebhooks'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  createMessaging,
  type DeliveryEvent,
  type Messaging,
  type MessagingStorage,
  type Principal,
  TenantScope,
} from '../../src/index.js'
import { createSecretBox, isSealed, sealedKeyId } from '../../src/secrets/index.js'
import { createEventDispatcher } from '../../src/worker/index.js'
import { principal, tenant, uuid } from '../support/fixtures.js'
import { testChannelType, until } from '../support/transports.js'
import type { StorageFactory } from './repository-conformance.js'

interface Received {
  readonly headers: IncomingHttpHeaders
  readonly body: Buffer
  readonly status: number
}

/** A loopback receiver: answers each request by `answer` (default 200); `hold` keeps a request open until released. */
class Receiver {
  readonly received: Received[] = []
  answer: (n: number) => number = () => 200
  /** Said with every failure: a receiver that echoes what it got (the redaction must catch it). */
  echo = ''
  /** Parks the first request to `path` (any path when absent) until `released`. */
  hold: { path?: string; reached: () => void; released: Promise<void> } | null = null
  private server: Server | undefined

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', async () => {
        const hold = this.hold
        if (hold && (hold.path === undefined || hold.path === req.url)) {
          this.hold = null
          hold.reached()
          await hold.released
        }
        const status = this.answer(this.received.length)
        this.received.push({ headers: req.headers, body: Buffer.concat(chunks), status })
        res.writeHead(status).end(status >= 300 ? `refused, key ${this.echo}` : 'ok')
      })
    })
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r))
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/hook`
  }

  /** Events accepted (2xx), each verified with the Standard Webhooks reference verifier. */
  accepted(secret: string): DeliveryEvent[] {
    const verifier = new Webhook(secret)
    return this.received
      .filter((r) => r.status < 300)
      .map((r) => {
        const headers = Object.fromEntries(
          ['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((h) => [h, String(r.headers[h])]),
        )
        const payload = verifier.verify(r.body, headers) as { type: string; data: DeliveryEvent }
        expect(headers['webhook-id']).toBe(payload.data.id)
        expect(payload.type).toBe(payload.data.type)
        return payload.data
      })
  }

  close(): Promise<void> {
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()))
  }
}

/**
 * Status webhook endpoints on every storage adapter (docs/live.md, "Status webhooks"):
 * registration and its rules, the secret (sealed at rest, shown once), the lease and
 * cursor the dispatcher runs on, and delivery to a real receiver on loopback.
 */
export function describeEventEndpointsConformance(name: string, factory: StorageFactory): void {
  describe(`status webhook endpoints conformance: ${name}`, () => {
    let storage: MessagingStorage
    let messaging: Messaging
    const receiver = new Receiver()
    let url: string
    /** Endpoints a test made: removed after it, so a fleet dispatcher of a later test sees only its own. */
    const made: Array<{ admin: Principal; infrastructureId: string; endpointId: string }> = []
    const K1 = randomBytes(32).toString('base64')
    beforeAll(async () => {
      storage = await factory()
      messaging = createMessaging({
        storage,
        channelTypes: [testChannelType],
        secrets: createSecretBox({ keys: { k1: K1 }, activeKeyId: 'k1' }),
        destinations: { allowedRanges: ['127.0.0.0/8'] },
      })
      url = await receiver.start()
    })
    afterEach(async () => {
      for (const { admin, infrastructureId, endpointId } of made.splice(0)) {
        await messaging.deleteEventEndpoint(admin, { infrastructureId, endpointId }).catch((e: unknown) => {
          if ((e as { code?: string }).code !== 'NOT_FOUND') throw e // removed by the test itself
        })
      }
      receiver.received.length = 0
      receiver.answer = () => 200
    })
    afterAll(async () => {
      await receiver.close()
      await storage?.close()
    })

    async function setup() {
      const t = tenant()
      const i = t.infra
      const admin = principal('infra_admin', [[i, null]])
      const service = principal('service', [[i, null]])
      const member = principal('member', [[i, null]])
      const channel = await messaging.createChannel(admin, {
        infrastructureId: i,
        channelKey: 'test',
        type: 'test',
        config: { token: 'tok-5d1e0b' },
      })
      const create = async (over: { url?: string; eventTypes?: DeliveryEvent['type'][] } = {}) => {
        const r = await messaging.createEventEndpoint(admin, { infrastructureId: i, url, ...over })
        made.push({ admin, infrastructureId: i, endpointId: r.endpoint.id })
        return r
      }
      /** One `message.cancelled` event per call: a message enqueued and cancelled at once. */
      const event = async () => {
        const { message } = await messaging.enqueue(admin, {
          infrastructureId: i,
          channelId: channel.id,
          payload: { n: 1 },
        })
        await messaging.cancel(admin, { infrastructureId: i, messageId: message.id })
        return message.id
      }
      const get = (endpointId: string) =>
        messaging.getEventEndpoint(admin, { infrastructureId: i, endpointId })
      return { i, admin, service, member, create, event, get }
    }

    it('registers an endpoint for an admin, with its signing secret shown once, sealed at rest and in no read', async () => {
      const s = await setup()
      await s.event() // before the endpoint: never sent
      const { endpoint, secret } = await s.create({ eventTypes: ['message.dead', 'message.cancelled'] })
      expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/)
      expect(endpoint).toMatchObject({
        infrastructureId: s.i,
        url,
        eventTypes: ['message.dead', 'message.cancelled'],
        enabled: true,
        status: 'active',
        attempts: 0,
        lastError: null,
        failingSince: null,
      })
      // It starts after the newest event: the one written before it is behind its cursor.
      const events = await messaging.listEvents(s.admin, { infrastructureId: s.i })
      expect(endpoint.cursor).toBe(events.at(-1)!.cursor)
      expect(endpoint).not.toHaveProperty('secret')

      const reads = [
        await messaging.listEventEndpoints(s.admin, { infrastructureId: s.i }),
        await s.get(endpoint.id),
        await messaging.updateEventEndpoint(s.admin, {
          infrastructureId: s.i,
          endpointId: endpoint.id,
          eventTypes: null,
        }),
      ]
      const raw = secret.slice('whsec_'.length)
      for (const r of reads) expect(JSON.stringify(r)).not.toContain(raw)
      expect(reads[0]).toEqual([
        expect.objectContaining({ id: endpoint.id, eventTypes: ['message.dead', 'message.cancelled'] }),
      ])
      expect(reads[2]).toMatchObject({ eventTypes: null })

      // At rest: sealed, bound to the tenant and the endpoint.
      const stored = await storage.unitOfWork.run(TenantScope.of(s.admin), (r) =>
        r.eventEndpoints.get(TenantScope.of(s.admin), s.i, endpoint.id),
      )
      expect(isSealed(stored!.secret)).toBe(true)
      expect(stored!.secret).not.toContain(raw)

      // A rotation returns a new secret, once.
      const rotated = await messaging.rotateEventEndpointSecret(s.admin, {
        infrastructureId: s.i,
        endpointId: endpoint.id,
      })
      expect(rotated.secret).not.toBe(secret)
      expect(JSON.stringify(await s.get(endpoint.id))).not.toContain(rotated.secret.slice(6))
    })

    it('a key rotation reseals the signing secrets, which then open under the new key alone', async () => {
      const s = await setup()
      const { endpoint, secret } = await s.create()
      await s.event()
      const K2 = randomBytes(32).toString('base64')
      const rotating = createMessaging({
        storage,
        channelTypes: [testChannelType],
        secrets: createSecretBox({ keys: { k2: K2, k1: K1 }, activeKeyId: 'k2' }),
      })
      // The tenant's channel (its token) and its endpoint.
      expect(await rotating.resealSecrets(s.admin, { infrastructureId: s.i })).toEqual({ resealed: 2 })
      const stored = await storage.unitOfWork.run(TenantScope.of(s.admin), (r) =>
        r.eventEndpoints.get(TenantScope.of(s.admin), s.i, endpoint.id),
      )
      expect(sealedKeyId(stored!.secret)).toBe('k2')
      const after = createMessaging({
        storage,
        channelTypes: [testChannelType],
        secrets: createSecretBox({ keys: { k2: K2 }, activeKeyId: 'k2' }),
      })
      const [held] = await after
        .eventDispatchPort({ principal: s.service })
        .lease({ limit: 10, leaseMs: 60_000, token: uuid() })
      expect(held).toMatchObject({ id: endpoint.id, secret, secretError: null })
      await after.eventDispatchPort({ principal: s.service }).release(held!.lease, null)
    })

    it('refuses services, members and other tenants, and finds no endpoint of another tenant', async () => {
      const s = await setup()
      const other = await setup()
      const { endpoint } = await s.create()
      const input = { infrastructureId: s.i, url }
      for (const p of [s.service, s.member]) {
        await expect(messaging.createEventEndpoint(p, input)).rejects.toMatchObject({
          code: 'FORBIDDEN_ROLE',
        })
        await expect(messaging.listEventEndpoints(p, { infrastructureId: s.i })).rejects.toMatchObject({
          code: 'FORBIDDEN_ROLE',
        })
        await expect(
          messaging.deleteEventEndpoint(p, { infrastructureId: s.i, endpointId: endpoint.id }),
        ).rejects.toMatchObject({ code: 'FORBIDDEN_ROLE' })
      }
      await expect(messaging.createEventEndpoint(other.admin, input)).rejects.toMatchObject({
        code: 'TENANT_SCOPE_VIOLATION',
      })
      // Another tenant's admin naming the endpoint under its own tenant finds nothing.
      const ref = { infrastructureId: other.i, endpointId: endpoint.id }
      await expect(messaging.getEventEndpoint(other.admin, ref)).rejects.toMatchObject({ code: 'NOT_FOUND' })
      await expect(
        messaging.updateEventEndpoint(other.admin, { ...ref, enabled: false }),
      ).rejects.toMatchObject({
        code: 'NOT_FOUND',
      })
      await expect(messaging.deleteEventEndpoint(other.admin, ref)).rejects.toMatchObject({
        code: 'NOT_FOUND',
      })
      expect(await messaging.listEventEndpoints(other.admin, { infrastructureId: other.i })).toEqual([])
      // A service of the other tenant leases nothing of this one.
      const lease = await messaging
        .eventDispatchPort({ principal: other.service })
        .lease({ limit: 100, leaseMs: 60_000, token: uuid() })
      expect(lease.map((e) => e.id)).not.toContain(endpoint.id)
      expect((await s.get(endpoint.id)).status).toBe('active')

      await messaging.deleteEventEndpoint(s.admin, { infrastructureId: s.i, endpointId: endpoint.id })
      await expect(s.get(endpoint.id)).rejects.toMatchObject({ code: 'NOT_FOUND' })
    })

    it('leases an endpoint to one holder at a time, fences its writes by the token and counts failures', async () => {
      const s = await setup()
      const { endpoint, secret } = await s.create()
      const port = messaging.eventDispatchPort({ principal: s.service })
      // Nothing after its cursor: nothing to lease.
      expect(await port.lease({ limit: 10, leaseMs: 60_000, token: uuid() })).toEqual([])
      await s.event()
      const token = uuid()
      const [held, ...rest] = await port.lease({ limit: 10, leaseMs: 60_000, token })
      expect(rest).toEqual([])
      expect(held).toMatchObject({ id: endpoint.id, secret, lease: { token } })
      // Live lease: nobody else gets it, and a write with another token changes nothing.
      expect(await port.lease({ limit: 10, leaseMs: 60_000, token: uuid() })).toEqual([])
      const stranger = { ...held!.lease, token: uuid() }
      expect(await port.advance(stranger, '0.999', 60_000)).toBe(false)
      expect(await port.release(stranger, null)).toBe(false)

      const failure = { error: 'HTTP 503: busy', retryInMs: 3_600_000, disable: false }
      expect(await port.release(held!.lease, failure)).toBe(true)
      expect(await port.release(held!.lease, failure)).toBe(false) // given back: the token is spent
      const failing = await s.get(endpoint.id)
      expect(failing).toMatchObject({ status: 'failing', attempts: 1, lastError: 'HTTP 503: busy' })
      expect(failing.failingSince).toBeInstanceOf(Date)
      expect(failing.nextAttemptAt.getTime()).toBeGreaterThan(failing.failingSince!.getTime())
      // Not due for an hour: not leased.
      expect(await port.lease({ limit: 10, leaseMs: 60_000, token: uuid() })).toEqual([])

      // An admin enabling it starts over now; an accepted event ends the failure run.
      await messaging.updateEventEndpoint(s.admin, {
        infrastructureId: s.i,
        endpointId: endpoint.id,
        enabled: true,
      })
      const [again] = await port.lease({ limit: 10, leaseMs: 60_000, token: uuid() })
      expect(again).toMatchObject({ id: endpoint.id, attempts: 0 })
      expect(await port.release(again!.lease, { ...failure, retryInMs: 0 })).toBe(true)
      const [third] = await port.lease({ limit: 10, leaseMs: 60_000, token: uuid() })
      expect(third!.attempts).toBe(1)
      expect(await port.advance(third!.lease, '0.0', 60_000)).toBe(true)
      expect(await s.get(endpoint.id)).toMatchObject({
        cursor: '0.0',
        attempts: 0,
        lastError: null,
        failingSince: null,
        status: 'active',
      })
      // The last failure in a run disables it.
      expect(await port.release(third!.lease, { ...failure, disable: true })).toBe(true)
      expect(await s.get(endpoint.id)).toMatchObject({ status: 'disabled', enabled: false, attempts: 1 })
      expect(await port.lease({ limit: 10, leaseMs: 60_000, token: uuid() })).toEqual([])

      // A lease that ran out is free for the next holder.
      await messaging.updateEventEndpoint(s.admin, {
        infrastructureId: s.i,
        endpointId: endpoint.id,
        enabled: true,
      })
      expect(await port.lease({ limit: 10, leaseMs: 1, token: uuid() })).toHaveLength(1)
      let next: Awaited<ReturnType<typeof port.lease>> = []
      await until(async () => {
        next = await port.lease({ limit: 10, leaseMs: 60_000, token: uuid() })
        return next.length === 1
      })
      expect(await port.release(next[0]!.lease, null)).toBe(true)
    })

    it('delivers each event signed per Standard Webhooks, retried after two 500s, accepted once, in order, and nothing of another tenant', async () => {
      const a = await setup()
      const b = await setup()
      const { endpoint, secret } = await a.create()
      receiver.echo = secret
      receiver.answer = (n) => (n < 2 ? 500 : 200)
      const ids = [await a.event(), await b.event(), await a.event(), await a.event(), await b.event()]
      const dispatcher = createEventDispatcher({
        messaging,
        fleet: true,
        allowHttp: true,
        retry: { baseMs: 1, maxMs: 1 },
      })
      // First round: refused, the failure shows on the endpoint (the echoed secret redacted).
      await dispatcher.round()
      const failing = await a.get(endpoint.id)
      expect(failing).toMatchObject({ status: 'failing', attempts: 1, cursor: endpoint.cursor })
      expect(failing.lastError).toMatch(/^HTTP 500: refused, key \[redacted\]/)
      expect(JSON.stringify(failing)).not.toContain(secret.slice(6))

      await until(async () => {
        await dispatcher.round()
        return receiver.accepted(secret).length >= 3
      })
      expect(await dispatcher.round()).toBe(0) // nothing left
      const accepted = receiver.accepted(secret)
      expect(accepted.map((e) => e.messageId)).toEqual([ids[0], ids[2], ids[3]])
      expect(new Set(accepted.map((e) => e.infrastructureId))).toEqual(new Set([a.i]))
      // Two refusals and a retry of the same event first (same webhook-id), then the rest.
      expect(receiver.received.map((r) => r.status)).toEqual([500, 500, 200, 200, 200])
      expect(receiver.received.slice(0, 3).map((r) => r.headers['webhook-id'])).toEqual(
        Array(3).fill(accepted[0]!.id),
      )
      const events = await messaging.listEvents(a.admin, {
        infrastructureId: a.i,
        ...(endpoint.cursor !== null && { after: endpoint.cursor }),
      })
      expect(accepted.map((e) => e.cursor)).toEqual(events.map((e) => e.cursor))
      expect(await a.get(endpoint.id)).toMatchObject({
        status: 'active',
        cursor: events.at(-1)!.cursor,
        attempts: 0,
        lastError: null,
        failingSince: null,
      })
    })

    it('sends only the endpoint types, and moves past the others', async () => {
      const s = await setup()
      const { endpoint, secret } = await s.create({ eventTypes: ['message.dead'] })
      await s.event()
      const dispatcher = createEventDispatcher({ messaging, principal: s.service, allowHttp: true })
      await dispatcher.round()
      expect(receiver.accepted(secret)).toEqual([])
      const events = await messaging.listEvents(s.admin, { infrastructureId: s.i })
      expect((await s.get(endpoint.id)).cursor).toBe(events.at(-1)!.cursor)
    })

    it('a dispatcher whose key does not open the secret sends nothing and holds the endpoint without counting a failure', async () => {
      const s = await setup()
      const { endpoint } = await s.create()
      await s.event()
      const keyless = createMessaging({
        storage,
        channelTypes: [testChannelType],
        secrets: createSecretBox({ keys: { k1: randomBytes(32).toString('base64') }, activeKeyId: 'k1' }),
        destinations: { allowedRanges: ['127.0.0.0/8'] },
      })
      const dispatcher = createEventDispatcher({ messaging: keyless, principal: s.service, allowHttp: true })
      expect(await dispatcher.round()).toBe(0)
      expect(receiver.received).toEqual([])
      const held = await s.get(endpoint.id)
      expect(held).toMatchObject({
        status: 'active',
        attempts: 0,
        failingSince: null,
        cursor: endpoint.cursor,
      })
      expect(held.lastError).toMatch(/^signing secret unavailable here: .*does not open/)
      expect(held.nextAttemptAt.getTime()).toBeGreaterThan(held.updatedAt.getTime())
    })

    it('two dispatchers racing one endpoint send each event once', async () => {
      const s = await setup()
      const { secret } = await s.create()
      for (let k = 0; k < 3; k++) await s.event()
      const one = createEventDispatcher({ messaging, fleet: true, allowHttp: true })
      const two = createEventDispatcher({ messaging, fleet: true, allowHttp: true })
      let reached!: () => void
      let release!: () => void
      const atReceiver = new Promise<void>((r) => (reached = r))
      receiver.hold = { reached, released: new Promise<void>((r) => (release = r)) }
      // One holds the endpoint, its first request parked at the receiver; the other's round finds nothing to lease.
      const first = one.round()
      await atReceiver
      expect(await two.round()).toBe(0)
      release()
      expect(await first).toBe(3)
      expect(await two.round()).toBe(0)
      expect(await one.round()).toBe(0)
      const accepted = receiver.accepted(secret)
      expect(accepted).toHaveLength(3)
      expect(new Set(accepted.map((e) => e.id)).size).toBe(3)
    })

    it('a started dispatcher sends to one endpoint while the receiver of another keeps its request waiting', async () => {
      const a = await setup()
      const b = await setup()
      const slow = await a.create({ url: `${url}?slow` })
      const quick = await b.create()
      let reached!: () => void
      let release!: () => void
      const atReceiver = new Promise<void>((r) => (reached = r))
      receiver.hold = { path: '/hook?slow', reached, released: new Promise<void>((r) => (release = r)) }
      const both = principal('service', [
        [a.i, null],
        [b.i, null],
      ])
      const dispatcher = createEventDispatcher({
        messaging,
        principal: both,
        allowHttp: true,
        pollIntervalMs: 20,
      })
      dispatcher.start()
      try {
        await a.event()
        await atReceiver
        const id = await b.event()
        await until(() => receiver.accepted(quick.secret).some((e) => e.messageId === id))
        expect(receiver.accepted(quick.secret)).toHaveLength(1) // A's is still parked
      } finally {
        release()
        await dispatcher.stop()
      }
      expect((await a.get(slow.endpoint.id)).attempts).toBe(0)
    })

    it('a started dispatcher delivers new events by itself and stops on request', async () => {
      const s = await setup()
      const { secret } = await s.create()
      const dispatcher = createEventDispatcher({
        messaging,
        principal: s.service,
        allowHttp: true,
        pollIntervalMs: 20,
      })
      dispatcher.start()
      try {
        const id = await s.event()
        await until(() => receiver.accepted(secret).some((e) => e.messageId === id))
      } finally {
        await dispatcher.stop()
      }
    })
  })
}
