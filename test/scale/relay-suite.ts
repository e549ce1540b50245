import type { JetStreamManager, NatsConnection } from 'nats'
import { connect } from 'nats'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMessaging, type MessagingStorage, type Transport } from '../../src/index.js'
import {
  createJetStreamRelay,
  decodeEnvelope,
  ensureRelayStream,
  type JetStreamRelayOptions,
} from '../../src/nats/index.js'
import { createDeliveryWorker, type DeliveryWorkerOptions } from '../../src/worker/index.js'
import type { StorageFactory } from '../conformance/repository-conformance.js'
import { principal, tenant } from '../support/fixtures.js'
import { type NatsCluster, startNatsCluster } from '../support/nats-cluster.js'
import { scriptedTransport, testChannelType, until } from '../support/transports.js'

const SECRET = 'tok_live_relay_7c1d2e3f4a5b'

/** One stored message of a stream, as a reader sees it. */
interface Stored {
  readonly seq: number
  readonly subject: string
  readonly msgId: string | undefined
  readonly data: Uint8Array
}

/** Every message of a stream in order (by sequence: a work-queue stream takes no reader that does not ack). */
async function readStream(jsm: JetStreamManager, stream: string): Promise<Stored[]> {
  const { state } = await jsm.streams.info(stream)
  if (state.messages === 0) return []
  const seqs = Array.from({ length: state.last_seq - state.first_seq + 1 }, (_, i) => state.first_seq + i)
  const out: Stored[] = []
  for (let i = 0; i < seqs.length; i += 200) {
    const got = await Promise.all(
      seqs.slice(i, i + 200).map((seq) => jsm.streams.getMessage(stream, { seq })),
    )
    for (const m of got)
      out.push({
        seq: m.seq,
        subject: m.subject,
        msgId: m.header.get('Nats-Msg-Id') || undefined,
        data: m.data,
      })
  }
  return out
}

/**
 * Issue 20 item 2, on every store: the relay publishes each claimed message to JetStream on
 * `messaging.<infrastructureId>.<channelKey>` with `Nats-Msg-Id` = the message id and settles
 * it only once the stream acknowledged it; fair between tenants as the worker it runs in.
 */
