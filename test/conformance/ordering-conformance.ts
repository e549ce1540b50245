import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createMessaging,
  type DeliveryOutcome,
  type Messaging,
  type MessagingStorage,
  type OutboxMessage,
  type Transport,
} from '../../src/index.js'
import { createSecretBox } from '../../src/secrets/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { principal, tenant, uuid } from '../support/fixtures.js'
import { testChannelType, until } from '../support/transports.js'
import type { StorageFactory } from './repository-conformance.js'

const HOUR = 3_600_000

/**
 * A `test` transport whose sends wait, one latch per message, until the test lets that
 * message through: "held by a worker" is a fact the test sees (`arrived`), never a guess
 * about timing. A payload `{ fail: n }` fails its first n sends (retryable).
 */
function latchedTransport() {
  const arrived: string[] = []
  const delivered: string[] = []
  const latches = new Map<string, () => void>()
  const gates = new Map<string, Promise<void>>()
  const sends = new Map<string, number>()
  const gate = (id: string) => {
    let g = gates.get(id)
    if (!g) {
      g = new Promise<void>((resolve) => latches.set(id, resolve))
      gates.set(id, g)
    }
    return g
  }
  const transport: Transport = {
    channelType: testChannelType,
    async send(message: OutboxMessage): Promise<DeliveryOutcome> {
      arrived.push(message.id)
      const n = (sends.get(message.id) ?? 0) + 1
      sends.set(message.id, n)
      const fail = (message.payload as { fail?: number } | null)?.fail ?? 0
      if (n <= fail) return { status: 'retryable', code: 'http_503', error: 'busy' }
      const open = (message.payload as { open?: boolean } | null)?.open ?? false
      if (!open) await gate(message.id)
      delivered.push(message.id)
      return { status: 'delivered', providerMessageId: `p-${message.id}` }
    },
  }
  return {
    transport,
    arrived,
    delivered,
    /** Lets `id`'s send (waiting now or to come) finish. */
    release: (id: string) => {
      gate(id)
      latches.get(id)!()
    },
  }
}

/**
 * Ordering keys on every storage adapter: a tenant's messages with one key are claimed one
 * at a time in enqueue order (several workers, latches), other keys go in parallel, a lost
 * lease keeps the order, a dead message holds its key or lets it move on per channel, a
 * cancel frees it, and a bad key is refused the same way everywhere.
 */
