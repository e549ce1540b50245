import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { createMessaging } from '../../src/index.js'
import { createSecretBox } from '../../src/secrets/index.js'
import { principal, uuid } from '../support/fixtures.js'
import { untilProgressing as until } from '../support/progress.js'
import {
  allReady,
  STARTUP_BUDGET_MS,
  startReceiver,
  startWorker,
  tally,
  type WorkerProcess,
} from './crash-harness.js'

const dir = mkdtempSync(join(tmpdir(), 'messaging-crash-'))
const path = join(dir, 'crash.db')
const keys = `k1:${randomBytes(32).toString('base64')}`
let workers: WorkerProcess[] = []
afterAll(() => {
  for (const w of workers) if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})

const MESSAGES = 2_000
const CONCURRENCY = 8

describe('sqlite: a delivery worker killed mid-run', () => {
  // The workers start (and migrate the file) before the test's clock: they wait for `go`.
  beforeAll(async () => {
    workers = ['w1', 'w2', 'w3'].map((n) => startWorker('sqlite', path, n, { MESSAGING_SECRET_KEYS: keys }))
    await allReady(workers)
  }, STARTUP_BUDGET_MS + 20_000)

  it('loses no message: its leases lapse and the others deliver them; duplicates stay within what it held', async () => {
    const secret = `whsec_${randomBytes(24).toString('base64')}`
    const receiver = await startReceiver(secret, 3)
    const [id, b64] = keys.split(':') as [string, string]
    const messaging = createMessaging({
      storage: createSqliteStorage({ path }),
      // The receiver listens on loopback: the same allow-list the workers' guard reads.
      destinations: { allowedRanges: ['127.0.0.0/8'] },
      secrets: createSecretBox({ keys: { [id]: b64 }, activeKeyId: id }),
    })
    const tenants = [uuid(), uuid(), uuid(), uuid()]
    const admin = principal(
      'infra_admin',
      tenants.map((t) => [t, null]),
    )
    const producer = principal(
      'member',
      tenants.map((t) => [t, null]),
    )
    const ids: string[] = []
    for (const infrastructureId of tenants) {
      await messaging.createChannel(admin, {
        infrastructureId,
        channelKey: 'hooks',
        type: 'webhook',
        config: { url: receiver.url, secrets: [secret] },
      })
    }
    for (let i = 0; i < MESSAGES; i++) {
      const { message } = await messaging.enqueue(producer, {
        infrastructureId: tenants[i % tenants.length]!,
        channelKey: 'hooks',
        payload: { n: i },
      })
      ids.push(message.id)
    }

    for (const w of workers) w.go()
    const victim = workers[0]!
    await until(() => receiver.total() >= MESSAGES / 4, receiver.total, 'a quarter of the messages')
    const killedAt = receiver.total()
    victim.proc.kill('SIGKILL')
    expect(await victim.exited).toBe(null)
    await until(() => ids.every((m) => receiver.deliveries.has(m)), receiver.total, 'every message')
    // Let the lapsed leases settle, then stop the survivors cleanly.
    const service = principal(
      'service',
      tenants.map((t) => [t, null]),
    )
    let processed = 0
    await until(
      async () => {
        processed = (await messaging.stats(service, {})).reduce((n, s) => n + s.processed, 0)
        return processed === MESSAGES
      },
      () => processed,
      'every message to be acked',
    )
    for (const w of workers.slice(1)) w.proc.kill('SIGTERM')
    const codes = await Promise.all(workers.slice(1).map((w) => w.exited))
    const t = tally(receiver, ids, victim.name)
    const stats = await messaging.stats(service, {})
    console.log(
      `sqlite crash: ${t.messages} messages, ${t.received} deliveries, killed w1 after ${killedAt} (it delivered ${t.byKilled}), ` +
        `missing ${t.missing}, duplicates ${t.duplicates} (${t.duplicatesFirstByKilled} first sent by the killed worker), ` +
        `leases reported lost ${workers.map((w) => `${w.name} ${w.lost.size}`).join(', ')}, ` +
        `processed ${stats.reduce((n, s) => n + s.processed, 0)}`,
    )
    expect(codes).toEqual([0, 0])
    expect(t.missing).toBe(0)
    expect(stats.reduce((n, s) => n + s.processed, 0)).toBe(MESSAGES)
    expect(stats.reduce((n, s) => n + s.pending + s.inFlight + s.dead + s.failed, 0)).toBe(0)
    // At least once. A duplicate is a message the killed worker held at the kill, or one whose
    // lease some worker reported lost while it lived (a loaded machine delays a renewal past
    // the lease: at-least-once, not the kill). At the kill it held at most CONCURRENCY.
    const lostAnywhere = new Set(workers.flatMap((w) => [...w.lost]))
    const heldAtKill = t.duplicateIds.filter((id) => !lostAnywhere.has(id))
    for (const id of heldAtKill) expect(receiver.deliveries.get(id)![0], id).toBe(victim.name)
    expect(heldAtKill.length).toBeLessThanOrEqual(CONCURRENCY)
    await messaging.close()
    await receiver.close()
    // A stalled run fails within 30 s (see until); this only bounds a hang.
  }, 300_000)
})
