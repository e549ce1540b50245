import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { inject } from 'vitest'
import type { ProvidedPostgres } from './postgres-global-setup.js'
import type { StoreClock } from './store-clock.js'

export type { ProvidedPostgres }

/** The run's server, as the global setup provided it. Throws (never skips) when it is missing. */
export function providedPostgres(): ProvidedPostgres {
  const p = inject('postgres')
  if (!p) {
    throw new Error(
      'no PostgreSQL server was started for this run: test/support/postgres-global-setup.ts ' +
        'must be the globalSetup of vitest.config.ts',
    )
  }
  return p
}

export const urlFor = (base: string, database: string, user?: string, password?: string): string => {
  const u = new URL(base)
  u.pathname = `/${database}`
  if (user !== undefined) u.username = user
  if (password !== undefined) u.password = password
  return u.toString()
}

/** One database of the run's server, for one test file. */
export interface TestDatabase {
  readonly name: string
  /** Superuser: it migrated the template, so it owns the tables. */
  readonly adminUrl: string
  /** A LOGIN role granted messaging_app: not a superuser, not the owner. */
  readonly appUrl: string
  /** A LOGIN role granted messaging_worker. */
  readonly workerUrl: string
  /** A LOGIN role, not a superuser, that owns the database (for migration tests on empty ones). */
  readonly ownerUrl: string
  /**
   * With `clock: true`: the database's clock, set by the test. The database's
   * messaging_now() (sql/0010) is replaced in this database only by one that reads a
   * one-row table; it starts at T0 (2026-01-01) until set. Test double, named as such: the
   * real messaging_now() is now(), which the clock-skew tests run against.
   */
  readonly clock: StoreClock
  drop(): Promise<void>
}

/** The test double of the database's clock: messaging_now() reads a time the test sets. */
const TEST_CLOCK = (start: Date) => `
  CREATE TABLE messaging_test_clock (id int PRIMARY KEY CHECK (id = 1), t timestamptz NOT NULL);
  INSERT INTO messaging_test_clock VALUES (1, '${start.toISOString()}');
  GRANT SELECT ON messaging_test_clock TO messaging_app, messaging_worker;
  CREATE OR REPLACE FUNCTION messaging_now() RETURNS timestamptz
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN (SELECT c.t FROM messaging_test_clock AS c WHERE c.id = 1);`

async function adminQuery(sqlText: string): Promise<void> {
  const p = providedPostgres()
  const c = new pg.Client({ connectionString: p.adminUrl })
  await c.connect()
  try {
    await c.query(sqlText)
  } finally {
    await c.end()
  }
}

/**
 * A fresh database for a test file: a copy of the run's migrated template, or, with
 * `empty`, an empty one owned by the (non-superuser) owner role.
 */
export async function createTestDatabase(
  label: string,
  options: { empty?: boolean; clock?: boolean } = {},
): Promise<TestDatabase> {
  const p = providedPostgres()
  const name = `messaging_t_${label.replace(/\W/g, '_').toLowerCase()}_${randomBytes(4).toString('hex')}_${p.template.replace(/^messaging_template_/, '')}`
  await adminQuery(
    options.empty
      ? `create database ${name} owner ${p.roles.owner} template template0`
      : `create database ${name} template ${p.template}`,
  )
  const adminUrl = urlFor(p.adminUrl, name)
  let clockClient: pg.Client | undefined
  if (options.clock) {
    clockClient = new pg.Client({ connectionString: adminUrl })
    await clockClient.connect()
    await clockClient.query(TEST_CLOCK(new Date('2026-01-01T00:00:00.000Z')))
  }
  const clock: StoreClock = {
    async set(at) {
      if (!clockClient) throw new Error(`test database ${label} was created without a clock`)
      await clockClient.query('UPDATE messaging_test_clock SET t = $1 WHERE id = 1', [at])
    },
  }
  return {
    name,
    adminUrl,
    clock,
    appUrl: urlFor(p.adminUrl, name, p.roles.app, p.password),
    workerUrl: urlFor(p.adminUrl, name, p.roles.worker, p.password),
    ownerUrl: urlFor(p.adminUrl, name, p.roles.owner, p.password),
    drop: async () => {
      await clockClient?.end().catch(() => undefined)
      await adminQuery(`drop database if exists ${name} with (force)`)
    },
  }
}
