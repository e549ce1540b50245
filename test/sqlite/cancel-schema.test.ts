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

describe('the sqlite schema of provider receipts', () => {
  it('rebuilds the outbox and the event log under the wider checks: rows, attempts, indexes, rules and the event seq stay', () => {
    const db = new Database(join(dir, 'receipts-upgrade.db'))
    db.pragma('foreign_keys = ON')
    migrateSqlite(
      db,
      SQLITE_MIGRATIONS.filter((m) => m.name !== 'receipts'),
    )
    const before = outboxSchema(db)
    const [i, c] = [uuid(), uuid()]
    db.exec(`
      INSERT INTO messaging_channels (infrastructure_id, id, channel_key, type, name, created_by, created_at, updated_at)
        VALUES ('${i}', '${c}', 'sms', 'sms', 'SMS', 'u', 0, 0);
      INSERT INTO messaging_outbox (infrastructure_id, id, channel_id, payload, max_attempts, created_by, created_at,
          status, attempts, available_at, settled_at, priority, traceparent, ordering_key, ordering_seq)
        VALUES ('${i}', 'm1', '${c}', '{}', 3, 'u', 1, 'processed', 1, 1, 2, 0,
                '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'k', 1),
               ('${i}', 'm2', '${c}', '{}', 3, 'u', 1, 'pending', 0, 1, NULL, 1, NULL, NULL, NULL);
      INSERT INTO messaging_delivery_attempts (infrastructure_id, message_id, id, attempt, worker_id, started_at,
          finished_at, duration_ms, outcome, provider_message_id)
        VALUES ('${i}', 'm1', 'a1', 1, 'w', 1, 2, 1, 'delivered', 'SM1');
      INSERT INTO messaging_events (infrastructure_id, id, type, data, occurred_at)
        VALUES ('${i}', 'e1', 'message.delivered', '{}', 1), ('${i}', 'e2', 'message.delivered', '{}', 1);
      INSERT INTO messaging_retention_gate DEFAULT VALUES;
      DELETE FROM messaging_events;
      DELETE FROM messaging_retention_gate;
    `)
    migrateSqlite(db)
    // Every index and trigger of the outbox is back, by name.
    expect(outboxSchema(db)).toEqual(before)
    expect(
      db.prepare('select id, status, priority, ordering_seq from messaging_outbox order by id').all(),
    ).toEqual([
      { id: 'm1', status: 'processed', priority: 0, ordering_seq: 1 },
      { id: 'm2', status: 'pending', priority: 1, ordering_seq: null },
    ])
    expect(db.prepare('pragma foreign_key_check').all()).toEqual([])
    // Retention had removed every event: the next one still takes a seq after the last handed out.
    db.exec(`INSERT INTO messaging_events (infrastructure_id, id, type, data, occurred_at)
               VALUES ('${i}', 'e3', 'message.confirmed', '{}', 1)`)
    expect(db.prepare('select seq from messaging_events').all()).toEqual([{ seq: 3 }])
    // The new edges, and only from processed; confirmed is final.
    expect(
      raised(() => db.exec(`UPDATE messaging_outbox SET status = 'confirmed' WHERE id = 'm2'`)),
    ).toContain('illegal status transition')
    db.exec(`UPDATE messaging_outbox SET status = 'confirmed' WHERE id = 'm1'`)
    expect(raised(() => db.exec(`UPDATE messaging_outbox SET status = 'bounced' WHERE id = 'm1'`))).toContain(
      'illegal status transition',
    )
    db.close()
  })
})
