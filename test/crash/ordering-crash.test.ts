import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { createMessaging } from '../../src/index.js'
import { createSecretBox } from '../../src/secrets/index.js'
import { principal, uuid } from '../support/fixtures.js'
import { until } from '../support/transports.js'
import { allReady, STARTUP_BUDGET_MS, startWorker, type WorkerProcess } from './crash-harness.js'

const dir = mkdtempSync(join(tmpdir(), 'messaging-ordering-crash-'))
const path = join(dir, 'ordering.db')
const keys = `k1:${randomBytes(32).toString('base64')}`
let workers: WorkerProcess[] = []
let server: Server | undefined
afterAll(async () => {
  for (const w of workers) if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGKILL')
  server?.closeAllConnections()
  await new Promise((r) => (server ? server.close(r) : r(undefined)))
  rmSync(dir, { recursive: true, force: true })
})

describe("sqlite: a worker killed while it holds a key's first message", () => {
  // Both processes start (and migrate the file) before the test's clock; only w1 goes first.
  beforeAll(async () => {
    workers = ['w1', 'w2'].map((n) => startWorker('sqlite', path, n, { MESSAGING_SECRET_KEYS: keys }))
    await allReady(workers)
  }, STARTUP_BUDGET_MS + 20_000)

  it("keeps the key's order: the first goes again once its lease lapses, and only then the second", async () => {
    // A receiver on loopback that never answers the first request it gets for `hold`: the
    // worker that sent it holds that message (the latch), until it is killed.
    const arrivals: Array<{ id: string; by: string }> = []
    let hold = ''
    server = createServer((req, res) => {
      req.resume()
      req.on('end', () => {
        const id = String(req.headers['webhook-id'])
        const by = String(req.headers['user-agent']).replace('crash-test/', '')
        const first = id === hold && !arrivals.some((a) => a.id === id)
        arrivals.push({ id, by })
        if (!first) res.writeHead(204).end()
      })
    })
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
    const [keyId, b64] = keys.split(':') as [string, string]
    const messaging = createMessaging({
      storage: createSqliteStorage({ path }),
      destinations: { allowedRanges: ['127.0.0.0/8'] },
      secrets: createSecretBox({ keys: { [keyId]: b64 }, activeKeyId: keyId }),
    })
    const infrastructureId = uuid()
    const admin = principal('infra_admin', [[infrastructureId, null]])
    await messaging.createChannel(admin, {
      infrastructureId,
      channelKey: 'hooks',
      type: 'webhook',
      config: { url, secrets: [`whsec_${randomBytes(24).toString('base64')}`] },
    })
    const enqueue = async (orderingKey: string | null) =>
      (await messaging.enqueue(admin, { infrastructureId, channelKey: 'hooks', payload: {}, orderingKey }))
        .message.id
    const k1 = await enqueue('acct-42')
    hold = k1
    const k2 = await enqueue('acct-42')
    const free = await enqueue(null)
    const [w1, w2] = workers as [WorkerProcess, WorkerProcess]
    w1.go()
    // The latch: w1 sent k1 and waits for an answer that does not come.
    await until(() => arrivals.some((a) => a.id === k1), 30_000)
    await until(() => arrivals.some((a) => a.id === free), 30_000)
    const get = (messageId: string) => messaging.getMessage(admin, { infrastructureId, messageId })
    expect(await get(k1)).toMatchObject({ status: 'processing' })
    expect(await get(k2)).toMatchObject({ status: 'pending', attempts: 0 })
    w1.proc.kill('SIGKILL')
    expect(await w1.exited).toBe(null)
    w2.go()
    // w1's lease (2 s, never renewed now) lapses; w2 takes k1 again, then k2.
    await until(async () => (await get(k2)).status === 'processed', 30_000)
    expect(arrivals.filter((a) => a.id !== free)).toEqual([
      { id: k1, by: 'w1' },
      { id: k1, by: 'w2' },
      { id: k2, by: 'w2' },
    ])
    expect(await get(k1)).toMatchObject({ status: 'processed', attempts: 2 })
    w2.proc.kill('SIGTERM')
    expect(await w2.exited).toBe(0)
    await messaging.close()
  }, 90_000)
})
