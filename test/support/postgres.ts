import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { inject } from 'vitest'
import type { ProvidedPostgres } from './postgres-global-setup.js'

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
  drop(): Promise<void>
}

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
  options: { empty?: boolean } = {},
): Promise<TestDatabase> {
  const p = providedPostgres()
  const name = `messaging_t_${label.replace(/\W/g, '_').toLowerCase()}_${randomBytes(4).toString('hex')}_${p.template.replace(/^messaging_template_/, '')}`
  await adminQuery(
    options.empty
      ? `create database ${name} owner ${p.roles.owner} template template0`
      : `create database ${name} template ${p.template}`,
  )
  return {
    name,
    adminUrl: urlFor(p.adminUrl, name),
    appUrl: urlFor(p.adminUrl, name, p.roles.app, p.password),
    workerUrl: urlFor(p.adminUrl, name, p.roles.worker, p.password),
    ownerUrl: urlFor(p.adminUrl, name, p.roles.owner, p.password),
    drop: () => adminQuery(`drop database if exists ${name} with (force)`),
  }
}
