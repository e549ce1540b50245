import { hostname } from 'node:os'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createMessaging,
  type MessagingStorage,
  type Principal,
  TenantScope,
  type Transport,
} from '../../src/index.js'
import { createDeliveryWorker, type DeliveryWorkerOptions } from '../../src/worker/index.js'
import { enqueueCommand, principal, tenant, uuid } from '../support/fixtures.js'
import { type Behaviour, scriptedTransport, testChannelType, until } from '../support/transports.js'
import type { StorageFactory } from './repository-conformance.js'

const SECRET = 'tok_live_9f8e7d6c5b4a'

/**
 * The delivery worker, end to end, on every storage adapter: leases, fenced acks, retries
 * with dead letters, redrive, fairness, shutdown, scheduling and retention.
 */
export function describeDeliveryConformance(name: string, factory: StorageFactory): void {
  describe(`delivery conformance: ${name}`, () => {
    let storage: MessagingStorage
    beforeAll(async () => {
      storage = await factory()
    })
    afterAll(async () => {
      await storage?.close()
    })

    /** A tenant with one `test` channel, its admin, a producer and a worker principal. */
    async function setup(
      opts: { maxAttempts?: number; config?: Record<string, unknown>; tenants?: number } = {},
    ) {
      const messaging = createMessaging({ storage, channelTypes: [testChannelType] })
      const tenants = Array.from({ length: opts.tenants ?? 1 }, () => tenant())
      const grants = tenants.map((t) => [t.infra, null] as [string, null])
      const admin = principal('infra_admin', grants)
      const producer = principal('member', grants)
      const service = principal('service', grants)
      const channels: string[] = []
      for (const t of tenants) {
        const c = await messaging.createChannel(admin, {
          infrastructureId: t.infra,
          channelKey: 'test',
          type: 'test',
          config: opts.config ?? { token: SECRET },
          maxAttempts: opts.maxAttempts ?? 3,
        })
        channels.push(c.id)
      }
      const enqueue = (
        k: number,
        behaviour: Behaviour = { do: 'deliver' },
        extra: { availableAt?: Date } = {},
      ) =>
        messaging
          .enqueue(producer, {
            infrastructureId: tenants[k]!.infra,
            channelId: channels[k]!,
            payload: { behaviour },
            ...extra,
          })
          .then((r) => r.message)
      const transport = scriptedTransport()
      const worker = (o: Partial<DeliveryWorkerOptions> = {}) =>
        createDeliveryWorker({
          messaging,
          principal: service,
          transports: [transport],
          pollIntervalMs: 20,
          retry: { baseMs: 10, maxMs: 40 },
          random: () => 1,
          ...o,
        })
      const get = (k: number, id: string) =>
        messaging.getMessage(admin, { infrastructureId: tenants[k]!.infra, messageId: id })
      return { messaging, tenants, admin, producer, service, channels, enqueue, transport, worker, get }
    }

    it('delivers every message once, records the attempt, and hands the message id over as idempotency key', async () => {
      const s = await setup()
      const ids = await Promise.all(Array.from({ length: 25 }, () => s.enqueue(0).then((m) => m.id)))
      const w = s.worker({ concurrency: 4 })
      expect(await w.drain()).toBe(25)
      expect([...s.transport.delivered.keys()].sort()).toEqual([...ids].sort())
      expect([...s.transport.delivered.values()].every((n) => n === 1)).toBe(true)
      expect(s.transport.calls.every((c) => c.idempotencyKey === c.id && c.attempt === 1)).toBe(true)
      const m = await s.get(0, ids[0]!)
      expect(m).toMatchObject({ status: 'processed', attempts: 1, lastError: null })
      const attempts = await s.messaging.listAttempts(s.admin, {
        infrastructureId: s.tenants[0]!.infra,
        messageId: ids[0]!,
      })
      expect(attempts).toMatchObject([
        { attempt: 1, outcome: 'delivered', errorCode: null, providerMessageId: `p-${ids[0]}` },
      ])
      expect(attempts[0]!.durationMs).toBeGreaterThanOrEqual(0)
      expect(await s.messaging.stats(s.admin, { infrastructureId: s.tenants[0]!.infra })).toEqual([
        {
          infrastructureId: s.tenants[0]!.infra,
          channelId: s.channels[0],
          pending: 0,
          inFlight: 0,
          processed: 25,
          failed: 0,
          dead: 0,
          cancelled: 0,
          confirmed: 0,
          bounced: 0,
          oldestPendingAgeMs: null,
          digested: 0,
        },
      ])
    })

    it('names the worker and its host in every attempt and in the events that report one; a host ack names none', async () => {
      const s = await setup()
      const m = await s.enqueue(0, { do: 'retry', times: 1 })
      const w = s.worker({ workerHost: 'worker-7.eu-west.example' })
      expect(w.workerHost).toBe('worker-7.eu-west.example')
      const reported: (string | null | undefined)[] = []
      w.events.on('retried', (_m, a) => reported.push(a.workerHost))
      w.events.on('delivered', (_m, a) => reported.push(a.workerHost))
      await until(async () => {
        await w.drain()
        return (await s.get(0, m.id)).status === 'processed'
      })
      const ref = { infrastructureId: m.infrastructureId, messageId: m.id }
      expect(await s.messaging.listAttempts(s.admin, ref)).toMatchObject([
        { attempt: 1, outcome: 'retryable', workerId: w.workerId, workerHost: 'worker-7.eu-west.example' },
        { attempt: 2, outcome: 'delivered', workerId: w.workerId, workerHost: 'worker-7.eu-west.example' },
      ])
      expect(reported).toEqual(['worker-7.eu-west.example', 'worker-7.eu-west.example'])
      // By default the machine's own host name.
      expect(s.worker().workerHost).toBe(hostname())
      // A host's ack over the facade (or HTTP) has no worker host.
      const other = await s.enqueue(0)
      const [held] = await s.messaging.claim(s.service, { infrastructureId: s.tenants[0]!.infra })
      await s.messaging.ack(s.service, {
        infrastructureId: other.infrastructureId,
        messageId: other.id,
        leaseToken: held!.leaseToken,
        outcome: 'processed',
      })
      expect(
        await s.messaging.listAttempts(s.admin, {
          infrastructureId: other.infrastructureId,
          messageId: other.id,
        }),
      ).toMatchObject([{ outcome: 'delivered', workerHost: null }])
    })

    it('coalesces completions and channel lookups, and still reports every message on its own', async () => {
      const s = await setup({ tenants: 2 })
      const ids = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          s.enqueue(i % 2, i % 5 === 0 ? { do: 'permanent' } : { do: 'deliver' }),
        ),
      ).then((ms) => ms.map((m) => m.id))
      const port = s.messaging.deliveryPort({ principal: s.service })
      const acks: number[] = []
      const lookups: string[] = []
      const counted = {
        ...port,
        settle: (items: Parameters<typeof port.settle>[0]) => {
          acks.push(items.length)
          return port.settle(items)
        },
        openChannel: (infrastructureId: string, channelId: string) => {
          lookups.push(channelId)
          return port.openChannel(infrastructureId, channelId)
        },
      }
      const w = s.worker({ principal: undefined, delivery: counted, concurrency: 20 })
      const seen = { delivered: 0, failed: 0 }
      w.events.on('delivered', () => seen.delivered++)
      w.events.on('failed', () => seen.failed++)
      expect(await w.drain()).toBe(40)
      expect(seen).toEqual({ delivered: 32, failed: 8 })
      // 40 acks in fewer units of work, every message acked exactly once.
      expect(acks.reduce((a, b) => a + b, 0)).toBe(40)
      expect(acks.length).toBeLessThan(40)
      // One lookup per channel while the cached one is fresh.
      expect(lookups.length).toBeLessThanOrEqual(4)
      expect(new Set(lookups)).toEqual(new Set(s.channels))
      for (const [k, id] of ids.entries()) {
        const m = await s.get(k % 2, id)
        expect(m.status).toBe(k % 5 === 0 ? 'failed' : 'processed')
        const attempts = await s.messaging.listAttempts(s.admin, {
          infrastructureId: s.tenants[k % 2]!.infra,
          messageId: id,
        })
        expect(attempts).toHaveLength(1)
      }
    })

    it("audits every settle through the one settle path: a worker's batches name each message, a host's ack its own", async () => {
      const s = await setup({ tenants: 2 })
      const ids = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          s.enqueue(i % 2, i % 4 === 0 ? { do: 'permanent' } : { do: 'deliver' }),
        ),
      ).then((ms) => ms.map((m) => m.id))
      const w = s.worker({ concurrency: 6 })
      expect(await w.drain()).toBe(12)
      for (const k of [0, 1]) {
        const infrastructureId = s.tenants[k]!.infra
        const entries = await s.messaging.listAudit(s.admin, { infrastructureId, action: 'outbox.ack' })
        expect(entries.every((e) => e.actorId === s.service.userId && e.outcome === 'ok')).toBe(true)
        const named = entries.flatMap(
          (e) => (e.details as { messages: { id: string; attempt: number; status: string }[] }).messages,
        )
        const mine = ids.filter((_, i) => i % 2 === k)
        expect(named.map((n) => n.id).sort()).toEqual([...mine].sort())
        for (const n of named) {
          const i = ids.indexOf(n.id)
          expect(n).toEqual({ id: n.id, attempt: 1, status: i % 4 === 0 ? 'failed' : 'processed' })
        }
      }
      // A host that claims and acks by itself goes through the same path: attempt and audit entry.
      const m = await s.enqueue(0)
      const [held] = await s.messaging.claim(s.service, { infrastructureId: s.tenants[0]!.infra })
      expect(held!.id).toBe(m.id)
      await s.messaging.ack(s.service, {
        infrastructureId: m.infrastructureId,
        messageId: m.id,
        leaseToken: held!.leaseToken,
        outcome: 'failed',
        reason: 'mailbox full',
        retryAfterMs: 0,
      })
      expect(
        await s.messaging.listAttempts(s.admin, { infrastructureId: m.infrastructureId, messageId: m.id }),
      ).toMatchObject([
        { attempt: 1, outcome: 'retryable', error: 'mailbox full', workerId: s.service.userId },
      ])
      const [latest] = await s.messaging.listAudit(s.admin, {
        infrastructureId: m.infrastructureId,
        action: 'outbox.ack',
      })
      expect(latest).toMatchObject({
        targetId: m.id,
        details: { messages: [{ id: m.id, attempt: 1, status: 'pending' }] },
      })
    })

    it('retries with backoff until the last attempt, then the message is dead with its last error, secrets redacted', async () => {
      const s = await setup({ maxAttempts: 3 })
      const m = await s.enqueue(0, { do: 'retry' })
      const recovers = await s.enqueue(0, { do: 'retry', times: 1 })
      const w = s.worker()
      const stop = new AbortController()
      const running = w.run(stop.signal)
      await until(async () => (await s.get(0, m.id)).status === 'dead')
      await until(async () => (await s.get(0, recovers.id)).status === 'processed')
      stop.abort()
      await running
      const dead = await s.get(0, m.id)
      expect(dead).toMatchObject({ status: 'dead', attempts: 3 })
      expect(dead.lastError).toContain('provider busy')
      expect(dead.lastError).not.toContain(SECRET)
      const attempts = await s.messaging.listAttempts(s.admin, {
        infrastructureId: s.tenants[0]!.infra,
        messageId: m.id,
      })
      expect(attempts.map((a) => [a.attempt, a.outcome, a.errorCode])).toEqual([
        [1, 'retryable', 'http_503'],
        [2, 'retryable', 'http_503'],
        [3, 'retryable', 'http_503'],
      ])
      expect(JSON.stringify(attempts)).not.toContain(SECRET)
      // Backoff: each retry waited (full jitter pinned to its cap: 10 ms, then 20 ms).
      const calls = s.transport.calls.filter((c) => c.id === m.id)
      expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(9)
      expect(calls[2]!.at - calls[1]!.at).toBeGreaterThanOrEqual(19)
      const dl = await s.messaging.listDeadLetters(s.admin, { infrastructureId: s.tenants[0]!.infra })
      expect(dl.map((x) => x.id)).toEqual([m.id])
      expect((await s.get(0, recovers.id)).attempts).toBe(2)
    })

    it('honours a provider Retry-After as the floor of the backoff', async () => {
      const s = await setup({ maxAttempts: 2 })
      const m = await s.enqueue(0, { do: 'retry', times: 1, retryAfterMs: 300 })
      const w = s.worker()
      const stop = new AbortController()
      const running = w.run(stop.signal)
      await until(async () => (await s.get(0, m.id)).status === 'processed')
      stop.abort()
      await running
      const calls = s.transport.calls.filter((c) => c.id === m.id)
      expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(290)
    })

    it('fails a message at once on a permanent error, and treats throws, nonsense and hangs as retryable', async () => {
      const s = await setup({ maxAttempts: 1 })
      const permanent = await s.enqueue(0, { do: 'permanent' })
      const threw = await s.enqueue(0, { do: 'throw' })
      const nonsense = await s.enqueue(0, { do: 'nonsense' })
      const hangs = await s.enqueue(0, { do: 'hang' })
      const w = s.worker({ attemptTimeoutMs: 200 })
      await w.drain()
      expect(await s.get(0, permanent.id)).toMatchObject({
        status: 'failed',
        attempts: 1,
        lastError: 'bad recipient',
      })
      const codes = async (id: string) =>
        (
          await s.messaging.listAttempts(s.admin, { infrastructureId: s.tenants[0]!.infra, messageId: id })
        ).map((a) => [a.outcome, a.errorCode])
      expect(await codes(threw.id)).toEqual([['retryable', 'transport_threw']])
      expect(await codes(nonsense.id)).toEqual([['retryable', 'invalid_outcome']])
      expect(await codes(hangs.id)).toEqual([['retryable', 'timeout']])
      // One attempt allowed: each retryable failure made the message dead.
      for (const m of [threw, nonsense, hangs]) expect((await s.get(0, m.id)).status).toBe('dead')
    })

    it('redrives one dead message, or all of a channel, and the worker delivers them; redrives are audited', async () => {
      const s = await setup({ maxAttempts: 1 })
      const a = await s.enqueue(0, { do: 'retry', times: 1 })
      const b = await s.enqueue(0, { do: 'retry', times: 1 })
      const c = await s.enqueue(0, { do: 'retry', times: 1 })
      const w = s.worker()
      await w.drain()
      for (const m of [a, b, c]) expect((await s.get(0, m.id)).status).toBe('dead')
      const infrastructureId = s.tenants[0]!.infra
      await expect(
        s.messaging.redrive(s.producer, { infrastructureId, messageId: a.id }),
      ).rejects.toMatchObject({
        code: 'FORBIDDEN_ROLE',
      })
      const again = await s.messaging.redrive(s.admin, { infrastructureId, messageId: a.id })
      expect(again).toMatchObject({
        status: 'pending',
        attempts: 0,
        lastError: 'provider busy (token [redacted])',
      })
      await expect(s.messaging.redrive(s.admin, { infrastructureId, messageId: a.id })).rejects.toMatchObject(
        {
          code: 'ILLEGAL_TRANSITION',
        },
      )
      expect(
        await s.messaging.redriveChannel(s.admin, { infrastructureId, channelId: s.channels[0]! }),
      ).toEqual({
        redriven: 2,
      })
      await w.drain()
      for (const m of [a, b, c]) expect((await s.get(0, m.id)).status).toBe('processed')
      const audit = await s.messaging.listAudit(s.admin, { infrastructureId })
      expect(
        audit.filter((e) => e.action.startsWith('outbox.redrive')).map((e) => [e.action, e.outcome]),
      ).toEqual([
        ['outbox.redrive_channel', 'ok'],
        ['outbox.redrive', 'ok'],
        ['outbox.redrive', 'refused'],
      ])
    })

    it('fences a worker whose lease lapsed and was claimed again: it cannot ack, renew or release', async () => {
      const s = await setup()
      const m = await s.enqueue(0)
      const port = s.messaging.deliveryPort({ principal: s.service })
      const [old] = await port.claim({ limit: 1, leaseMs: 100 })
      await new Promise((r) => setTimeout(r, 150))
      const [fresh] = await port.claim({ limit: 1, leaseMs: 30_000 })
      expect(fresh!.id).toBe(m.id)
      expect(await port.renew(old!, 30_000)).toBe(false)
      expect(await port.release(old!, 0)).toBe(false)
      const report = {
        outcome: 'delivered' as const,
        errorCode: null,
        error: null,
        providerMessageId: null,
        startedAt: new Date(),
        finishedAt: new Date(),
        workerId: uuid(),
      }
      expect(await port.settle([{ held: old!, report }])).toEqual([{ acked: false, status: 'processing' }])
      expect(
        await s.messaging.ack(s.service, {
          infrastructureId: m.infrastructureId,
          messageId: m.id,
          leaseToken: old!.leaseToken,
          outcome: 'processed',
        }),
      ).toMatchObject({ acked: false })
      expect(
        await s.messaging.listAttempts(s.admin, { infrastructureId: m.infrastructureId, messageId: m.id }),
      ).toEqual([])
      expect(await port.renew(fresh!, 30_000)).toBe(true)
      expect(await port.settle([{ held: fresh!, report }])).toEqual([{ acked: true, status: 'processed' }])
    })

    it('completes a batch in one go, each message fenced by its own lease: a stale token changes nothing for that message only', async () => {
      const s = await setup({ tenants: 2 })
      const ms = [await s.enqueue(0), await s.enqueue(0), await s.enqueue(0)]
      const bystander = await s.enqueue(1)
      const port = s.messaging.deliveryPort({ principal: s.service })
      const held = await port.claim({ limit: 10, leaseMs: 30_000, infrastructureId: s.tenants[0]!.infra })
      expect(held.map((h) => h.id).sort()).toEqual(ms.map((m) => m.id).sort())
      const [a, b, c] = held
      const at = new Date()
      const report = (outcome: 'delivered' | 'retryable', error: string | null = null) => ({
        outcome,
        errorCode: error === null ? null : 'http_503',
        error,
        providerMessageId: null,
        startedAt: at,
        finishedAt: at,
        workerId: uuid(),
        ...(outcome === 'retryable' && { retryAfterMs: 0 }),
      })
      const results = await port.settle([
        { held: a!, report: report('delivered') },
        { held: { ...b!, leaseToken: uuid() }, report: report('delivered') },
        { held: c!, report: report('retryable', 'upstream busy') },
        { held: a!, report: report('delivered') },
      ])
      expect(results).toEqual([
        { acked: true, status: 'processed' },
        { acked: false, status: 'processing' },
        { acked: true, status: 'pending' },
        { acked: false, status: 'processing' },
      ])
      const attempts = (id: string) =>
        s.messaging.listAttempts(s.admin, { infrastructureId: s.tenants[0]!.infra, messageId: id })
      expect((await s.get(0, a!.id)).status).toBe('processed')
      expect(await attempts(a!.id)).toHaveLength(1)
      // The stale token left b exactly as it was: still held under its real lease, no attempt.
      expect(await s.get(0, b!.id)).toMatchObject({ status: 'processing', leaseToken: b!.leaseToken })
      expect(await attempts(b!.id)).toEqual([])
      expect(await s.get(0, c!.id)).toMatchObject({ status: 'pending', lastError: 'upstream busy' })
      expect(await attempts(c!.id)).toMatchObject([
        { outcome: 'retryable', error: 'upstream busy', attempt: 1 },
      ])
      expect(
        await s.messaging.getMessage(s.admin, {
          infrastructureId: s.tenants[1]!.infra,
          messageId: bystander.id,
        }),
      ).toMatchObject({ status: 'pending', attempts: 0 })
      // The real holder of b still acks it; a scope that does not reach it acks nothing.
      const other = s.messaging.deliveryPort({
        principal: principal('service', [[s.tenants[1]!.infra, null]]),
      })
      expect(await other.settle([{ held: b!, report: report('delivered') }])).toEqual([
        { acked: false, status: 'processing' },
      ])
      expect(await port.settle([{ held: b!, report: report('delivered') }])).toEqual([
        { acked: true, status: 'processed' },
      ])
      expect(await attempts(b!.id)).toHaveLength(1)
    })

    it('renews the lease while a slow delivery runs, so no other worker takes the message', async () => {
      const s = await setup()
      const m = await s.enqueue(0, { do: 'gate' })
      // A lease of 1.5 s renewed every 50 ms: the delivery is held by the gate, not by a timer,
      // and only a stall of the whole process for over a second could let the lease lapse.
      const w = s.worker({ leaseMs: 1500, renewEveryMs: 50 })
      const stop = new AbortController()
      const running = w.run(stop.signal)
      await until(() => s.transport.calls.length === 1)
      const first = (await s.get(0, m.id)).leasedUntil!
      // Renewed: the lease now ends later than the one the claim gave, while the delivery still runs.
      await until(async () => ((await s.get(0, m.id)).leasedUntil?.getTime() ?? 0) > first.getTime())
      const port = s.messaging.deliveryPort({ principal: s.service })
      expect(await port.claim({ limit: 10, leaseMs: 1000 })).toEqual([])
      s.transport.openGate()
      await until(async () => (await s.get(0, m.id)).status === 'processed')
      stop.abort()
      await running
      expect(s.transport.calls).toHaveLength(1)
    })

    it('shuts down cleanly: in-flight deliveries finish within the grace period, the rest go back uncounted', async () => {
      const s = await setup()
      const quick = await s.enqueue(0, { do: 'slow', ms: 100 })
      const slow = await s.enqueue(0, { do: 'hang' })
      const w = s.worker({ shutdownGraceMs: 300, attemptTimeoutMs: 60_000 })
      const stop = new AbortController()
      const running = w.run(stop.signal)
      await until(() => s.transport.calls.length === 2)
      stop.abort()
      await running
      expect(await s.get(0, quick.id)).toMatchObject({ status: 'processed' })
      expect(await s.get(0, slow.id)).toMatchObject({ status: 'pending', attempts: 0, leaseToken: null })
      const [back] = await s.messaging
        .deliveryPort({ principal: s.service })
        .claim({ limit: 5, leaseMs: 1000 })
      expect(back).toMatchObject({ id: slow.id, attempts: 1 })
    })

    it('is fair: a 10,000-message backlog of one tenant does not hold back 20 others', async () => {
      const s = await setup({ tenants: 21 })
      const scope = TenantScope.of(s.service)
      // The backlog first, so it is also the oldest.
      const { unitOfWork } = storage
      const backlog = s.tenants[0]!
      const now = new Date()
      const base = {
        businessId: null,
        channelId: s.channels[0]!,
        payload: { behaviour: { do: 'deliver' } },
        recipients: null,
        idempotencyKey: null,
        maxAttempts: 3,
        createdBy: s.producer.userId,
        status: 'pending' as const,
        attempts: 0,
        leaseToken: null,
        leasedUntil: null,
        lastError: null,
        settledAt: null,
        notification: null,
        priority: 'normal' as const,
        orderingKey: null,
        traceContext: null,
      }
      const producerScope = TenantScope.of(s.producer)
      for (let k = 0; k < 10_000; k += 500) {
        const batch = Array.from({ length: 500 }, (_, i) => {
          const at = new Date(now.getTime() - 60_000 + k + i)
          const m = { ...base, id: uuid(), infrastructureId: backlog.infra, createdAt: at, availableAt: at }
          return enqueueCommand(producerScope, m)
        })
        await unitOfWork.run(producerScope, (r) => r.outbox.enqueueMany(producerScope, batch))
      }
      const others = new Set<string>()
      for (let k = 1; k <= 20; k++) for (let j = 0; j < 5; j++) others.add((await s.enqueue(k)).id)
      const order: string[] = []
      const w = s.worker({ concurrency: 10 })
      w.events.on('delivered', (m) => order.push(m.infrastructureId === backlog.infra ? 'A' : 'other'))
      const stop = new AbortController()
      const running = w.run(stop.signal)
      await until(() => order.filter((x) => x === 'other').length === 100, 60_000)
      stop.abort()
      await running
      const backlogDoneBeforeOthers = order
        .slice(0, order.lastIndexOf('other'))
        .filter((x) => x === 'A').length
      expect(backlogDoneBeforeOthers).toBeLessThan(5_000)
      expect(backlogDoneBeforeOthers).toBeLessThan(200)
      void scope
    })

    it('caps deliveries in flight per tenant', async () => {
      const s = await setup({ tenants: 2 })
      for (let i = 0; i < 6; i++) await s.enqueue(0, { do: 'gate' })
      for (let i = 0; i < 2; i++) await s.enqueue(1, { do: 'gate' })
      const port = s.messaging.deliveryPort({ principal: s.service })
      let claims = 0
      const counted = {
        ...port,
        claim: (r: Parameters<typeof port.claim>[0]) => {
          claims++
          return port.claim(r)
        },
      }
      const w = s.worker({ principal: undefined, delivery: counted, concurrency: 6, perTenantConcurrency: 2 })
      const stop = new AbortController()
      const running = w.run(stop.signal)
      const [a, b] = [s.tenants[0]!.infra, s.tenants[1]!.infra]
      // The latch holds every delivery in flight: two of each tenant overlap, proven, not timed.
      await until(() => s.transport.running.get(a) === 2 && s.transport.running.get(b) === 2)
      // Free slots and due messages of tenant A remain: let the worker claim twice more while
      // the latch is shut; the cap is an upper bound, so none of them may start.
      const seen = claims
      await until(() => claims >= seen + 2)
      expect(s.transport.running.get(a)).toBe(2)
      s.transport.openGate()
      await until(() => s.transport.delivered.size === 8)
      stop.abort()
      await running
      expect(s.transport.peak.get(a)).toBeLessThanOrEqual(2)
      expect(s.transport.peak.get(b)).toBeLessThanOrEqual(2)
    })

    it('sends no message of a disabled channel: its claimed messages go back with their attempts unspent, and go out once it is enabled again', async () => {
      const s = await setup({ maxAttempts: 1 })
      const ids = [(await s.enqueue(0)).id, (await s.enqueue(0)).id, (await s.enqueue(0)).id]
      const infrastructureId = s.tenants[0]!.infra
      const channelId = s.channels[0]!
      await s.messaging.configureChannel(s.admin, { infrastructureId, channelId, enabled: false })
      const released: string[] = []
      const w = s.worker({ pausedChannelDelayMs: 50 })
      w.events.on('released', (m, reason) => released.push(`${m.id}:${reason}`))
      // Claimed, looked at, handed back: a drain ends once nothing is due.
      expect(await w.drain()).toBe(0)
      // Each at least once (a slow store may see one come due again within the drain).
      expect(new Set(released)).toEqual(new Set(ids.map((id) => `${id}:channel_paused`)))
      expect(s.transport.calls).toEqual([])
      for (const id of ids) {
        // One attempt allowed, yet not dead: the claim's attempt was given back with the message.
        expect(await s.get(0, id)).toMatchObject({ status: 'pending', attempts: 0, leaseToken: null })
        expect(await s.messaging.listAttempts(s.admin, { infrastructureId, messageId: id })).toEqual([])
      }
      await s.messaging.configureChannel(s.admin, { infrastructureId, channelId, enabled: true })
      await until(async () => {
        await w.drain()
        return s.transport.delivered.size === 3
      })
      for (const id of ids) expect(await s.get(0, id)).toMatchObject({ status: 'processed', attempts: 1 })
    })

    it('cleans text from outside before any store: NUL, lone surrogates and overlong errors, codes and ids are stored cleaned, each attempt recorded', async () => {
      const s = await setup({ maxAttempts: 1 })
      const hostile = `HTTP 500: ${'\u0000'.repeat(20)} broken \ud800 half \udc00 pair ${'x'.repeat(100_000)}`
      // A provider that answers nothing but hostile text, whatever the outcome.
      const echo: Transport = {
        channelType: testChannelType,
        async send(message) {
          const b = (message.payload as { behaviour: Behaviour }).behaviour
          if (b.do === 'deliver') return { status: 'delivered', providerMessageId: hostile }
          if (b.do === 'retry') return { status: 'retryable', code: hostile, error: hostile }
          return { status: 'permanent', code: hostile, error: hostile }
        },
      }
      const ms = [
        await s.enqueue(0, { do: 'retry' }),
        await s.enqueue(0, { do: 'permanent' }),
        await s.enqueue(0),
      ]
      const w = s.worker({ transports: [echo] })
      const errors: unknown[] = []
      w.events.on('error', (e) => errors.push(e))
      expect(await w.drain()).toBe(3)
      expect(errors).toEqual([])
      const infrastructureId = s.tenants[0]!.infra
      const clean = (text: string | null) => {
        expect(text).not.toBeNull()
        expect(text!.includes('\u0000')).toBe(false)
        // encodeURIComponent throws on a lone surrogate.
        expect(() => encodeURIComponent(text!)).not.toThrow()
        expect(text!.length).toBeLessThanOrEqual(2000)
      }
      const stored = await Promise.all(ms.map((m) => s.get(0, m.id)))
      expect(stored.map((m) => [m.status, m.attempts])).toEqual([
        ['dead', 1],
        ['failed', 1],
        ['processed', 1],
      ])
      for (const [i, m] of stored.entries()) {
        const attempts = await s.messaging.listAttempts(s.admin, { infrastructureId, messageId: m.id })
        expect(attempts).toHaveLength(1)
        if (i < 2) for (const text of [m.lastError, attempts[0]!.error, attempts[0]!.errorCode]) clean(text)
        else clean(attempts[0]!.providerMessageId)
      }
    })

    it('scrubs every encoded form of a channel secret from stored outcomes and log lines', async () => {
      const s = await setup({ maxAttempts: 1 })
      const b64 = (t: string) => Buffer.from(t).toString('base64')
      const forms = [
        SECRET,
        encodeURIComponent(SECRET),
        JSON.stringify(SECRET),
        b64(SECRET),
        Buffer.from(SECRET).toString('base64url'),
        Buffer.from(SECRET).toString('hex'),
        `Basic ${b64(`user:${SECRET}`)}`,
      ].join(' | ')
      const echo: Transport = {
        channelType: testChannelType,
        async send(message, channel) {
          const token = String(channel.config.token)
          expect(token).toBe(SECRET)
          const b = (message.payload as { behaviour: Behaviour }).behaviour
          if (b.do === 'deliver') return { status: 'delivered', providerMessageId: `id-${forms}` }
          return { status: b.do === 'retry' ? 'retryable' : 'permanent', code: `E-${SECRET}`, error: forms }
        },
      }
      const lines: string[] = []
      const log = (level: string) => (obj: object, msg?: string) =>
        lines.push(`${level} ${msg} ${JSON.stringify(obj)}`)
      const logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') }
      const ms = [
        await s.enqueue(0, { do: 'retry' }),
        await s.enqueue(0, { do: 'permanent' }),
        await s.enqueue(0),
      ]
      expect(await s.worker({ transports: [echo], logger }).drain()).toBe(3)
      const infrastructureId = s.tenants[0]!.infra
      const stored = JSON.stringify([
        await Promise.all(ms.map((m) => s.get(0, m.id))),
        await Promise.all(
          ms.map((m) => s.messaging.listAttempts(s.admin, { infrastructureId, messageId: m.id })),
        ),
      ])
      expect(stored).toContain('[redacted]')
      expect(lines.join('\n')).toContain('[redacted]')
      for (const text of [stored, lines.join('\n')]) {
        expect(text).not.toContain(SECRET)
        for (const encoded of [
          b64(SECRET),
          Buffer.from(SECRET).toString('hex'),
          b64(`user:${SECRET}`).slice(8, 24),
        ])
          expect(text).not.toContain(encoded)
      }
    })

    it("throttles a channel to its rate limit, and holds a disabled channel's messages without spending attempts", async () => {
      const s = await setup({ config: { token: SECRET, rateLimit: { perSecond: 10, burst: 2 } } })
      for (let i = 0; i < 5; i++) await s.enqueue(0)
      const w = s.worker()
      const stop = new AbortController()
      const started = Date.now()
      const running = w.run(stop.signal)
      await until(() => s.transport.delivered.size === 5)
      const elapsed = Date.now() - started
      stop.abort()
      await running
      // 2 at once from the burst, then 3 more at 10/s: at least ~300 ms.
      expect(elapsed).toBeGreaterThanOrEqual(250)
      await s.messaging.configureChannel(s.admin, {
        infrastructureId: s.tenants[0]!.infra,
        channelId: s.channels[0]!,
        enabled: false,
      })
      const held = await s.messaging
        .enqueue(s.producer, {
          infrastructureId: s.tenants[0]!.infra,
          channelKey: 'test',
          payload: {},
        })
        .catch((e: unknown) => e)
      expect(held).toMatchObject({ code: 'CHANNEL_DISABLED' })
    })

    it('holds messages until availableAt, and wakes an idle worker at once when a message is enqueued', async () => {
      const s = await setup()
      // Due in an hour: held through the worker's claims, whatever the machine's speed.
      const later = await s.enqueue(0, { do: 'deliver' }, { availableAt: new Date(Date.now() + 3_600_000) })
      const port = s.messaging.deliveryPort({ principal: s.service })
      const claimed: string[] = []
      let claims = 0
      const counted: typeof port = {
        ...port,
        claim: async (r: Parameters<typeof port.claim>[0]) => {
          const held = await port.claim(r)
          claimed.push(...held.map((h) => h.id))
          claims++
          return held
        },
      }
      const w = s.worker({ principal: undefined, pollIntervalMs: 100, delivery: counted })
      const stop = new AbortController()
      const running = w.run(stop.signal)
      await until(() => claims >= 3)
      expect(claimed).toEqual([])
      expect(s.transport.calls).toHaveLength(0)
      // Due now: the next claim takes it.
      await s.messaging.reschedule(s.admin, {
        infrastructureId: s.tenants[0]!.infra,
        messageId: later.id,
        availableAt: new Date(Date.now() - 1_000),
      })
      await until(() => s.transport.delivered.has(later.id), 15_000)
      stop.abort()
      await running
      // A worker polling only every 60 s still delivers well within its poll: the enqueue wakes it.
      let idleClaims = 0
      const idle = s.worker({
        principal: undefined,
        pollIntervalMs: 60_000,
        delivery: {
          ...port,
          claim: async (r: Parameters<typeof port.claim>[0]) => {
            const held = await port.claim(r)
            idleClaims++
            return held
          },
        },
      })
      const stop2 = new AbortController()
      const running2 = idle.run(stop2.signal)
      // Its first claim found nothing: it is idle until woken or polled.
      await until(() => idleClaims >= 1)
      const m = await s.enqueue(0)
      await until(() => s.transport.delivered.has(m.id), 30_000)
      stop2.abort()
      await running2
    })

    it('serves every tenant as a fleet worker, and only its own tenants as a scoped one', async () => {
      const s = await setup({ tenants: 2 })
      const a = await s.enqueue(0)
      const b = await s.enqueue(1)
      const onlyB: Principal = {
        ...s.service,
        grants: [{ infrastructureId: s.tenants[1]!.infra, businessId: null }],
      }
      expect(await s.worker({ principal: onlyB }).drain()).toBe(1)
      expect([...s.transport.delivered.keys()]).toEqual([b.id])
      // The fleet holds no grant for the tenant, yet serves it (and whatever else is due in the store).
      const fleet = s.worker({ principal: undefined, fleet: true, shutdownGraceMs: 100 })
      const stop = new AbortController()
      const running = fleet.run(stop.signal)
      await until(() => s.transport.delivered.has(a.id), 30_000)
      stop.abort()
      await running
      expect(s.transport.delivered.get(a.id)).toBe(1)
    })

    it('prunes settled messages older than the retention age, and nothing else', async () => {
      if (!storage.prune) throw new Error(`${name} offers no prune`)
      const s = await setup()
      const done = await s.enqueue(0)
      await s.worker().drain()
      const waiting = await s.enqueue(0, { do: 'deliver' }, { availableAt: new Date(Date.now() + 3_600_000) })
      // Other tests of this file share the store and may have settled long enough ago (a busy
      // machine runs the file for minutes): what this test settled just now is what must stay.
      await s.messaging.prune({ olderThan: new Date(Date.now() - 60_000) })
      expect(await s.get(0, done.id)).toMatchObject({ status: 'processed' })
      let removed = 0
      for (let n = -1; n !== 0; removed += n)
        n = await s.messaging.prune({ olderThan: new Date(Date.now() + 1000), batchSize: 500 })
      expect(removed).toBeGreaterThanOrEqual(1)
      await expect(s.get(0, done.id)).rejects.toMatchObject({ code: 'NOT_FOUND' })
      expect(await s.get(0, waiting.id)).toMatchObject({ status: 'pending' })
    })
  })
}
