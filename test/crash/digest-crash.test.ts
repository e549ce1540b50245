import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { createMessaging, TenantScope } from '../../src/index.js'
import { createSecretBox } from '../../src/secrets/index.js'
import { principal, uuid } from '../support/fixtures.js'
import { until } from '../support/transports.js'
import { allReady, STARTUP_BUDGET_MS, startWorker, type WorkerProcess } from './crash-harness.js'

const dir = mkdtempSync(join(tmpdir(), 'messaging-digest-crash-'))
const path = join(dir, 'digest.db')
const keys = `k1:${randomBytes(32).toString('base64')}`
let workers: WorkerProcess[] = []
let server: Server | undefined
afterAll(async () => {
  for (const w of workers) if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGKILL')
  server?.closeAllConnections()
  await new Promise((r) => (server ? server.close(r) : r(undefined)))
  rmSync(dir, { recursive: true, force: true })
})

describe("sqlite: a worker killed while it closes a digest (a category's and a channel's)", () => {
  // Both processes start (and migrate the file) before the test's clock: w1 stops inside its
  // first digest close (the latch), w2 closes as usual.
  beforeAll(async () => {
    workers = [
      startWorker(
        'sqlite',
        path,
        'w1',
        { MESSAGING_SECRET_KEYS: keys },
        { script: './digest-crash-worker.ts', args: ['latch'] },
      ),
      startWorker(
        'sqlite',
        path,
        'w2',
        { MESSAGING_SECRET_KEYS: keys },
        { script: './digest-crash-worker.ts' },
      ),
    ]
    await allReady(workers)
  }, STARTUP_BUDGET_MS + 20_000)

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
    // The items are written on a store clock an hour behind the workers': their digest's
    // window (one minute) has ended by the time the workers look, without a wait.
    const storage = createSqliteStorage({ path, clock: { now: () => new Date(Date.now() - 3_600_000) } })
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
    const [w1, w2] = workers as [WorkerProcess, WorkerProcess]
    w1.go()
    // The latch: w1 closed the digest inside its transaction and stopped there.
    // One close at a time on the file: w1 stops in the first it starts, the other waits behind it.
    await until(() => /closing /.test(w1.output()), 30_000)
    w1.proc.kill('SIGKILL')
    expect(await w1.exited).toBe(null)
    // Its transaction died with it: the digest is still open, nothing was sent.
    const scope = TenantScope.of(service)
    const open = await storage.unitOfWork.run(scope, (r) => r.digests.find(scope, infrastructureId, digestId))
    expect(open).toMatchObject({ closedAt: null })
    expect(open?.items).toHaveLength(5)
    const openChannel = await storage.unitOfWork.run(scope, (r) =>
      r.digests.find(scope, infrastructureId, channelDigestId),
    )
    expect(openChannel).toMatchObject({ closedAt: null })
    expect(openChannel?.items).toHaveLength(3)
    expect(bodies).toEqual([])
    w2.go()
    // w1's lease (2 s, never renewed now) lapses; w2 claims the message, closes the digest and sends it.
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
      digest: { count: number; items: unknown[]; notificationIds: string[] }
    }
    expect(sent.digest).toMatchObject({
      count: 5,
      items: [{ build: 1 }, { build: 2 }, { build: 3 }, { build: 4 }, { build: 5 }],
      notificationIds: notified,
    })
    const closed = await storage.unitOfWork.run(scope, (r) =>
      r.digests.find(scope, infrastructureId, digestId),
    )
    expect(closed?.closedAt).not.toBeNull()
    // Still one message for the five notifications and one for the three enqueues: no second digest.
    expect(await messaging.listMessages(admin, { infrastructureId })).toHaveLength(2)
    w2.proc.kill('SIGTERM')
    expect(await w2.exited).toBe(0)
    await messaging.close()
  }, 90_000)
})
