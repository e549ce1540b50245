/**
 * A separate OS process for the multi-process tests, run with `node --import tsx`:
 * it uses the adapter's real code, nothing re-implemented.
 *
 *   claim <db> <infrastructureId>  claims (and acks) until the outbox is drained
 *   open  <db> <infrastructureId>  opens the file (migrating it) and writes one channel
 *
 * Prints `ready` once loaded, waits for a line on stdin (so siblings start together),
 * then prints one JSON line with what it did.
 */
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { TenantScope } from '../../src/domain/tenant-scope.js'

const [mode, path, infrastructureId] = process.argv.slice(2) as [string, string, string]

async function claimUntilDrained() {
  const storage = createSqliteStorage({ path, busyTimeoutMs: 20_000 })
  const worker = TenantScope.of({
    userId: randomUUID(),
    role: 'service',
    grants: [{ infrastructureId, businessId: null }],
  })
  const held: string[] = []
  let claims = 0
  let emptyInARow = 0
  while (emptyInARow < 3) {
    const batch = await storage.unitOfWork.run(worker, (r) =>
      r.outbox.claim(worker, { limit: 4, leaseMs: 600_000 }),
    )
    claims++
    if (batch.length === 0) emptyInARow++
    else emptyInARow = 0
    for (const m of batch) {
      held.push(m.id)
      const done = { status: 'processed' as const, lastError: null }
      const acked = await storage.unitOfWork.run(worker, (r) =>
        r.outbox.settle(worker, { infrastructureId, id: m.id, leaseToken: m.leaseToken, settlement: done }),
      )
      if (!acked) throw new Error(`ack of ${m.id} refused`)
    }
    // A real worker delivers between claims; a millisecond lets the other process in.
    await new Promise((r) => setTimeout(r, 1))
  }
  await storage.close()
  return { pid: process.pid, claims, held }
}

async function openAndWrite() {
  const storage = createSqliteStorage({ path, busyTimeoutMs: 20_000 })
  const admin = TenantScope.of({
    userId: randomUUID(),
    role: 'infra_admin',
    grants: [{ infrastructureId, businessId: null }],
  })
  const t = new Date()
  const channel = {
    id: randomUUID(),
    infrastructureId,
    channelKey: 'from-child',
    type: 'in_app',
    name: `child ${process.pid}`,
    config: {},
    enabled: true,
    maxAttempts: null,
    createdBy: admin.userId,
    createdAt: t,
    updatedAt: t,
  }
  await storage.unitOfWork.run(admin, (r) => r.channels.insert(admin, channel))
  const back = await storage.unitOfWork.run(admin, (r) =>
    r.channels.findById(admin, infrastructureId, channel.id),
  )
  await storage.close()
  return { pid: process.pid, wrote: back?.id === channel.id }
}

process.stdout.write('ready\n')
await once(process.stdin, 'data')
process.stdin.pause()
const result = mode === 'claim' ? await claimUntilDrained() : await openAndWrite()
process.stdout.write(`${JSON.stringify(result)}\n`)
