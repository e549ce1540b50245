/**
 * One fleet delivery worker process for test/postgres/rate-limit.test.ts:
 *   node --import tsx rate-limit-worker.ts <worker login url> <worker id> <concurrency>
 * It delivers over the real webhook transport (to a receiver on loopback) with the worker's
 * default rate limiter, the store's shared buckets. It prints "ready" once built, starts when
 * it reads "go" on stdin (start-up stays out of the test's clock), and stops on SIGTERM.
 */
import { createPostgresStorage } from '../../src/adapters/postgres/index.js'
import { createWebhookTransport } from '../../src/adapters/transports/webhook/index.js'
import { createMessaging } from '../../src/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { waitForGo } from '../support/start-gate.js'

const [url, workerId, concurrency] = process.argv.slice(2)
const storage = await createPostgresStorage({ connectionString: url!, poolSize: 4 })
const webhook = createWebhookTransport({ allowHttp: true, ssrf: { allowedRanges: ['127.0.0.0/8'] } })
const messaging = createMessaging({ storage, transports: [webhook] })
const worker = createDeliveryWorker({
  messaging,
  fleet: true,
  workerId: workerId!,
  transports: [webhook],
  concurrency: Number(concurrency),
  pollIntervalMs: 50,
  shutdownGraceMs: 1000,
})
worker.events.on('error', (e) => process.stderr.write(`worker error: ${String(e)}\n`))
const stop = new AbortController()
process.once('SIGTERM', () => stop.abort())
process.stdout.write('ready\n')
await waitForGo(stop.signal)
await worker.run(stop.signal)
await storage.close()
