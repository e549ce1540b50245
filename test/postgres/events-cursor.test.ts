import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPostgresStorage } from '../../src/adapters/postgres/index.js'
import type { MessagingStorage, Repositories } from '../../src/index.js'
import { TenantScope } from '../../src/index.js'
import { principal, tenant, uuid } from '../support/fixtures.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'

/** A promise and the function that settles it: what holds a transaction open until the test says. */
function latch() {
  let open = () => {}
  const opened = new Promise<void>((resolve) => {
    open = resolve
  })
  return { open, opened }
}

/**
 * The event cursor on PostgreSQL (sql/0110): sequence values commit out of order, so a reader
 * paging on from the last place it saw would step past an event that commits later with a
 * smaller one. Two transactions held open by latches show that no reader ever does.
 */
describe('PostgreSQL event cursor: commit order across interleaved transactions', () => {
  let database: TestDatabase
  let storage: MessagingStorage
  beforeAll(async () => {
    database = await createTestDatabase('events_cursor')
    storage = await createPostgresStorage({
      connectionString: database.appUrl,
      workerConnectionString: database.workerUrl,
      ownerConnectionString: database.adminUrl,
      poolSize: 6,
    })
  })
  afterAll(async () => {
    await storage?.close()
    await database?.drop()
  })

  const setup = () => {
    const i = tenant().infra
    const scope = TenantScope.of(principal('service', [[i, null]]))
    const event = (label: string) => ({
      id: uuid(),
      infrastructureId: i,
      businessId: null,
      type: 'message.delivered' as const,
      messageId: uuid(),
      notificationId: null,
      channelId: null,
      data: { label },
    })
    const list = async (after: string | null = null) => {
      const [major, minor] = after === null ? [] : after.split('.').map(BigInt)
      return storage.unitOfWork.run(scope, (r) =>
        r.events.list(scope, {
          infrastructureId: i,
          after: after === null ? null : { major: major!, minor: minor! },
          limit: 100,
        }),
      )
    }
    /** A unit that appends `label`'s event, then holds its transaction open until released. */
    const held = (label: string) => {
      const appended = latch()
      const release = latch()
      const done = storage.unitOfWork.run(scope, async (r: Repositories) => {
        await r.events.append(scope, [event(label)])
        appended.open()
        await release.opened
      })
      return { appended: appended.opened, release: release.open, done }
    }
    const commit = (label: string) =>
      storage.unitOfWork.run(scope, (r) => r.events.append(scope, [event(label)]))
    const labels = (events: { data: { [k: string]: unknown } }[]) => events.map((e) => e.data.label)
    return { list, held, commit, labels, scope, event }
  }

  it('an event that commits after a later one is never stepped over: the later waits for it', async () => {
    const s = setup()
    await s.commit('a')
    const first = await s.list()
    expect(s.labels(first)).toEqual(['a'])
    const cursor = first[0]!.cursor

    // b takes its place (transaction id and sequence value) first and stays open; c commits.
    const b = s.held('b')
    await b.appended
    await s.commit('c')
    // A reader now must not be handed c's place: b would commit before it, unseen.
    expect(s.labels(await s.list(cursor))).toEqual([])
    b.release()
    await b.done
    // Once b has ended both show, b first, and nothing is skipped from the held cursor.
    const after = await s.list(cursor)
    expect(s.labels(after)).toEqual(['b', 'c'])
    expect(s.labels(await s.list())).toEqual(['a', 'b', 'c'])
  })

  it('an open transaction that began later does not hide what committed before it began; a rolled-back one leaves nothing', async () => {
    const s = setup()
    await s.commit('a')
    const a = await s.list()
    // d opens after a committed: a stays listed while d is open, and d shows once it ends.
    const d = s.held('d')
    await d.appended
    expect(s.labels(await s.list())).toEqual(['a'])
    // e takes its place while d is open, then rolls back.
    const rolledBack = storage.unitOfWork.run(s.scope, async (r) => {
      await r.events.append(s.scope, [s.event('e')])
      throw new Error('rolled back')
    })
    await expect(rolledBack).rejects.toThrow('rolled back')
    d.release()
    await d.done
    expect(s.labels(await s.list(a[0]!.cursor))).toEqual(['d'])
  })

  it('orders by the transaction id as a number, not as its text: 9 comes before 10', async () => {
    const s = setup()
    // Transaction ids crossing a power of ten (…9 to …10) once sorted as text put the later
    // events first. Rows with small, long-committed ids written as the superuser show it.
    const admin = new pg.Client({ connectionString: database.adminUrl })
    await admin.connect()
    try {
      const i = s.scope.principal.grants[0]!.infrastructureId
      await admin.query(
        `INSERT INTO messaging_events (infrastructure_id, id, tx, type, data)
         VALUES ($1, $2, '10'::xid8, 'message.delivered', '{"label":"ten"}'),
                ($1, $3, '9'::xid8, 'message.delivered', '{"label":"nine"}')`,
        [i, uuid(), uuid()],
      )
    } finally {
      await admin.end()
    }
    const listed = await s.list()
    expect(s.labels(listed)).toEqual(['nine', 'ten'])
    expect(listed[1]!.cursor.startsWith('10.')).toBe(true)
    const i = s.scope.principal.grants[0]!.infrastructureId
    const last = await storage.unitOfWork.run(s.scope, (r) => r.events.last(s.scope, i))
    expect(last?.major).toBe(10n)
    expect(await s.list(listed[0]!.cursor)).toHaveLength(1)
  })
})
