import { AckPolicy, connect, type NatsConnection } from 'nats'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { createMessaging } from '../../src/index.js'
import {
  consumerPermissions,
  createJetStreamDeliveryWorker,
  createJetStreamRelay,
  decodeEnvelope,
  ensureRelayStream,
  relayPermissions,
} from '../../src/nats/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { principal, tenant } from '../support/fixtures.js'
import { type NatsCluster, startNatsCluster } from '../support/nats-cluster.js'
import { scriptedTransport, testChannelType, until } from '../support/transports.js'

/**
 * Issue 20 item 2: per-tenant subject permissions. The server configuration is made from the
 * adapter's own permission helpers (as docs/relay.md shows): the relay's user may only publish
 * on the relay's subjects; each tenant's user may only create and pull its own durable
 * consumer, filtered to `messaging.<its infrastructureId>.>`, and reply on its own inbox.
 */
const A = tenant().infra
const B = tenant().infra
const PASSWORD = 'relay-permissions-test'

const users = [
  { user: 'operator', password: PASSWORD }, // creates the stream; no permissions block = all
  { user: 'relay', password: PASSWORD, permissions: relayPermissions({ inboxPrefix: '_INBOX_relay' }) },
  ...[A, B].map((t) => ({
    user: `tenant-${t}`,
    password: PASSWORD,
    permissions: consumerPermissions({
      durable: `tenant-${t}`,
      infrastructureId: t,
      inboxPrefix: `_INBOX_${t}`,
    }),
  })),
]

let server: NatsCluster
const connections: NatsConnection[] = []
async function as(user: string, inboxPrefix?: string): Promise<NatsConnection> {
  const nc = await connect({
    servers: [...server.servers],
    user,
    pass: PASSWORD,
    ...(inboxPrefix && { inboxPrefix }),
  })
  connections.push(nc)
  return nc
}

/** The next permissions violation the server reports to `nc` about `subject`: `publish` or `subscription`. */
async function violation(nc: NatsConnection, subject: string): Promise<string> {
  for await (const s of nc.status()) {
    if (s.type === 'error' && s.permissionContext?.subject === subject) return s.permissionContext.operation
  }
  throw new Error('connection closed before the violation was reported')
}

beforeAll(async () => {
  // JSON is NATS configuration too: the users block is the helpers' output as is.
  server = await startNatsCluster({
    nodes: 1,
    extraConfig: `authorization { users: ${JSON.stringify(users)} }`,
  })
  await ensureRelayStream(await (await as('operator')).jetstreamManager())
})
afterAll(async () => {
  for (const nc of connections) await nc.close().catch(() => undefined)
  await server?.stop()
})

