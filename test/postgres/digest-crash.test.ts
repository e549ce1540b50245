import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPostgresStorage, type PostgresStorage } from '../../src/adapters/postgres/index.js'
import { createMessaging, TenantScope } from '../../src/index.js'
import { createSecretBox } from '../../src/secrets/index.js'
import { allReady, STARTUP_BUDGET_MS, startWorker, type WorkerProcess } from '../crash/crash-harness.js'
import { principal, uuid } from '../support/fixtures.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { until } from '../support/transports.js'

/**
 * The digest crash test on PostgreSQL (the SQLite one is test/crash/digest-crash.test.ts):
 * a fleet worker process killed with SIGKILL inside its digest close (a latch after the close
 * statement, before the commit); a second worker then closes and delivers the digest once,
 * with every item. The database's clock is the test's: it ends the window, then lets the
 * killed worker's lease lapse.
 */
const keys = `k1:${randomBytes(32).toString('base64')}`
const T0 = new Date('2026-06-01T00:00:00.000Z')
const atOffset = (ms: number) => new Date(T0.getTime() + ms)
let db: TestDatabase
let storage: PostgresStorage
let workers: WorkerProcess[] = []
let server: Server | undefined

beforeAll(async () => {
  db = await createTestDatabase('digest_crash', { clock: true })
  await db.clock.set(T0)
  workers = [
    startWorker(
      'postgres',
      db.workerUrl,
      'w1',
      { MESSAGING_SECRET_KEYS: keys },
      { script: './digest-crash-worker.ts', args: ['latch'] },
    ),
    startWorker(
      'postgres',
      db.workerUrl,
      'w2',
      { MESSAGING_SECRET_KEYS: keys },
      { script: './digest-crash-worker.ts' },
    ),
  ]
  await allReady(workers)
}, STARTUP_BUDGET_MS + 20_000)

afterAll(async () => {
  for (const w of workers) if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGKILL')
  server?.closeAllConnections()
  await new Promise((r) => (server ? server.close(r) : r(undefined)))
  await storage?.close()
  await db?.drop()
})

describe("postgres: a fleet worker killed while it closes a digest (a category's and a channel's)", () => {
  it('loses no item and sends none twice: the next worker closes the same digest and delivers it once, whole', async () => {
    const bodies: Array<{ id: string; by: string; body: string }> = []
    server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        bodies.push({
          id: String(req.headers['webhook-id']),
          by: String(req.headers['user-agent']).replace('crash-test/', ''),
          body: Buffer.concat(chunks).toString('utf8'),
        })
        res.writeHead(204).end()
      })
    })
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
    const [keyId, b64] = keys.split(':') as [string, string]
    storage = await createPostgresStorage({ connectionString: db.appUrl })
    const messaging = createMessaging({
      storage,
      destinations: { allowedRanges: ['127.0.0.0/8'] },
      secrets: createSecretBox({ keys: { [keyId]: b64 }, activeKeyId: keyId }),
    })
    const infrastructureId = uuid()
    const admin = principal('infra_admin', [[infrastructureId, null]])
    const service = principal('service', [[infrastructureId, null]])
    await messaging.createChannel(admin, {
      infrastructureId,
      channelKey: 'hooks',
      type: 'webhook',
      config: { url, secrets: [`whsec_${randomBytes(24).toString('base64')}`] },
    })
    // A channel that digests its plain enqueues: its digest is closed and delivered the same way.
    await messaging.createChannel(admin, {
      infrastructureId,
      channelKey: 'batched',
      type: 'webhook',
      config: {
        url,
        secrets: [`whsec_${randomBytes(24).toString('base64')}`],
        digest: { windowSeconds: 60, maxItems: 100 },
      },
    })
    await messaging.createCategory(admin, {
      infrastructureId,
      key: 'build.failed',
      name: 'Build failed',
      channels: { webhook: { channelKey: 'hooks' } },
      digest: { windowSeconds: 60, maxItems: 100 },
    })
    const ada = uuid()
    await messaging.upsertProfile(admin, { infrastructureId, userId: ada })
    const notified: string[] = []
    for (const n of [1, 2, 3, 4, 5]) {
      await db.clock.set(atOffset(n * 1000))
      const { notification } = await messaging.notify(service, {
        infrastructureId,
        category: 'build.failed',
        to: { users: [ada] },
        data: { build: n },
      })
      notified.push(notification.id)
    }
    const [digestMessage, ...others] = await messaging.listMessages(admin, { infrastructureId })
    expect(others).toEqual([])
    const digestId = digestMessage!.id
    // High priority: its delivery is claimed first, so the latch most often stops in its close.
    const plain = []
    for (const job of [1, 2, 3]) {
      plain.push(
        await messaging.enqueue(service, {
          infrastructureId,
          channelKey: 'batched',
          payload: { job },
          priority: 'high',
        }),
      )
    }
    const channelDigestId = plain[0]!.message.id
    expect(plain.map((p) => p.message.id)).toEqual([channelDigestId, channelDigestId, channelDigestId])
    // Both windows (opened at T0 + 1 s and T0 + 5 s) have ended by the database's clock.
    await db.clock.set(atOffset(66_000))
    const [w1, w2] = workers as [WorkerProcess, WorkerProcess]
    w1.go()
    // Both closes run, each in its own transaction, and stop before their commits.
    await until(
      () =>
        w1.output().includes(`closing ${digestId}\n`) && w1.output().includes(`closing ${channelDigestId}\n`),
      30_000,
    )
    w1.proc.kill('SIGKILL')
    expect(await w1.exited).toBe(null)
    // Its transaction died with its connection: the digest is open again (or never stopped being).
    const scope = TenantScope.of(service)
    const isOpen = async (id: string) =>
      (await storage.unitOfWork.run(scope, (r) => r.digests.find(scope, infrastructureId, id)))?.closedAt ===
      null
    await until(async () => (await isOpen(digestId)) && (await isOpen(channelDigestId)), 30_000)
    expect(bodies).toEqual([])
    // w1's lease (2 s from the claim) has lapsed by the database's clock: w2 takes the message.
    await db.clock.set(atOffset(70_000))
    w2.go()
    const processed = async (messageId: string) =>
      (await messaging.getMessage(admin, { infrastructureId, messageId })).status === 'processed'
    await until(async () => (await processed(digestId)) && (await processed(channelDigestId)), 30_000)
    expect(bodies.map((b) => [b.id, b.by]).sort()).toEqual(
      [
        [digestId, 'w2'],
        [channelDigestId, 'w2'],
      ].sort(),
    )
    const batched = JSON.parse(bodies.find((b) => b.id === channelDigestId)!.body) as { digest: object }
    expect(batched.digest).toMatchObject({ count: 3, items: [{ job: 1 }, { job: 2 }, { job: 3 }] })
    const sent = JSON.parse(bodies.find((b) => b.id === digestId)!.body) as {
      digest: Record<string, unknown>
    }
    expect(sent.digest).toMatchObject({
      count: 5,
      items: [{ build: 1 }, { build: 2 }, { build: 3 }, { build: 4 }, { build: 5 }],
      notificationIds: notified,
      firstAt: atOffset(1000).toISOString(),
      lastAt: atOffset(5000).toISOString(),
    })
    const closed = await storage.unitOfWork.run(scope, (r) =>
      r.digests.find(scope, infrastructureId, digestId),
    )
    expect(closed?.closedAt).toEqual(atOffset(70_000))
    expect(await messaging.listMessages(admin, { infrastructureId })).toHaveLength(2)
    w2.proc.kill('SIGTERM')
    expect(await w2.exited).toBe(0)
  }, 90_000)
})
