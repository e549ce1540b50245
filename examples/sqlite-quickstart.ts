/**
 * The module on a SQLite file, no database server: run it twice and see the second run
 * find the first run's data.
 *
 *   node --import tsx examples/sqlite-quickstart.ts [path]   (default ./messaging.db)
 */
import { ConflictError, createMessaging, type Principal } from '../src/index.js'

const path = process.argv[2] ?? './messaging.db'
const infrastructureId = '7a1c3a52-4a83-4a39-9a4e-0c2f8c1d5e01'
const admin: Principal = {
  userId: '0f8e2b7c-1d3a-4e5f-8a9b-2c3d4e5f6a7b',
  role: 'infra_admin',
  grants: [{ infrastructureId, businessId: null }],
}
const worker: Principal = { ...admin, userId: 'c5d2a1e0-9b8f-4c7d-a6e5-f4d3c2b1a098', role: 'service' }

// No `storage` option: SQLite, here on a file (created, migrated and put in WAL mode on first use).
const messaging = createMessaging({ sqlitePath: path })

try {
  await messaging.createChannel(admin, { infrastructureId, channelKey: 'ops-alerts', type: 'in_app' })
  console.log(`created channel ops-alerts in ${path}`)
} catch (e) {
  if (!(e instanceof ConflictError)) throw e
  console.log(`channel ops-alerts already in ${path}`)
}

const { message, created } = await messaging.enqueue(admin, {
  infrastructureId,
  channelKey: 'ops-alerts',
  payload: { text: 'disk 91% full' },
  idempotencyKey: `disk-91-${new Date().toISOString().slice(0, 10)}`,
})
console.log(created ? `enqueued ${message.id}` : `already enqueued today: ${message.id} (${message.status})`)

for (const held of await messaging.claim(worker, { infrastructureId })) {
  const { acked, status } = await messaging.ack(worker, {
    infrastructureId,
    messageId: held.id,
    leaseToken: held.leaseToken,
    outcome: 'processed',
  })
  console.log(`delivered ${held.id}: acked=${acked} status=${status}`)
}

const all = await messaging.listMessages(admin, { infrastructureId })
console.log(`${all.length} message(s) in the outbox of ${infrastructureId}`)
await messaging.close()
