/**
 * A JetStream delivery worker in its own OS process, for the kill test of
 * broker-worker.test.ts, run with `node --import tsx`:
 *
 *   broker-child.ts <sqlite path> <nats url> <stream> <subject prefix> <durable> <receiver url> <principal json>
 *
 * Prints `ready` once connected, then runs until killed. Secrets come from MESSAGING_SECRET_KEYS.
 */
import { connect } from 'nats'
import { createSqliteStorage } from '../../../src/adapters/sqlite/index.js'
import { createMessaging, type Principal } from '../../../src/index.js'
import { createJetStreamDeliveryWorker } from '../../../src/nats/index.js'
import { testChannelType } from '../../support/transports.js'
import { forwardingTransport } from './forward.js'

const [path, natsUrl, stream, subjectPrefix, durable, receiver, who] = process.argv.slice(2) as string[]
const messaging = createMessaging({
  storage: createSqliteStorage({ path: path!, busyTimeoutMs: 20_000 }),
  channelTypes: [testChannelType],
})
const nc = await connect({ servers: natsUrl! })
const worker = createJetStreamDeliveryWorker({
  messaging,
  principal: JSON.parse(who!) as Principal,
  connection: nc,
  stream: stream!,
  subjectPrefix: subjectPrefix!,
  durable: durable!,
  transports: [forwardingTransport(receiver!, 'child')],
  concurrency: 2,
  ackWaitMs: 2000,
})
worker.events.on('error', (e) => process.stderr.write(`${String(e)}\n`))
process.stdout.write('ready\n')
await worker.run()
