import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { migrateSqlite, SQLITE_MIGRATIONS } from '../../src/adapters/sqlite/index.js'
import { uuid } from '../support/fixtures.js'

const dir = mkdtempSync(join(tmpdir(), 'messaging-sqlite-cancel-schema-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const raised = (f: () => unknown) => {
  try {
    f()
  } catch (e) {
    return (e as Error).message
  }
  return 'no error'
}

/** Names and text of everything that belongs to the outbox (its indexes and triggers). */
const outboxSchema = (db: Database.Database) =>
  db
    .prepare(
      "select type, name from sqlite_schema where tbl_name = 'messaging_outbox' and name not like 'sqlite_autoindex%' order by type, name",
    )
    .all()

describe('the sqlite schema of cancel', () => {
  it('rebuilds the outbox under the wider status check: every row, attempt, index and rule stays', () => {
    const db = new Database(join(dir, 'upgrade.db'))
    db.pragma('foreign_keys = ON')
    const cancel = SQLITE_MIGRATIONS.find((m) => m.name === 'cancel')!
    migrateSqlite(
      db,
      SQLITE_MIGRATIONS.filter((m) => m.version < cancel.version),
    )
    const before = outboxSchema(db)
    const infra = uuid()
    const channel = uuid()
    const [done, open] = [uuid(), uuid()]
    db.prepare(
      `insert into messaging_channels (infrastructure_id, id, channel_key, type, name, created_by, created_at, updated_at)
       values (?, ?, 'ops', 'in_app', 'Ops', ?, 0, 0)`,
    ).run(infra, channel, uuid())
    const insert = db.prepare(
      `insert into messaging_outbox (infrastructure_id, id, channel_id, payload, max_attempts, created_by, created_at,
         status, attempts, available_at, settled_at, idempotency_key)
       values (?, ?, ?, '{"n":1}', 3, ?, 1000, ?, ?, 1000, ?, ?)`,
    )
    insert.run(infra, done, channel, uuid(), 'processed', 1, 2000, 'k-1')
    insert.run(infra, open, channel, uuid(), 'pending', 0, null, null)
    db.prepare(
      `insert into messaging_delivery_attempts (infrastructure_id, message_id, id, attempt, worker_id, started_at,
         finished_at, duration_ms, outcome) values (?, ?, ?, 1, ?, 1500, 1600, 100, 'delivered')`,
    ).run(infra, done, uuid(), uuid())
    const rows = db.prepare('select * from messaging_outbox order by id').all()

    expect(
      migrateSqlite(
        db,
        SQLITE_MIGRATIONS.filter((m) => m.version <= cancel.version),
      ),
    ).toEqual([cancel.version])
    expect(db.prepare('select * from messaging_outbox order by id').all()).toEqual(rows)
    expect(outboxSchema(db)).toEqual(before)
    expect(db.pragma('foreign_key_check')).toEqual([])
    expect(db.pragma('integrity_check')).toEqual([{ integrity_check: 'ok' }])
    // The attempt still points at its message, and nothing can point anywhere else.
    expect(
      raised(() =>
        db
          .prepare(
            `insert into messaging_delivery_attempts (infrastructure_id, message_id, id, attempt, worker_id,
               started_at, finished_at, duration_ms, outcome) values (?, ?, ?, 1, ?, 0, 0, 0, 'delivered')`,
          )
          .run(infra, uuid(), uuid(), uuid()),
      ),
    ).toMatch(/FOREIGN KEY/)
    // The rules came back with the table: append-only, immutable, a legal state machine.
    expect(raised(() => db.prepare('delete from messaging_outbox where id = ?').run(done))).toMatch(
      /append-only/,
    )
    expect(
      raised(() => db.prepare(`update messaging_outbox set payload = '{}' where id = ?`).run(open)),
    ).toMatch(/only the delivery state/)
    expect(
      raised(() => db.prepare(`update messaging_outbox set status = 'cancelled' where id = ?`).run(done)),
    ).toMatch(/illegal status transition/)
    expect(
      raised(() =>
        db
          .prepare(
            `insert into messaging_outbox (infrastructure_id, id, channel_id, payload, max_attempts, created_by,
               created_at, available_at, idempotency_key) values (?, ?, ?, '{}', 3, ?, 0, 0, 'k-1')`,
          )
          .run(infra, uuid(), channel, uuid()),
      ),
    ).toMatch(/UNIQUE/)
    // ... and the new state is one of them.
    db.prepare(`update messaging_outbox set status = 'cancelled', settled_at = 3000 where id = ?`).run(open)
    expect(
      raised(() => db.prepare(`update messaging_outbox set status = 'pending' where id = ?`).run(open)),
    ).toMatch(/illegal status transition/)
    expect(
      raised(() =>
        db
          .prepare(
            `insert into messaging_outbox (infrastructure_id, id, channel_id, payload, max_attempts, created_by,
               created_at, available_at, status) values (?, ?, ?, '{}', 3, ?, 0, 0, 'held')`,
          )
          .run(infra, uuid(), channel, uuid()),
      ),
    ).toMatch(/CHECK/)
    db.close()
  })
})
