import { randomUUID } from 'node:crypto'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import type BetterSqlite3 from 'better-sqlite3'
import { z } from 'zod'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
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
    async drain({ total, batch, concurrency }: { total: number; batch: number; concurrency: number }) {
      let settled = 0
      let empty = false
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (settled < total && !empty) {
            const held = await messaging
              .deliveryPort({ fleet: true, workerId })
              .claim({ limit: batch, leaseMs: 60_000 })
            if (held.length === 0) {
              empty = true
              break
            }
            const now = new Date()
            const acks = await messaging.deliveryPort({ fleet: true, workerId }).settle(
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
      return settled
    },
    async close() {
      await storage.close()
    },
  }
}

/**
 * The raw SQLite limit: a plain INSERT per transaction (autocommit) of a row the size of an
 * outbox row into a table with its primary key only, on a WAL file opened as the adapter
 * opens its own. Neither sets `synchronous`: better-sqlite3 builds SQLite with
 * SQLITE_DEFAULT_WAL_SYNCHRONOUS=1, so once a connection writes through the WAL both run
 * at NORMAL (reported by `synchronous`, read after the first write).
 */
export function openRawSqlite(dir: string, tenantCount: number) {
  const Database = requireModule('better-sqlite3') as typeof BetterSqlite3
  const db = new Database(join(dir, 'raw.db'))
  db.pragma('journal_mode = WAL')
  db.exec(`create table raw_outbox (
    id text primary key, infrastructure_id text not null, channel_id text not null, payload text not null,
    status text not null, attempts integer not null, available_at text not null, created_at text not null)`)
  const tenants = Array.from({ length: tenantCount }, () => randomUUID())
  const channels = Array.from({ length: tenantCount }, () => randomUUID())
  const insert = db.prepare(
    `insert into raw_outbox (id, infrastructure_id, channel_id, payload, status, attempts, available_at, created_at)
     values (?, ?, ?, ?, 'pending', 0, ?, ?)`,
  )
  return {
    synchronous: String(db.pragma('synchronous', { simple: true })),
    insert(t: number, s: number) {
      const now = new Date().toISOString()
      insert.run(randomUUID(), tenants[t], channels[t], JSON.stringify(payloadOf(t, s)), now, now)
    },
    close() {
      db.close()
    },
  }
}
