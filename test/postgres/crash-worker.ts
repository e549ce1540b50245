/**
 * One fleet delivery worker process for test/postgres/crash.test.ts:
 *   node --import tsx crash-worker.ts <worker login url> <worker id> <concurrency> <lease ms>
 * It prints "ready" once its storage and worker are built, starts delivering when it reads
 * "go" on stdin (so start-up, which takes seconds on a loaded machine, is not part of the
 * test's clock), prints "lost <message id>" for each lease it loses, and stops cleanly on
 * SIGTERM.
 */
import { createPostgresStorage } from '../../src/adapters/postgres/index.js'
import { createMessaging } from '../../src/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { waitForGo } from '../support/start-gate.js'
import { crashTransport } from './crash-support.js'

const [url, workerId, concurrency, leaseMs] = process.argv.slice(2)
// The worker's own login (granted messaging_worker): this storage serves the fleet scope only.
const storage = await createPostgresStorage({ connectionString: url!, poolSize: 4 })
const transport = crashTransport(workerId!)
const messaging = createMessaging({ storage, transports: [transport] })
const worker = createDeliveryWorker({
  messaging,
  fleet: true,
  workerId: workerId!,
  transports: [transport],
  concurrency: Number(concurrency),
  leaseMs: Number(leaseMs),
  pollIntervalMs: 100,
  shutdownGraceMs: 1000,
})
worker.events.on('error', (e) => process.stderr.write(`worker error: ${String(e)}\n`))
// A lease that lapsed under this worker (renewal refused, or its ack fenced out): the test
// tells these duplicates, which a slow machine causes, from those of the kill.
worker.events.on('leaseLost', (m) => process.stdout.write(`lost ${m.id}\n`))
const stop = new AbortController()
process.once('SIGTERM', () => stop.abort())
process.stdout.write('ready\n')
await waitForGo(stop.signal)
await worker.run(stop.signal)
await storage.close()
