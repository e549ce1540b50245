import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPostgresStorage, type PostgresStorage } from '../../src/adapters/postgres/index.js'
import { ValidationError } from '../../src/index.js'
import { channel, enqueueCommand, message, scopeOf, tenant } from '../support/fixtures.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'

/**
 * The unit of work decides for itself when a unit may run as one autocommit statement (the
 * lone enqueue: one round trip): no port tells it. Every other unit is one transaction that
 * opens before its first statement; statement errors leave it classified, the work's own
 * errors untouched.
 */
let db: TestDatabase
let storage: PostgresStorage
const sent: string[] = []

beforeAll(async () => {
  db = await createTestDatabase('unit_session')
  const kysely = new Kysely({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: db.appUrl, max: 2 }) }),
    log: (e) => {
      if (e.level === 'query') sent.push(e.query.sql)
    },
  })
  storage = await createPostgresStorage({ db: kysely })
})
afterAll(async () => {
  await storage?.db.destroy()
  await db?.drop()
})

/** A tenant with a channel, its admin and a member. */
async function seeded() {
  const t = tenant()
  const admin = scopeOf('infra_admin', [[t.infra, null]])
  const member = scopeOf('member', [[t.infra, null]])
  const ch = channel(t.infra)
  await storage.unitOfWork.run(admin, (r) => r.channels.insert(admin, ch))
  return { t, admin, member, ch }
}

/** The statements `work` sent, in order. */
async function statementsOf(work: () => Promise<unknown>): Promise<string[]> {
  sent.length = 0
  await work().catch(() => undefined)
  return [...sent]
}

describe('the PostgreSQL unit of work', () => {
  it('runs a unit whose whole work is one enqueue as that one statement, in autocommit', async () => {
    const { t, member, ch } = await seeded()
    const c = enqueueCommand(member, message(t.infra, ch.id, { createdBy: member.userId }))
    const lone = await statementsOf(() =>
      storage.unitOfWork.run(member, (r) => r.outbox.enqueueMany(member, [c])),
    )
    expect(lone).toHaveLength(1)
    expect(lone[0]).toMatch(/messaging_enqueue/)
    expect(
      await storage.unitOfWork.run(member, (r) => r.outbox.findById(member, t.infra, c.message.id)),
    ).toMatchObject({
      id: c.message.id,
      status: 'pending',
    })
  })

  it('runs every other unit in one transaction opened before its first statement, the enqueue inside it', async () => {
    const { t, member, ch } = await seeded()
    const c = enqueueCommand(member, message(t.infra, ch.id, { createdBy: member.userId }))
    const inUnit = await statementsOf(() =>
      storage.unitOfWork.run(member, async (r) => {
        await r.outbox.enqueueMany(member, [c])
        return r.outbox.findById(member, t.infra, c.message.id)
      }),
    )
    expect(inUnit[0]).toMatch(/^begin; /)
    expect(inUnit.slice(1, -1).map((q) => /messaging_enqueue|from "messaging_outbox"/.test(q))).toEqual([
      true,
      true,
    ])
    expect(inUnit.at(-1)).toBe('commit')
  })

  it('rolls an enqueue back with the rest of its unit when the work throws after it', async () => {
    const { t, member, ch } = await seeded()
    const c = enqueueCommand(member, message(t.infra, ch.id, { createdBy: member.userId }))
    const boom = new Error('the host changed its mind')
    await expect(
      storage.unitOfWork.run(member, async (r) => {
        await r.outbox.enqueueMany(member, [c])
        throw boom
      }),
    ).rejects.toBe(boom)
    expect(
      await storage.unitOfWork.run(member, (r) => r.outbox.findById(member, t.infra, c.message.id)),
    ).toBeNull()
  })

  it("classifies a statement's error where it leaves the unit, and passes the work's own errors through", async () => {
    const { t, admin } = await seeded()
    // A data exception (U+0000 in text, 22021) from a repository that does not classify it itself.
    const bad = channel(t.infra, { name: 'ops\u0000' })
    const e = await storage.unitOfWork
      .run(admin, (r) => r.channels.insert(admin, bad))
      .catch((x: unknown) => x)
    expect(e).toBeInstanceOf(ValidationError)
    expect((e as ValidationError).message).toMatch(/SQLSTATE 22/)
    const own = new TypeError('a bug of the caller')
    await expect(storage.unitOfWork.run(admin, async () => Promise.reject(own))).rejects.toBe(own)
  })
})
