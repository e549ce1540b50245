import { randomUUID } from 'node:crypto'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import type BetterSqlite3 from 'better-sqlite3'
import { z } from 'zod'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { migrateSqlite } from '../../src/adapters/sqlite/sqlite-migrator.js'
import { type ChannelTypeDefinition, createMessaging, type Principal } from '../../src/index.js'
import { payloadOf } from '../common.js'

const requireModule = createRequire(import.meta.url)

const benchChannelType: ChannelTypeDefinition = {
  type: 'bench',
  configSchema: z.strictObject({}),
  secretPaths: [],
}

/** This module on a SQLite file (WAL), through the facade: one channel per tenant. */
export async function openSqliteModule(dir: string, tenantCount: number) {
  const path = join(dir, 'messaging.db')
  const storage = createSqliteStorage({ path })
  const messaging = createMessaging({ storage, channelTypes: [benchChannelType] })
  const tenants = Array.from({ length: tenantCount }, () => randomUUID())
  const admin: Principal = {
    userId: randomUUID(),
    role: 'infra_admin',
    grants: tenants.map((infrastructureId) => ({ infrastructureId, businessId: null })),
  }
  const producers: Principal[] = tenants.map((infrastructureId) => ({
    userId: randomUUID(),
    role: 'member',
    grants: [{ infrastructureId, businessId: null }],
  }))
  for (const infrastructureId of tenants) {
    await messaging.createChannel(admin, {
      infrastructureId,
      channelKey: 'bench',
      type: 'bench',
      config: {},
      maxAttempts: 5,
    })
  }
  const workerId = randomUUID()
  const port = messaging.deliveryPort({ fleet: true, workerId })
  const input = (t: number, s: number) => ({
    infrastructureId: tenants[t]!,
    channelKey: 'bench',
    payload: { ...payloadOf(t, s) },
  })
  return {
    path,
    /** One message, one unit of work (the facade's enqueue). */
    async enqueue(t: number, s: number) {
      await messaging.enqueue(producers[t]!, input(t, s))
    },
    /** Ready messages for the drain (not measured): enqueueMany in batches of 1,000. */
    async prefill(count: number, tenantOf: (i: number) => number) {
      for (let from = 0; from < count; from += 1000) {
        const t = tenantOf(from)
        const n = Math.min(1000, count - from)
        await messaging.enqueueMany(
          producers[t]!,
          Array.from({ length: n }, (_, k) => input(t, from + k)),
        )
      }
    },
    /** Claims of `batch` through the fleet's delivery port, each batch settled in one call. */
    async drain({ batch, concurrency, deadline }: { batch: number; concurrency: number; deadline: number }) {
      let settled = 0
      let empty = false
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (!empty && performance.now() < deadline) {
            const held = await port.claim({ limit: batch, leaseMs: 60_000 })
            if (held.length === 0) {
              empty = true
              break
            }
            const now = new Date()
            const acks = await port.settle(
              held.map((h) => ({
                held: h,
                report: {
                  outcome: 'delivered' as const,
                  errorCode: null,
                  error: null,
                  providerMessageId: null,
                  startedAt: now,
                  finishedAt: now,
                  workerId,
                },
              })),
            )
            settled += acks.filter((a) => a.acked).length
          }
        }),
      )
      return { settled, empty }
    },
    async close() {
      await storage.close()
    },
  }
}

/**
 * The raw SQLite limit for the same work: better-sqlite3 prepared statements on the
 * module's own schema (its migrations, so the same tables, indexes, checks and triggers),
 * on a WAL file opened as the adapter opens its own, doing the writes the module does and
 * nothing else:
 * - an enqueue is one `BEGIN IMMEDIATE` transaction: the channel looked up by key, the
 *   outbox row inserted, the audit row inserted;
 * - a drained batch is two transactions: the claim (the oldest due rows, each updated to
 *   processing with a lease token) and the settle (each row updated to processed, its
 *   attempt recorded).
 * Neither sets `synchronous`: better-sqlite3 builds SQLite with
 * SQLITE_DEFAULT_WAL_SYNCHRONOUS=1, so once a connection writes through the WAL both run at
 * NORMAL (reported by `synchronous`, read after the first write).
 */
