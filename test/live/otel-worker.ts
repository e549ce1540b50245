/**
 * A fleet delivery worker process with the OpenTelemetry SDK registered, for
 * test/live/otel-postgres.test.ts:
 *   node --import tsx otel-worker.ts <app url> <worker url>
 * It prints "ready", delivers until the message it reads on stdin (its id) is settled, then
 * prints the spans it finished, one JSON line, and exits.
 */
import { createInterface } from 'node:readline'
import { createPostgresStorage } from '../../src/adapters/postgres/index.js'
import { createMessaging } from '../../src/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { scriptedTransport, testChannelType } from '../support/transports.js'
import { registerOtelSdk } from './otel-sdk.js'

const sdk = registerOtelSdk()
const [appUrl, workerUrl] = process.argv.slice(2)
const storage = await createPostgresStorage({
  connectionString: appUrl!,
  workerConnectionString: workerUrl!,
  poolSize: 2,
})
const transport = scriptedTransport()
const messaging = createMessaging({ storage, channelTypes: [testChannelType] })
const worker = createDeliveryWorker({ messaging, fleet: true, transports: [transport], pollIntervalMs: 20 })
worker.events.on('error', (e) => process.stderr.write(`worker error: ${String(e)}\n`))
const stop = new AbortController()
const lines = createInterface({ input: process.stdin })
const wanted = new Promise<string>((resolve) => lines.once('line', (l) => resolve(l.trim())))
process.stdout.write('ready\n')
const id = await wanted
worker.events.on('delivered', (held) => {
  if (held.id === id) stop.abort()
})
await worker.run(stop.signal)
const spans = sdk.spans.getFinishedSpans().map((s) => ({
  name: s.name,
  traceId: s.spanContext().traceId,
  spanId: s.spanContext().spanId,
  parentSpanId: s.parentSpanContext?.spanId ?? null,
  parentIsRemote: s.parentSpanContext?.isRemote ?? null,
  attributes: s.attributes,
}))
process.stdout.write(`${JSON.stringify(spans)}\n`)
lines.close()
await storage.close()
await sdk.shutdown()