export function describeRelay(name: string, factory: StorageFactory): void {
  describe(`JetStream relay: ${name}`, () => {
    let storage: MessagingStorage
    let server: NatsCluster
    let nc: NatsConnection
    let jsm: JetStreamManager
    let streams = 0
    beforeAll(async () => {
      // 16 KiB: small enough for a payload the module accepts (64 KiB) to be too large here.
      ;[storage, server] = await Promise.all([
        factory(),
        startNatsCluster({ nodes: 1, extraConfig: 'max_payload: 16384' }),
      ])
      nc = await connect({ servers: [...server.servers] })
      jsm = await nc.jetstreamManager()
    })
    afterAll(async () => {
      await nc?.close()
      await server?.stop()
      await storage?.close()
    })

    async function setup(
      opts: { tenants?: number; keys?: string[]; relay?: Partial<JetStreamRelayOptions> } = {},
    ) {
      streams++
      const stream = `RELAY${streams}`
      const subjectPrefix = `relay${streams}`
      await ensureRelayStream(jsm, { name: stream, subjectPrefix, duplicateWindowMs: 60_000 })
      const messaging = createMessaging({ storage, channelTypes: [testChannelType] })
      const tenants = Array.from({ length: opts.tenants ?? 1 }, () => tenant().infra)
      const grants = tenants.map((t) => [t, null] as [string, null])
      const admin = principal('infra_admin', grants)
      const producer = principal('member', grants)
      const service = principal('service', grants)
      const keys = opts.keys ?? ['alerts']
      const channels = new Map<string, string>()
      for (const t of tenants)
        for (const key of keys) {
          const c = await messaging.createChannel(admin, {
            infrastructureId: t,
            channelKey: key,
            type: 'test',
            config: { token: SECRET },
            maxAttempts: 3,
          })
          channels.set(`${t}/${key}`, c.id)
        }
      const relay = createJetStreamRelay({
        jetstream: nc.jetstream(),
        stream,
        subjectPrefix,
        ...opts.relay,
      })
      const enqueue = async (t: string, count: number, key = keys[0]!, payload: object = { n: 1 }) => {
        const ids: string[] = []
        for (let i = 0; i < count; i += 500) {
          const items = Array.from({ length: Math.min(500, count - i) }, (_, j) => ({
            infrastructureId: t,
            channelKey: key,
            payload: { ...payload, i: i + j },
          }))
          ids.push(...(await messaging.enqueueMany(producer, items)).map((r) => r.message.id))
        }
        return ids
      }
      const worker = (
        transports: DeliveryWorkerOptions['transports'],
        o: Partial<DeliveryWorkerOptions> = {},
      ) =>
        createDeliveryWorker({
          messaging,
          principal: service,
          transports,
          pollIntervalMs: 20,
          retry: { baseMs: 10, maxMs: 40 },
          random: () => 1,
          ...o,
        })
      const get = (t: string, id: string) =>
        messaging.getMessage(admin, { infrastructureId: t, messageId: id })
      const attempts = (t: string, id: string) =>
        messaging.listAttempts(admin, { infrastructureId: t, messageId: id })
      const read = () => readStream(jsm, stream)
      return {
        messaging,
        tenants,
        admin,
        channels,
        relay,
        enqueue,
        worker,
        get,
        attempts,
        read,
        stream,
        subjectPrefix,
      }
    }

    it('publishes each message on <prefix>.<infrastructureId>.<channelKey> with Nats-Msg-Id = its id, and settles it once acknowledged', async () => {
      const s = await setup({ tenants: 2, keys: ['alerts', 'billing'] })
      const [a, b] = s.tenants as [string, string]
      const ids = [
        ...(await s.enqueue(a, 3, 'alerts')),
        ...(await s.enqueue(a, 2, 'billing')),
        ...(await s.enqueue(b, 4, 'alerts')),
      ]
      const w = s.worker([s.relay.transport(testChannelType)])
      expect(await w.drain()).toBe(ids.length)

      const stored = await s.read()
      expect(stored.map((m) => m.msgId).sort()).toEqual([...ids].sort())
      for (const m of stored) {
        const envelope = decodeEnvelope(m.data)!
        expect(envelope).not.toBeNull()
        expect(m.msgId).toBe(envelope.id)
        expect(m.subject).toBe(`${s.subjectPrefix}.${envelope.infrastructureId}.${envelope.channelKey}`)
        expect(envelope.channelId).toBe(s.channels.get(`${envelope.infrastructureId}/${envelope.channelKey}`))
        expect(envelope).toMatchObject({ channelType: 'test', settle: 'published', attempts: 1 })
        // The channel's config, and so its secret, never goes to the broker.
        expect(Buffer.from(m.data).toString()).not.toContain(SECRET)
      }
      expect(stored.filter((m) => m.subject.endsWith(`${b}.alerts`))).toHaveLength(4)

      for (const id of ids.slice(0, 3)) {
        expect(await s.get(a, id)).toMatchObject({ status: 'processed', attempts: 1 })
        const [attempt] = await s.attempts(a, id)
        const seq = stored.find((m) => m.msgId === id)!.seq
        expect(attempt).toMatchObject({ outcome: 'delivered', providerMessageId: `${s.stream}:${seq}` })
      }
    })

    it('settles nothing while no stream takes the subjects, and relays once one does', async () => {
      const s = await setup()
      await jsm.streams.delete(s.stream)
      const [t] = s.tenants as [string]
      const [id] = await s.enqueue(t, 1)
      const w = s.worker([s.relay.transport(testChannelType)], {
        retry: { baseMs: 60_000, maxMs: 60_000 },
        random: () => 0.001,
      })
      expect(await w.drain()).toBe(1)
      expect(await s.get(t, id!)).toMatchObject({ status: 'pending', attempts: 1 })
      const [failed] = await s.attempts(t, id!)
      expect(failed).toMatchObject({ outcome: 'retryable', errorCode: 'jetstream_unavailable' })

      await ensureRelayStream(jsm, { name: s.stream, subjectPrefix: s.subjectPrefix })
      await until(async () => {
        await w.drain()
        return (await s.get(t, id!)).status === 'processed'
      }, 10_000)
      expect((await s.read()).map((m) => m.msgId)).toEqual([id])
    })

    it('keeps one copy of a message published again after its acknowledgement was lost', async () => {
      const s = await setup()
      const [t] = s.tenants as [string]
      const ids = await s.enqueue(t, 10)
      const relayed = s.relay.transport(testChannelType)
      let lost = 0
      // The relay published, then its answer never reached the outbox (a relay that died
      // after the publish): the attempt fails, and the next one publishes the same id again.
      const losing: Transport = {
        channelType: testChannelType,
        async send(message, channel, context) {
          const outcome = await relayed.send(message, channel, context)
          if (context.attempt === 1) {
            lost++
            throw new Error('relay died before the outbox heard back')
          }
          return outcome as Awaited<ReturnType<Transport['send']>>
        },
      }
      // Breakers are off unless asked for; said so here, since ten failed first attempts in a
      // row would open one (five by default) and hold the rest for its cool-down: this test is
      // about the duplicate window, not that.
      const w = s.worker([losing], { breakers: false })
      await until(async () => {
        await w.drain()
        const states = await Promise.all(ids.map((id) => s.get(t, id)))
        return states.every((m) => m.status === 'processed')
      }, 10_000)
      expect(lost).toBe(10)
      const stored = await s.read()
      expect(stored.map((m) => m.msgId).sort()).toEqual([...ids].sort())
      const second = await s.attempts(t, ids[0]!)
      expect(second.map((a) => a.outcome)).toEqual(['retryable', 'delivered'])
      expect(second[1]!.providerMessageId).toMatch(/\(duplicate\)$/)
    })

    it("with settle: 'delivered' hands the message to the broker's workers: held for them, no attempt, not processed", async () => {
      const s = await setup({ relay: { settle: 'delivered', holdMs: 600_000, duplicateWindowMs: 60_000 } })
      const [t] = s.tenants as [string]
      const [id, other] = await s.enqueue(t, 2)
      const w = s.worker([s.relay.transport(testChannelType)], { leaseMs: 5000 })
      const relayed: Array<[string, string | null]> = []
      w.events.on('relayed', (m, ref) => relayed.push([m.id, ref]))
      const before = Date.now()
      expect(await w.drain()).toBe(2)
      const held = await s.get(t, id!)
      expect(held.status).toBe('processing')
      // The claim's 5 s lease became the hold: 10 minutes from the hand-off.
      expect(held.leasedUntil!.getTime()).toBeGreaterThanOrEqual(before + 590_000)
      expect(await s.attempts(t, id!)).toEqual([])
      expect(relayed.map(([m]) => m).sort()).toEqual([id, other].sort())
      expect(relayed.every(([, ref]) => /^RELAY\d+:\d+$/.test(ref!))).toBe(true)
      const envelope = (await s.read()).map((m) => decodeEnvelope(m.data)!).find((e) => e.id === id)
      expect(envelope!.settle).toBe('delivered')
      expect(envelope!.leaseToken).toBe(held.leaseToken)
      // Nobody else may claim it meanwhile.
      expect(await s.worker([scriptedTransport()]).drain()).toBe(0)
    })

    it('relays the channels it is told to and leaves the others to their own transport', async () => {
      const s = await setup({ keys: ['relayed', 'local'] })
      const [t] = s.tenants as [string]
      const relayedIds = await s.enqueue(t, 3, 'relayed')
      const localIds = await s.enqueue(t, 2, 'local')
      const local = scriptedTransport()
      const w = s.worker([s.relay.transport(local, { when: (c) => c.channelKey === 'relayed' })])
      expect(await w.drain()).toBe(5)
      expect((await s.read()).map((m) => m.msgId).sort()).toEqual([...relayedIds].sort())
      expect([...local.delivered.keys()].sort()).toEqual([...localIds].sort())
    })

    it('fails a message too large for the broker at once, visibly', async () => {
      const s = await setup()
      const [t] = s.tenants as [string]
      const [id] = await s.enqueue(t, 1, 'alerts', { blob: 'x'.repeat(40_000) })
      expect(await s.worker([s.relay.transport(testChannelType)]).drain()).toBe(1)
      expect(await s.get(t, id!)).toMatchObject({ status: 'failed' })
      expect(await s.attempts(t, id!)).toMatchObject([
        { outcome: 'permanent', errorCode: 'message_too_large' },
      ])
      expect(await s.read()).toEqual([])
    })

    it('is fair: a 1,000-message backlog of one tenant does not hold back 20 others in the stream', async () => {
      const s = await setup({ tenants: 21 })
      const [big, ...small] = s.tenants as [string, ...string[]]
      await s.enqueue(big, 1000)
      const smallIds = new Set<string>()
      for (const t of small) for (const id of await s.enqueue(t, 5)) smallIds.add(id)
      const w = s.worker([s.relay.transport(testChannelType)], { concurrency: 20 })
      expect(await w.drain()).toBe(1100)
      const stored = await s.read()
      expect(stored).toHaveLength(1100)
      // Where in the stream the last of the 100 small-tenant messages landed.
      const lastSmall = Math.max(...stored.flatMap((m, i) => (smallIds.has(m.msgId!) ? [i] : [])))
      const backlogBefore = stored.slice(0, lastSmall).filter((m) => m.subject.includes(big)).length
      console.log(
        `relay fairness (${name}): last of 100 small-tenant messages at stream position ${lastSmall + 1}, after ${backlogBefore} of the 1,000-message backlog`,
      )
      expect(backlogBefore).toBeLessThan(500)
    })
  })
}
