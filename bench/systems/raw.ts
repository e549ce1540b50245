import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { payloadOf, type Subject, type SubjectOptions } from '../common.js'
import type { BenchServer } from '../postgres.js'

/**
 * The raw limit: plain INSERTs of rows the size of an outbox row into a table with its
 * primary key and nothing else (no trigger, policy, foreign key or other index), one
 * statement per transaction, or one multi-row statement per batch.
 */
export async function openRaw(server: BenchServer, database: string, opts: SubjectOptions): Promise<Subject> {
  const url = await server.createDatabase(database)
  const pool = new pg.Pool({ connectionString: url, max: opts.poolSize })
  pool.on('error', () => undefined)
  await pool.query(`create table raw_outbox (
    id uuid primary key, infrastructure_id uuid not null, channel_id uuid not null, payload jsonb not null,
    status text not null, attempts integer not null, available_at timestamptz not null, created_at timestamptz not null)`)
  const tenants = Array.from({ length: opts.tenants }, () => randomUUID())
  const channels = Array.from({ length: opts.tenants }, () => randomUUID())
  const insert = {
    name: 'raw_insert',
    text: `insert into raw_outbox (id, infrastructure_id, channel_id, payload, status, attempts, available_at, created_at)
           values ($1, $2, $3, $4, 'pending', 0, $5, $5)`,
  }
  return {
    name: 'raw',
    databases: [database],
    async enqueue(t, s) {
      const now = new Date()
      await pool.query({
        ...insert,
        values: [randomUUID(), tenants[t], channels[t], JSON.stringify(payloadOf(t, s)), now],
      })
    },
    async enqueueBatch(t, seqs) {
      const now = new Date()
      await pool.query(
        `insert into raw_outbox (id, infrastructure_id, channel_id, payload, status, attempts, available_at, created_at)
         select x.id, $2, $3, x.p::jsonb, 'pending', 0, $4, $4 from unnest($1::uuid[], $5::text[]) as x (id, p)`,
        [
          seqs.map(() => randomUUID()),
          tenants[t],
          channels[t],
          now,
          seqs.map((s) => JSON.stringify(payloadOf(t, s))),
        ],
      )
    },
    async prefill() {
      throw new Error('the raw limit is measured for inserts only')
    },
    async close() {
      await pool.end()
      await server.dropDatabase(database)
    },
  }
}