export function describeOrderingConformance(name: string, factory: StorageFactory): void {
  describe(`ordering keys conformance: ${name}`, () => {
    let storage: MessagingStorage
    let messaging: Messaging
    beforeAll(async () => {
      storage = await factory()
      messaging = createMessaging({
        storage,
        channelTypes: [testChannelType],
        secrets: createSecretBox({ keys: { k1: randomBytes(32).toString('base64') }, activeKeyId: 'k1' }),
      })
    })
    afterAll(async () => {
      await storage?.close()
    })

    async function setup(config: Record<string, unknown> = {}, maxAttempts = 3) {
      const i = tenant().infra
      const admin = principal('infra_admin', [[i, null]])
      const producer = principal('member', [[i, null]])
      const service = principal('service', [[i, null]])
      const channel = await messaging.createChannel(admin, {
        infrastructureId: i,
        channelKey: `test-${uuid().slice(0, 8)}`,
        type: 'test',
        maxAttempts,
        config,
      })
      const enqueue = (orderingKey: string | null, payload: Record<string, unknown> = {}, extra = {}) =>
        messaging
          .enqueue(producer, { infrastructureId: i, channelId: channel.id, payload, orderingKey, ...extra })
          .then((r) => r.message)
      const latched = latchedTransport()
      const worker = () =>
        createDeliveryWorker({
          messaging,
          principal: service,
          transports: [latched.transport],
          concurrency: 4,
          pollIntervalMs: 10,
          retry: { baseMs: 5, maxMs: 10 },
          random: () => 1,
        })
      const port = messaging.deliveryPort({ principal: service })
      const claimIds = async () => (await port.claim({ limit: 10, leaseMs: 30_000 })).map((m) => m.id)
      const get = (id: string) => messaging.getMessage(admin, { infrastructureId: i, messageId: id })
      return { i, admin, producer, service, channel, enqueue, latched, worker, port, claimIds, get }
    }

    /** Runs `workers` until `stop` aborts; returns a function that stops them and waits. */
    function runAll(workers: ReturnType<typeof createDeliveryWorker>[]) {
      const stop = new AbortController()
      const running = workers.map((w) => w.run(stop.signal))
      return async () => {
        stop.abort()
        await Promise.all(running)
      }
    }

    it('stores the key, returns it in the message, and refuses a bad one naming the field and rule', async () => {
      const s = await setup()
      const m = await s.enqueue('order-1042')
      expect(m.orderingKey).toBe('order-1042')
      expect(await s.get(m.id)).toMatchObject({ orderingKey: 'order-1042' })
      expect((await s.enqueue(null)).orderingKey).toBeNull()
      const [batched] = await messaging.enqueueMany(s.producer, [
        { infrastructureId: s.i, channelId: s.channel.id, payload: {}, orderingKey: 'account:7' },
      ])
      expect(batched!.message.orderingKey).toBe('account:7')
      const bad = (orderingKey: string) => s.enqueue(orderingKey)
      await expect(bad('')).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
        field: 'orderingKey',
        rule: 'too_small',
      })
      await expect(bad('x'.repeat(201))).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
        field: 'orderingKey',
        rule: 'too_big',
      })
      await expect(bad('two words')).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
        field: 'orderingKey',
        rule: 'format:regex',
      })
      await expect(
        messaging.enqueueMany(s.producer, [
          { infrastructureId: s.i, channelId: s.channel.id, payload: {} },
          { infrastructureId: s.i, channelId: s.channel.id, payload: {}, orderingKey: 'é' },
        ]),
      ).rejects.toMatchObject({ code: 'VALIDATION_FAILED', field: 'items.1.orderingKey' })
      // Nothing of the refused calls was written.
      expect(await messaging.listMessages(s.admin, { infrastructureId: s.i })).toHaveLength(3)
    })

    it('delivers one key strictly in enqueue order across concurrent workers: the next is not claimed while the one before is held', async () => {
      const s = await setup()
      const [k1, k2, k3] = [await s.enqueue('k'), await s.enqueue('k'), await s.enqueue('k')]
      const stop = runAll([s.worker(), s.worker(), s.worker()])
      try {
        for (const [held, next] of [
          [k1!, k2!],
          [k2!, k3!],
        ] as const) {
          // The latch: a worker holds `held` inside its transport.
          await until(() => s.latched.arrived.includes(held.id))
          // Every claim now, the workers' and this one, passes over the key's next message.
          expect(await s.claimIds()).toEqual([])
          expect(await s.get(next.id)).toMatchObject({ status: 'pending', attempts: 0 })
          expect(s.latched.arrived).not.toContain(next.id)
          s.latched.release(held.id)
        }
        await until(() => s.latched.arrived.includes(k3!.id))
        s.latched.release(k3!.id)
        await until(async () => (await s.get(k3!.id)).status === 'processed')
      } finally {
        await stop()
      }
      expect(s.latched.arrived).toEqual([k1!.id, k2!.id, k3!.id])
      expect(s.latched.delivered).toEqual([k1!.id, k2!.id, k3!.id])
    })

    it("keeps a batch's order for its key, whatever the messages' priorities", async () => {
      const s = await setup()
      const rows = await messaging.enqueueMany(
        s.producer,
        (['low', 'normal', 'high'] as const).map((priority, n) => ({
          infrastructureId: s.i,
          channelId: s.channel.id,
          payload: { n },
          orderingKey: 'batch',
          priority,
        })),
      )
      const ids = rows.map((r) => r.message.id)
      const order: string[] = []
      for (let n = 0; n < 3; n++) {
        const [held] = await s.port.claim({ limit: 10, leaseMs: 30_000 })
        expect(held).toBeDefined()
        order.push(held!.id)
        expect(await s.claimIds()).toEqual([])
        const report = {
          outcome: 'delivered' as const,
          errorCode: null,
          error: null,
          providerMessageId: null,
          startedAt: new Date(),
          finishedAt: new Date(),
          workerId: uuid(),
        }
        expect(await s.port.settle([{ held: held!, report }])).toMatchObject([{ acked: true }])
      }
      expect(order).toEqual(ids)
    })

    it('claims different keys, keyless messages and other tenants in parallel', async () => {
      const s = await setup()
      const o = await setup()
      const a = await s.enqueue('a')
      const a2 = await s.enqueue('a')
      const b = await s.enqueue('b')
      const free = await s.enqueue(null)
      const theirs = await o.enqueue('a')
      const both = principal('service', [
        [s.i, null],
        [o.i, null],
      ])
      const worker = createDeliveryWorker({
        messaging,
        principal: both,
        transports: [s.latched.transport],
        concurrency: 8,
        pollIntervalMs: 10,
      })
      const stop = runAll([worker])
      try {
        // The latch: all four are held inside the transport at once.
        await until(() => [a, b, free, theirs].every((m) => s.latched.arrived.includes(m.id)))
        expect(s.latched.delivered).toEqual([])
        expect(s.latched.arrived).not.toContain(a2.id)
        for (const m of [a, b, free, theirs]) s.latched.release(m.id)
        await until(() => s.latched.arrived.includes(a2.id))
        s.latched.release(a2.id)
        await until(async () => (await s.get(a2.id)).status === 'processed')
      } finally {
        await stop()
      }
      expect(s.latched.delivered.indexOf(a.id)).toBeLessThan(s.latched.delivered.indexOf(a2.id))
    })

    it("keeps the order when a holder is lost: its lease lapses and its message goes again before the key's next", async () => {
      const s = await setup()
      // Held under a live lease: the key's next is not claimed.
      const h1 = await s.enqueue('h')
      const h2 = await s.enqueue('h')
      expect(await s.claimIds()).toEqual([h1.id])
      expect(await s.claimIds()).toEqual([])
      expect(await s.get(h2.id)).toMatchObject({ status: 'pending' })
      // A holder that never comes back (a killed worker): its lease lapses, never renewed.
      const k1 = await s.enqueue('k')
      const k2 = await s.enqueue('k')
      const [lost] = await s.port.claim({ limit: 10, leaseMs: 1 })
      expect(lost!.id).toBe(k1.id)
      // Once the lease lapsed by the store's clock the key's first goes again, never its next.
      let again: string[] = []
      await until(async () => {
        again = await s.claimIds()
        return again.length > 0
      })
      expect(again).toEqual([k1.id])
      expect(await s.get(k1.id)).toMatchObject({ status: 'processing', attempts: 2 })
      expect(await s.get(k2.id)).toMatchObject({ status: 'pending', attempts: 0 })
    })

    it("holds a key behind a dead message until it is redriven (the default, 'hold')", async () => {
      const s = await setup({}, 1)
      const k1 = await s.enqueue('k', { fail: 1, open: true })
      const k2 = await s.enqueue('k', { open: true })
      const free = await s.enqueue('other', { open: true })
      // A drain ends when nothing is claimable at that moment: drain until both settled.
      await until(async () => {
        await s.worker().drain()
        return (await s.get(k1.id)).status === 'dead' && (await s.get(free.id)).status === 'processed'
      })
      expect(await s.get(k2.id)).toMatchObject({ status: 'pending', attempts: 0 })
      expect(await s.claimIds()).toEqual([])
      await messaging.redrive(s.admin, { infrastructureId: s.i, messageId: k1.id })
      await until(async () => {
        await s.worker().drain()
        return (await s.get(k2.id)).status === 'processed'
      })
      expect(s.latched.delivered.filter((id) => id !== free.id)).toEqual([k1.id, k2.id])
    })

    it("lets the key move on past a dead message on a channel with orderingOnDead: 'skip'", async () => {
      const s = await setup({ orderingOnDead: 'skip' }, 1)
      expect(s.channel.config).toMatchObject({ orderingOnDead: 'skip' })
      const k1 = await s.enqueue('k', { fail: 1, open: true })
      const k2 = await s.enqueue('k', { open: true })
      await until(async () => {
        await s.worker().drain()
        return (await s.get(k2.id)).status === 'processed'
      })
      expect(await s.get(k1.id)).toMatchObject({ status: 'dead' })
      expect(s.latched.delivered).toEqual([k2.id])
      await expect(
        messaging.createChannel(s.admin, {
          infrastructureId: s.i,
          channelKey: 'bad-setting',
          type: 'test',
          config: { orderingOnDead: 'drop' },
        }),
      ).rejects.toMatchObject({ code: 'VALIDATION_FAILED', field: 'config.orderingOnDead' })
    })

    it("keeps each business's keys apart: one key in two businesses of a tenant (and in none) goes in parallel", async () => {
      const s = await setup()
      const [bizA, bizB] = [uuid(), uuid()]
      const a1 = await s.enqueue('k', {}, { businessId: bizA })
      const a2 = await s.enqueue('k', {}, { businessId: bizA })
      const b1 = await s.enqueue('k', {}, { businessId: bizB })
      const plain = await s.enqueue('k')
      expect((await s.claimIds()).sort()).toEqual([a1.id, b1.id, plain.id].sort())
      expect(await s.get(a2.id)).toMatchObject({ status: 'pending', attempts: 0 })
    })

    it('waits behind an earlier scheduled message of the key; cancelling it frees the key', async () => {
      const s = await setup()
      const later = await s.enqueue('k', {}, { availableAt: new Date(Date.now() + HOUR) })
      const due = await s.enqueue('k', {}, { priority: 'high' })
      expect(await s.claimIds()).toEqual([])
      const r = await messaging.cancel(s.admin, { infrastructureId: s.i, messageId: later.id })
      expect(r.cancelled.map((m) => m.id)).toEqual([later.id])
      expect(await s.claimIds()).toEqual([due.id])
    })
  })
}