export function openRawSqlite(dir: string, tenantCount: number) {
  const Database = requireModule('better-sqlite3') as typeof BetterSqlite3
  const db = new Database(join(dir, 'raw.db'), { timeout: 5000 })
  db.pragma('busy_timeout = 5000')
  db.pragma('journal_mode = WAL')
  db.pragma('foreign_keys = ON')
  migrateSqlite(db)
  const tenants = Array.from({ length: tenantCount }, () => randomUUID())
  const channels = Array.from({ length: tenantCount }, () => randomUUID())
  const actor = randomUUID()
  const addChannel = db.prepare(
    `insert into messaging_channels (infrastructure_id, id, channel_key, type, name, config, enabled, max_attempts,
       created_by, created_at, updated_at) values (?, ?, 'bench', 'bench', 'bench', '{}', 1, 5, ?, ?, ?)`,
  )
  db.transaction(() => {
    for (let t = 0; t < tenantCount; t++)
      addChannel.run(tenants[t], channels[t], actor, Date.now(), Date.now())
  })()
  const channelByKey = db.prepare(
    `select id, enabled, max_attempts from messaging_channels where infrastructure_id = ? and channel_key = ?`,
  )
  const insertOutbox = db.prepare(
    `insert into messaging_outbox (infrastructure_id, id, business_id, channel_id, payload, recipients, idempotency_key,
       max_attempts, created_by, created_at, status, attempts, available_at)
     values (?, ?, null, ?, ?, null, null, ?, ?, ?, 'pending', 0, ?)`,
  )
  const insertAudit = db.prepare(
    `insert into messaging_audit_log (infrastructure_id, actor_id, id, business_id, actor_role, action, target_type,
       target_id, outcome, error_code, details, at)
     values (?, ?, ?, null, 'member', 'outbox.enqueue', 'message', ?, 'ok', null, null, ?)`,
  )
  const ready = db.prepare(
    `select infrastructure_id, id from messaging_outbox
      where status in ('pending', 'processing') and available_at <= ? and (leased_until is null or leased_until <= ?)
      order by available_at, id limit ?`,
  )
  const lease = db.prepare(
    `update messaging_outbox set status = 'processing', attempts = attempts + 1, lease_token = ?, leased_until = ?
      where infrastructure_id = ? and id = ? returning *`,
  )
  const settle = db.prepare(
    `update messaging_outbox set status = 'processed', lease_token = null, leased_until = null, settled_at = ?
      where infrastructure_id = ? and id = ? and lease_token = ?`,
  )
  const attempt = db.prepare(
    `insert into messaging_delivery_attempts (infrastructure_id, message_id, id, business_id, attempt, worker_id,
       started_at, finished_at, duration_ms, outcome, error_code, error, provider_message_id)
     values (?, ?, ?, null, ?, ?, ?, ?, 0, 'delivered', null, null, null)`,
  )
  const write = (t: number, s: number, audit: boolean) => {
    const ch = channelByKey.get(tenants[t], 'bench') as { id: string; max_attempts: number }
    const id = randomUUID()
    const now = Date.now()
    insertOutbox.run(tenants[t], id, ch.id, JSON.stringify(payloadOf(t, s)), ch.max_attempts, actor, now, now)
    if (audit) insertAudit.run(tenants[t], actor, randomUUID(), id, now)
  }
  const enqueueOne = db.transaction((t: number, s: number) => write(t, s, true))
  const claimBatch = db.transaction((n: number) => {
    const now = Date.now()
    const rows = ready.all(now, now, n) as { infrastructure_id: string; id: string }[]
    return rows.map(
      (r) =>
        lease.get(randomUUID(), now + 60_000, r.infrastructure_id, r.id) as {
          infrastructure_id: string
          id: string
          lease_token: string
          attempts: number
        },
    )
  })
  const settleBatch = db.transaction(
    (held: { infrastructure_id: string; id: string; lease_token: string; attempts: number }[]) => {
      const now = Date.now()
      let n = 0
      for (const h of held) {
        if (settle.run(now, h.infrastructure_id, h.id, h.lease_token).changes === 0) continue
        attempt.run(h.infrastructure_id, h.id, randomUUID(), h.attempts, actor, now, now)
        n++
      }
      return n
    },
  )
  // Reads the mode in effect once the WAL is in use.
  enqueueOne(0, -1)
  return {
    synchronous: String(db.pragma('synchronous', { simple: true })),
    /** One message, one transaction (channel lookup, outbox row, audit row). */
    enqueue(t: number, s: number) {
      enqueueOne(t, s)
    },
    /** Ready messages for the drain (not measured), in transactions of 1,000. */
    prefill(count: number, tenantOf: (i: number) => number) {
      const many = db.transaction((from: number, to: number) => {
        for (let i = from; i < to; i++) write(tenantOf(i), i, false)
      })
      for (let from = 0; from < count; from += 1000) many(from, Math.min(count, from + 1000))
    },
    /** Claims of `batch` (one transaction) each settled with its attempts (another), until the deadline or empty. */
    drain({ batch, deadline }: { batch: number; deadline: number }) {
      let settled = 0
      while (performance.now() < deadline) {
        const held = claimBatch(batch)
        if (held.length === 0) return { settled, empty: true }
        settled += settleBatch(held)
      }
      return { settled, empty: false }
    },
    close() {
      db.close()
    },
  }
}
