/**
 * A fleet delivery worker process, for test/live/events-postgres.test.ts:
 *   node --import tsx events-child.ts <app url> <worker url>
 * It prints "ready", delivers every due message (any tenant) until its stdin says "stop",
 * then exits. The events its settles write reach the parent only through PostgreSQL.
 */
import { createInterface } from 'node:readline'
import { createPostgresStorage } from '../../src/adapters/postgres/index.js'
import { createMessaging } from '../../src/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { scriptedTransport, testChannelType } from '../support/transports.js'

const [appUrl, workerUrl] = process.argv.slice(2)
const storage = await createPostgresStorage({
  connectionString: appUrl!,
  workerConnectionString: workerUrl!,
  poolSize: 2,
})
const messaging = createMessaging({ storage, channelTypes: [testChannelType] })
const worker = createDeliveryWorker({
  messaging,
  fleet: true,
  transports: [scriptedTransport()],
  pollIntervalMs: 20,
})
worker.events.on('error', (e) => process.stderr.write(`worker error: ${String(e)}\n`))
const stop = new AbortController()
const lines = createInterface({ input: process.stdin })
lines.on('line', (l) => {
  if (l.trim() === 'stop') stop.abort()
})
const running = worker.run(stop.signal)
process.stdout.write('ready\n')
await running
lines.close()
await storage.close()
