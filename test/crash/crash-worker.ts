/**
 * One delivery-worker OS process for the crash tests, run with `node --import tsx`:
 *
 *   crash-worker.ts sqlite <file> <name>
 *   crash-worker.ts postgres <connectionString> <name>
 *
 * A fleet worker with the real webhook transport (loopback allowed explicitly), a short
 * lease so a killed sibling's messages come back quickly. Prints "ready" once built and
 * starts delivering when it reads "go" on stdin (start-up is not part of a test's clock).
 * Runs until SIGTERM, then shuts down cleanly and exits 0. Secrets come from
 * MESSAGING_SECRET_KEYS.
 */
import { createWebhookTransport } from '../../src/adapters/transports/webhook/index.js'
import { createMessaging } from '../../src/index.js'
import type { MessagingStorage } from '../../src/ports/unit-of-work.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { waitForGo } from '../support/start-gate.js'

const [kind, target, name] = process.argv.slice(2) as ['sqlite' | 'postgres', string, string]

async function storageFor(): Promise<MessagingStorage> {
  if (kind === 'sqlite') {
    const { createSqliteStorage } = await import('../../src/adapters/sqlite/index.js')
    return createSqliteStorage({ path: target, busyTimeoutMs: 20_000 })
  }
  const { createPostgresStorage } = await import('../../src/adapters/postgres/index.js')
  return createPostgresStorage({ connectionString: target }) as unknown as MessagingStorage
}

const storage = await storageFor()
const messaging = createMessaging({ storage })
const worker = createDeliveryWorker({
  messaging,
  fleet: true,
  transports: [
    createWebhookTransport({
      allowHttp: true,
      ssrf: { allowedRanges: ['127.0.0.0/8'] },
      userAgent: `crash-test/${name}`,
    }),
  ],
  concurrency: 8,
  leaseMs: 2_000,
  renewEveryMs: 500,
  pollIntervalMs: 50,
  shutdownGraceMs: 5_000,
})
// A lease that lapsed under this worker (renewal refused, or its ack fenced out): the test
// tells these duplicates, which a slow machine causes, from those of the kill.
worker.events.on('leaseLost', (m) => process.stdout.write(`lost ${m.id}\n`))
const stop = new AbortController()
process.once('SIGTERM', () => stop.abort())
process.stdout.write('ready\n')
await waitForGo(stop.signal)
await worker.run(stop.signal)
await messaging.close()
process.exit(0)
