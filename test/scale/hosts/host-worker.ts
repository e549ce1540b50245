/**
 * One delivery worker on one "host" of the multi-host test, run inside a network namespace
 * with `node --import tsx`:
 *
 *   host-worker.ts <databaseUrl> <workerId> <host>
 *
 * A fleet worker over PostgreSQL with the real webhook transport (the test subnet allowed
 * explicitly, SUBNET), naming its host in its attempts (`workerHost`) and in the User-Agent the receivers
 * log. Prints `ready` once connected, starts on `go` from standard input (so start-up is not
 * on the test's clock), prints `lost <id>` for each lease it loses, runs until SIGTERM.
 * Secrets come from MESSAGING_SECRET_KEYS.
 */
import { once } from 'node:events'
import { createPostgresStorage } from '../../../src/adapters/postgres/index.js'
import { createWebhookTransport } from '../../../src/adapters/transports/webhook/index.js'
import { createMessaging } from '../../../src/index.js'
import { createDeliveryWorker } from '../../../src/worker/index.js'

const [databaseUrl, workerId, host] = process.argv.slice(2) as [string, string, string]
const subnet = process.env.SUBNET!

const storage = await createPostgresStorage({
  connectionString: databaseUrl,
  workerConnectionString: databaseUrl,
  poolSize: 4,
})
const messaging = createMessaging({ storage })
const worker = createDeliveryWorker({
  messaging,
  fleet: true,
  workerId,
  workerHost: host,
  transports: [
    createWebhookTransport({
      allowHttp: true,
      ssrf: { allowedRanges: [subnet] },
      userAgent: `host-test/${host}`,
    }),
  ],
  concurrency: 16,
  leaseMs: 10_000,
  renewEveryMs: 2000,
  pollIntervalMs: 50,
  shutdownGraceMs: 5000,
})
// A lease this worker lost (renewal refused, or its ack refused): another worker may deliver
// the message again, and the test tells such duplicates from the kill's by these lines.
worker.events.on('leaseLost', (m) => process.stdout.write(`lost ${m.id}\n`))
process.stdout.write('ready\n')
process.stdin.setEncoding('utf8')
for (;;) {
  const [chunk] = (await once(process.stdin, 'data')) as [string]
  if (chunk.includes('go')) break
}
const stop = new AbortController()
process.once('SIGTERM', () => stop.abort())
await worker.run(stop.signal)
await messaging.close()
process.exit(0)
