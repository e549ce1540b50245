import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { createSqliteStorage, migrateSqlite, SQLITE_MIGRATIONS } from '../../src/adapters/sqlite/index.js'
import type { InboxEntry } from '../../src/domain/inbox.js'
import { StorageError } from '../../src/index.js'
import { channel, enqueueOne, message, scopeOf, uuid } from '../support/fixtures.js'

const dir = mkdtempSync(join(tmpdir(), 'messaging-sqlite-storage-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A file holding one channel and one message of one tenant, plus a raw connection to it. */
async function seededFile(name: string) {
  const path = join(dir, name)
  const infra = uuid()
  const admin = scopeOf('infra_admin', [[infra, null]])
  const storage = createSqliteStorage({ path })
  const ch = channel(infra)
  const m = message(infra, ch.id)
  await storage.unitOfWork.run(admin, async (r) => {
    await r.channels.insert(admin, ch)
    await enqueueOne(r, admin, m)
  })
  await storage.close()
  const db = new Database(path)
  db.pragma('foreign_keys = ON')
  return { path, infra, ch, m, db }
}

const rawCode = (f: () => unknown) => {
  try {
    f()
  } catch (e) {
    return (e as { code?: string }).code
  }
  return 'no error'
}

describe('sqlite storage', () => {
  it('runs a file in WAL mode with a busy timeout, and :memory: without a journal file', async () => {
    const file = createSqliteStorage({ path: join(dir, 'wal.db'), busyTimeoutMs: 1234 })
    const mem = createSqliteStorage({ path: ':memory:' })
    expect(file.journalMode()).toBe('wal')
    expect(mem.journalMode()).toBe('memory')
    await file.close()
    await mem.close()
    // WAL is recorded in the file itself: every later connection gets it.
    const db = new Database(join(dir, 'wal.db'), { readonly: true })
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    db.close()
  })

  it('migrates once: opening a file again, or migrating it twice, changes nothing', async () => {
    const path = join(dir, 'twice.db')
    const infra = uuid()
    const admin = scopeOf('infra_admin', [[infra, null]])
    const first = createSqliteStorage({ path })
    const ch = channel(infra)
    await first.unitOfWork.run(admin, (r) => r.channels.insert(admin, ch))
    await first.close()
    const second = createSqliteStorage({ path })
    expect(await second.unitOfWork.run(admin, (r) => r.channels.findById(admin, infra, ch.id))).toEqual(ch)
    await second.close()
    const db = new Database(path)
    const schemaBefore = db.prepare('select type, name, sql from sqlite_schema order by name').all()
    expect(migrateSqlite(db)).toEqual([])
    expect(migrateSqlite(db)).toEqual([])
    expect(db.prepare('select type, name, sql from sqlite_schema order by name').all()).toEqual(schemaBefore)
    expect(db.prepare('select version, name from messaging_migrations').all()).toEqual(
      SQLITE_MIGRATIONS.map((m) => ({ version: m.version, name: m.name })),
    )
    db.close()
  })

  it('creates the tables and the view of the PostgreSQL schema', () => {
    const db = new Database(':memory:')
    expect(migrateSqlite(db)).toEqual(SQLITE_MIGRATIONS.map((m) => m.version))
    const objects = db
      .prepare(
        "select type, name from sqlite_schema where name like 'messaging_%' and type in ('table', 'view')",
      )
      .all()
    expect(objects).toEqual(
      expect.arrayContaining([
        { type: 'table', name: 'messaging_channels' },
        { type: 'table', name: 'messaging_channel_members' },
        { type: 'table', name: 'messaging_outbox' },
        { type: 'table', name: 'messaging_audit_log' },
        { type: 'view', name: 'messaging_channel_memberships' },
      ]),
    )
    // Every primary key leads with infrastructure_id.
    for (const table of [
      'messaging_channels',
      'messaging_channel_members',
      'messaging_outbox',
      'messaging_audit_log',
      'messaging_delivery_attempts',
      'messaging_inbox',
    ]) {
      const pk = (db.prepare(`pragma table_info(${table})`).all() as Array<{ name: string; pk: number }>)
        .filter((c) => c.pk > 0)
        .sort((a, b) => a.pk - b.pk)
      expect(pk[0]?.name).toBe('infrastructure_id')
    }
    db.close()
  })

  it('refuses a database migrated by a newer version, and an edited migration', () => {
    const db = new Database(':memory:')
    migrateSqlite(db)
    db.prepare("insert into messaging_migrations values (999, 'future', 'x', 0)").run()
    expect(() => migrateSqlite(db)).toThrow(StorageError)
    db.close()
    const edited = new Database(':memory:')
    migrateSqlite(edited)
    const changed = SQLITE_MIGRATIONS.map((m) => ({ ...m, sql: `${m.sql}\n-- edited` }))
    expect(() => migrateSqlite(edited, changed)).toThrow(/differs/)
    edited.close()
  })

  it('keeps the outbox and the audit log append-only, even for a raw connection', async () => {
    const { infra, m, db } = await seededFile('append-only.db')
    db.prepare(
      "insert into messaging_audit_log (infrastructure_id, id, actor_id, actor_role, action, target_type, outcome, at) values (?, ?, ?, 'member', 'x', 'message', 'ok', 0)",
    ).run(infra, uuid(), uuid())
    expect(rawCode(() => db.prepare('delete from messaging_outbox').run())).toBe('SQLITE_CONSTRAINT_TRIGGER')
    expect(rawCode(() => db.prepare('delete from messaging_audit_log').run())).toBe(
      'SQLITE_CONSTRAINT_TRIGGER',
    )
    expect(rawCode(() => db.prepare("update messaging_audit_log set action = 'y'").run())).toBe(
      'SQLITE_CONSTRAINT_TRIGGER',
    )
    for (const column of [
      'payload',
      'recipients',
      'business_id',
      'infrastructure_id',
      'channel_id',
      'created_by',
    ]) {
      expect(rawCode(() => db.prepare(`update messaging_outbox set ${column} = ${column}`).run())).toBe(
        'SQLITE_CONSTRAINT_TRIGGER',
      )
    }
    // Delivery state may change: that is what claims and acks do.
    expect(
      db.prepare('update messaging_outbox set attempts = attempts + 1 where id = ?').run(m.id).changes,
    ).toBe(1)
    expect(db.prepare('select count(*) as n from messaging_outbox').get()).toEqual({ n: 1 })
    // The seeded enqueue's own entry and the raw one: both still there.
    expect(db.prepare('select count(*) as n from messaging_audit_log').get()).toEqual({ n: 2 })
    db.close()
  })

  it("enforces the composite foreign keys and the idempotency index: no row points at another tenant's", async () => {
    const { infra, ch, db } = await seededFile('keys.db')
    const other = uuid()
    // Another infrastructure cannot reference this channel, whatever the id.
    expect(
      rawCode(() =>
        db
          .prepare(
            'insert into messaging_channel_members (infrastructure_id, channel_id, user_id, added_by, created_at, updated_at) values (?, ?, ?, ?, 0, 0)',
          )
          .run(other, ch.id, uuid(), uuid()),
      ),
    ).toBe('SQLITE_CONSTRAINT_FOREIGNKEY')
    const insertMessage = db.prepare(
      "insert into messaging_outbox (infrastructure_id, id, business_id, channel_id, payload, idempotency_key, max_attempts, created_by, created_at, available_at) values (?, ?, ?, ?, '{}', ?, 3, ?, 0, 0)",
    )
    expect(rawCode(() => insertMessage.run(other, uuid(), null, ch.id, null, uuid()))).toBe(
      'SQLITE_CONSTRAINT_FOREIGNKEY',
    )
    insertMessage.run(infra, uuid(), null, ch.id, 'k', uuid())
    expect(rawCode(() => insertMessage.run(infra, uuid(), null, ch.id, 'k', uuid()))).toBe(
      'SQLITE_CONSTRAINT_UNIQUE',
    )
    // Keys are per (infrastructure, business): another business has its own namespace.
    expect(rawCode(() => insertMessage.run(infra, uuid(), uuid(), ch.id, 'k', uuid()))).toBe('no error')
    db.close()
  })

  it('lets only retention delete, only settled messages, and only inside its own transaction', async () => {
    const { m, db } = await seededFile('retention.db')
    db.prepare(
      "update messaging_outbox set status = 'processing', lease_token = ?, leased_until = 1 where id = ?",
    ).run(uuid(), m.id)
    db.prepare(
      "update messaging_outbox set status = 'processed', lease_token = null, leased_until = null, settled_at = 1 where id = ?",
    ).run(m.id)
    // Settled, but the gate is closed: refused.
    expect(rawCode(() => db.prepare('delete from messaging_outbox where id = ?').run(m.id))).toBe(
      'SQLITE_CONSTRAINT_TRIGGER',
    )
    const other = new Database(db.name)
    db.exec('begin immediate')
    db.prepare('insert into messaging_retention_gate (id) values (1)').run()
    // Another connection never sees the gate open.
    expect(other.prepare('select count(*) as n from messaging_retention_gate').get()).toEqual({ n: 0 })
    expect(db.prepare('delete from messaging_outbox where id = ?').run(m.id).changes).toBe(1)
    db.prepare('delete from messaging_retention_gate').run()
    db.exec('commit')
    other.close()
    expect(db.prepare('select count(*) as n from messaging_outbox').get()).toEqual({ n: 0 })
    db.close()
  })

  it('keeps the delivery state machine, the lease rule and the key formats of the PostgreSQL schema', async () => {
    const { infra, m, db } = await seededFile('rules.db')
    // pending -> processed skips the claim: refused by the transition guard.
    expect(
      rawCode(() => db.prepare("update messaging_outbox set status = 'processed' where id = ?").run(m.id)),
    ).toBe('SQLITE_CONSTRAINT_TRIGGER')
    // processing without a lease, or a lease on a pending row: refused by the lease check.
    expect(
      rawCode(() => db.prepare("update messaging_outbox set status = 'processing' where id = ?").run(m.id)),
    ).toBe('SQLITE_CONSTRAINT_CHECK')
    expect(
      rawCode(() => db.prepare('update messaging_outbox set lease_token = ? where id = ?').run(uuid(), m.id)),
    ).toBe('SQLITE_CONSTRAINT_CHECK')
    const lease = db.prepare(
      "update messaging_outbox set status = 'processing', lease_token = ?, leased_until = 1 where id = ?",
    )
    expect(lease.run(uuid(), m.id).changes).toBe(1)
    const insertChannel = db.prepare(
      "insert into messaging_channels (infrastructure_id, id, channel_key, type, name, created_by, created_at, updated_at) values (?, ?, ?, ?, 'n', ?, 0, 0)",
    )
    for (const [key, type] of [
      ['Upper', 'in_app'],
      ['-lead', 'in_app'],
      ['trail_', 'in_app'],
      ['dou--ble', 'in_app'],
      ['sp ace', 'in_app'],
      ['x'.repeat(65), 'in_app'],
      ['fine', '1type'],
      ['fine', 'Type'],
    ]) {
      expect(rawCode(() => insertChannel.run(infra, uuid(), key, type, uuid()))).toBe(
        'SQLITE_CONSTRAINT_CHECK',
      )
    }
    expect(rawCode(() => insertChannel.run(infra, uuid(), 'ops-alerts_2', 'in_app', uuid()))).toBe('no error')
    db.close()
  })

  it('adds an inbox entry only for a message of the same tenant, business and channel, once', async () => {
    const storage = createSqliteStorage({ path: ':memory:' })
    const infra = uuid()
    const admin = scopeOf('infra_admin', [[infra, null]])
    const worker = scopeOf('service', [[infra, null]])
    const ch = channel(infra, { type: 'in_app', config: {} })
    const m = message(infra, ch.id)
    await storage.unitOfWork.run(admin, async (r) => {
      await r.channels.insert(admin, ch)
      await enqueueOne(r, admin, m)
    })
    const entry: InboxEntry = {
      id: uuid(),
      infrastructureId: infra,
      businessId: null,
      userId: uuid(),
      channelId: ch.id,
      messageId: m.id,
      payload: m.payload,
      createdAt: m.createdAt,
      seenAt: null,
      readAt: null,
      archivedAt: null,
    }
    const deliver = (e: InboxEntry) => storage.unitOfWork.run(worker, (r) => r.inbox.deliver(worker, [e]))
    expect(await deliver(entry)).toBe(1)
    expect(await deliver({ ...entry, id: uuid() })).toBe(0)
    for (const wrong of [{ messageId: uuid() }, { channelId: uuid() }, { businessId: uuid() }]) {
      await expect(deliver({ ...entry, id: uuid(), userId: uuid(), ...wrong })).rejects.toMatchObject({
        code: 'TENANT_SCOPE_VIOLATION',
      })
    }
    await storage.close()
  })

  it('fails closed after close, and close is idempotent', async () => {
    const storage = createSqliteStorage({ path: ':memory:' })
    const scope = scopeOf('member', [[uuid(), null]])
    await storage.close()
    await storage.close()
    await expect(
      storage.unitOfWork.run(scope, (r) => r.channels.list(scope, { infrastructureId: uuid() })),
    ).rejects.toBeInstanceOf(StorageError)
  })

  it('reports a database that stays locked as a StorageError after the busy timeout', async () => {
    const path = join(dir, 'locked.db')
    const storage = createSqliteStorage({ path, busyTimeoutMs: 50 })
    const holder = new Database(path)
    holder.exec('begin immediate')
    const scope = scopeOf('member', [[uuid(), null]])
    const started = Date.now()
    await expect(
      storage.unitOfWork.run(scope, (r) => r.channels.list(scope, { infrastructureId: uuid() })),
    ).rejects.toMatchObject({ code: 'STORAGE_FAILURE', message: 'sqlite begin failed: SQLITE_BUSY' })
    expect(Date.now() - started).toBeGreaterThanOrEqual(40)
    holder.exec('rollback')
    holder.close()
    // The store recovers once the lock is gone.
    expect(
      await storage.unitOfWork.run(scope, (r) => r.channels.list(scope, { infrastructureId: uuid() })),
    ).toEqual([])
    await storage.close()
  })
})
