/**
 * One fleet delivery worker process for test/postgres/crash.test.ts:
 *   node --import tsx crash-worker.ts <worker login url> <worker id> <concurrency> <lease ms>
 * It prints "ready" once it runs and stops cleanly on SIGTERM.
 */
import { createPostgresStorage } from '../../src/adapters/postgres/index.js'
import { createMessaging } from '../../src/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
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
const stop = new AbortController()
process.once('SIGTERM', () => stop.abort())
const running = worker.run(stop.signal)
process.stdout.write('ready\n')
await running
await storage.close()
