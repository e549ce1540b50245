import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPostgresStorage, type PostgresStorage } from '../../src/adapters/postgres/index.js'
import { createFetchHandler } from '../../src/http/index.js'
import { createMessaging, ValidationError } from '../../src/index.js'
import { channel, principal, scopeOf, tenant } from '../support/fixtures.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'

/**
 * Issue 13, item 5: the domain refuses what PostgreSQL cannot hold, but a data exception
 * (SQLSTATE class 22) that still reaches the adapter, say from a repository called
 * directly, is the caller's input: VALIDATION_FAILED and a 400, never STORAGE_FAILURE/503.
 */
let db: TestDatabase
let storage: PostgresStorage
beforeAll(async () => {
  db = await createTestDatabase('data_exceptions')
  storage = await createPostgresStorage({ connectionString: db.appUrl, poolSize: 2 })
})
afterAll(async () => {
  await storage?.close()
  await db?.drop()
})

describe('a data exception that reaches the PostgreSQL adapter', () => {
  it('is a ValidationError (400), not a StorageError (503), and writes nothing', async () => {
    const t = tenant()
    const admin = scopeOf('infra_admin', [[t.infra, null]])
    const cases = [
      channel(t.infra, { name: 'ops\u0000' }), // 22021: U+0000 in text
      channel(t.infra, { config: { note: 'a\u0000' } }), // 22P05: U+0000 in jsonb
      channel(t.infra, { createdAt: new Date(-8.64e15) }), // 22008: 271822 BC, before timestamptz's range
    ]
    const errors: unknown[] = []
    for (const c of cases) {
      const error = await storage.unitOfWork
        .run(admin, (r) => r.channels.insert(admin, c))
        .then(
          () => null,
          (e: unknown) => e,
        )
      errors.push(error)
      expect(error, c.name).toBeInstanceOf(ValidationError)
      expect((error as ValidationError).code).toBe('VALIDATION_FAILED')
      expect((error as ValidationError).rule).toBe('data_exception')
      expect((error as Error).message).toMatch(/SQLSTATE 22/)
    }
    expect(
      await storage.unitOfWork.run(admin, (r) => r.channels.list(admin, { infrastructureId: t.infra })),
    ).toEqual([])
    // Over HTTP that error is a 400 problem.
    const handle = createFetchHandler({
      messaging: createMessaging({ storage }),
      authenticate: () => principal('infra_admin', [[t.infra, null]]),
    })
    const res = handle.renderError(errors[0], new Request('http://localhost/functions/v1/messaging/channel'))
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ code: 'VALIDATION_FAILED' })
  })
})