describe('per-tenant subject permissions', () => {
  it("lets a tenant's consumer read its own messages and nothing of another tenant's", async () => {
    const messaging = createMessaging({ storage: createMemoryStorage(), channelTypes: [testChannelType] })
    const admin = principal('infra_admin', [
      [A, null],
      [B, null],
    ])
    for (const t of [A, B])
      await messaging.createChannel(admin, {
        infrastructureId: t,
        channelKey: 'alerts',
        type: 'test',
        config: {},
      })
    const queued = async (t: string, n: number) =>
      (
        await messaging.enqueueMany(
          admin,
          Array.from({ length: n }, (_, i) => ({
            infrastructureId: t,
            channelKey: 'alerts',
            payload: { i },
          })),
        )
      ).map((r) => r.message.id)
    const ofA = await queued(A, 3)
    const ofB = await queued(B, 4)

    const relayConn = await as('relay', '_INBOX_relay')
    const relay = createJetStreamRelay({ jetstream: relayConn.jetstream() })
    const worker = createDeliveryWorker({
      messaging,
      principal: principal('service', [
        [A, null],
        [B, null],
      ]),
      transports: [relay.transport(testChannelType)],
      pollIntervalMs: 20,
    })
    expect(await worker.drain()).toBe(7)

    const a = await as(`tenant-${A}`, `_INBOX_${A}`)
    const jsmA = await a.jetstreamManager({ checkAPI: false })
    await jsmA.consumers.add('MESSAGING', {
      durable_name: `tenant-${A}`,
      ack_policy: AckPolicy.Explicit,
      filter_subject: `messaging.${A}.>`,
    })
    const mine = await a.jetstream().consumers.get('MESSAGING', `tenant-${A}`)
    const got: string[] = []
    const batch = await mine.fetch({ max_messages: 10, expires: 1000 })
    for await (const m of batch) {
      const envelope = decodeEnvelope(m.data)!
      expect(envelope.infrastructureId).toBe(A)
      got.push(envelope.id)
      m.ack()
    }
    expect(got.sort()).toEqual([...ofA].sort())

    // B's messages are still all there, for B's consumer alone.
    const b = await as(`tenant-${B}`, `_INBOX_${B}`)
    await (await b.jetstreamManager({ checkAPI: false })).consumers.add('MESSAGING', {
      durable_name: `tenant-${B}`,
      ack_policy: AckPolicy.Explicit,
      filter_subject: `messaging.${B}.>`,
    })
    const theirs = await (await b.jetstream().consumers.get('MESSAGING', `tenant-${B}`)).fetch({
      max_messages: 10,
      expires: 1000,
    })
    const gotB: string[] = []
    for await (const m of theirs) {
      gotB.push(decodeEnvelope(m.data)!.id)
      m.ack()
    }
    expect(gotB.sort()).toEqual([...ofB].sort())
  })

  it("runs the module's JetStream delivery worker as a tenant's user: its messages delivered and settled, none of another's", async () => {
    const messaging = createMessaging({ storage: createMemoryStorage(), channelTypes: [testChannelType] })
    const both: Array<[string, null]> = [
      [A, null],
      [B, null],
    ]
    const admin = principal('infra_admin', both)
    for (const t of [A, B])
      await messaging.createChannel(admin, {
        infrastructureId: t,
        channelKey: 'alerts',
        type: 'test',
        config: {},
      })
    const queued = async (t: string, n: number) =>
      (
        await messaging.enqueueMany(
          admin,
          Array.from({ length: n }, (_, i) => ({
            infrastructureId: t,
            channelKey: 'alerts',
            payload: { i },
          })),
        )
      ).map((r) => r.message.id)
    const ofA = await queued(A, 3)
    const ofB = await queued(B, 2)
    const relayConn = await as('relay', '_INBOX_relay')
    const relay = createJetStreamRelay({ jetstream: relayConn.jetstream(), settle: 'delivered' })
    const relaying = createDeliveryWorker({
      messaging,
      principal: principal('service', both),
      transports: [relay.transport(testChannelType)],
      pollIntervalMs: 20,
    })
    expect(await relaying.drain()).toBe(5)

    // Tenant A's consumer, made and pulled by A's own user, delivering with A's service principal.
    const transport = scriptedTransport()
    const worker = createJetStreamDeliveryWorker({
      messaging,
      principal: principal('service', [[A, null]]),
      connection: await as(`tenant-${A}`, `_INBOX_${A}`),
      durable: `tenant-${A}`,
      infrastructureId: A,
      transports: [transport],
    })
    const running = worker.run()
    const status = (t: string, id: string) =>
      messaging.getMessage(admin, { infrastructureId: t, messageId: id }).then((m) => m.status)
    await until(
      async () => (await Promise.all(ofA.map((id) => status(A, id)))).every((s) => s === 'processed'),
      15_000,
    )
    await worker.stop()
    await running
    expect([...transport.delivered.keys()].sort()).toEqual([...ofA].sort())
    // B's messages are still held for B's consumer.
    for (const id of ofB) expect(await status(B, id)).toBe('processing')
  })

  it("refuses a tenant every way into another tenant's subjects", async () => {
    const a = await as(`tenant-${A}`, `_INBOX_${A}`)
    const jsmA = await a.jetstreamManager({ checkAPI: false })
    const permission = /Permissions Violation/
    // A consumer of its own name over B's subjects, or over every subject.
    await expect(
      jsmA.consumers.add('MESSAGING', {
        durable_name: `tenant-${A}`,
        ack_policy: AckPolicy.Explicit,
        filter_subject: `messaging.${B}.>`,
      }),
    ).rejects.toThrow(permission)
    await expect(
      jsmA.consumers.add('MESSAGING', { durable_name: `tenant-${A}`, ack_policy: AckPolicy.Explicit }),
    ).rejects.toThrow(permission)
    // B's consumer, the stream's messages by sequence, the stream's settings.
    await expect(a.jetstream().consumers.get('MESSAGING', `tenant-${B}`)).rejects.toThrow(permission)
    await expect(jsmA.streams.getMessage('MESSAGING', { seq: 1 })).rejects.toThrow(permission)
    await expect(jsmA.streams.info('MESSAGING')).rejects.toThrow(permission)
    // Listening on B's subjects, or on the shared reply subjects, and forging a message on its own.
    const seen = violation(a, `messaging.${B}.>`)
    a.subscribe(`messaging.${B}.>`)
    expect(await seen).toBe('subscription')
    const inbox = violation(a, '_INBOX.>')
    a.subscribe('_INBOX.>')
    expect(await inbox).toBe('subscription')
    const forged = violation(a, `messaging.${A}.alerts`)
    a.publish(`messaging.${A}.alerts`, 'forged')
    expect(await forged).toBe('publish')
  })

  it("keeps the relay's user to publishing: it cannot read what it relayed", async () => {
    const relayConn = await as('relay', '_INBOX_relay')
    const jsm = await relayConn.jetstreamManager({ checkAPI: false })
    await expect(
      jsm.consumers.add('MESSAGING', { durable_name: 'snoop', ack_policy: AckPolicy.Explicit }),
    ).rejects.toThrow(/Permissions Violation/)
    await expect(jsm.streams.getMessage('MESSAGING', { seq: 1 })).rejects.toThrow(/Permissions Violation/)
    const seen = violation(relayConn, `messaging.${A}.>`)
    relayConn.subscribe(`messaging.${A}.>`)
    expect(await seen).toBe('subscription')
  })
})
