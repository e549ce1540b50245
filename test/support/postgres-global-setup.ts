import { readdirSync } from 'node:fs'
import { join, relative } from 'node:path'
import pg from 'pg'
import type { TestProject } from 'vitest/node'
import { migrate } from '../../src/adapters/postgres/migrator.js'
import { startThrowawayServer, type ThrowawayServer } from './postgres-server.js'

/** What every PostgreSQL test file gets from the run's one server (see test/support/postgres.ts). */
export interface ProvidedPostgres {
  /** Superuser (or DATABASE_URL's) URL, database part replaced per use. */
  readonly adminUrl: string
  /** A database migrated once per run; test files copy it (CREATE DATABASE ... TEMPLATE). */
  readonly template: string
  readonly password: string
  readonly roles: { readonly app: string; readonly worker: string; readonly owner: string }
  readonly bindir: string | null
}

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: ProvidedPostgres | null
  }
}

const POSTGRES_TEST = /postgres|package\/install/

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? testFiles(join(dir, e.name)) : e.name.endsWith('.test.ts') ? [join(dir, e.name)] : [],
  )
}

/**
 * Whether this run includes a PostgreSQL test file: no file filter, or a filter that
 * matches one (vitest filters are substrings of the path). Saves a server start for runs
 * of other adapters' files; any doubt starts it.
 */
function runIncludesPostgres(): boolean {
  const files = testFiles('test')
    .map((f) => relative(process.cwd(), f))
    .filter((f) => POSTGRES_TEST.test(f))
  const args = process.argv.slice(2)
  const filters: string[] = []
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a.startsWith('-')) {
      if (!a.includes('=') && i + 1 < args.length && !args[i + 1]!.includes('test')) i++
      continue
    }
    if (['run', 'watch', 'dev', 'related'].includes(a) && filters.length === 0) continue
    filters.push(relative(process.cwd(), a) || a)
  }
  if (filters.length === 0) return true
  return filters.some((f) => files.some((file) => file.includes(f)))
}

const withDatabase = (url: string, database: string, user?: string, password?: string) => {
  const u = new URL(url)
  u.pathname = `/${database}`
  if (user !== undefined) u.username = user
  if (password !== undefined) u.password = password
  return u.toString()
}

export default async function setup(project: TestProject) {
  if (!runIncludesPostgres()) {
    project.provide('postgres', null)
    return
  }
  let server: ThrowawayServer | undefined
  const given = process.env.DATABASE_URL
  if (!given) server = await startThrowawayServer()
  const adminUrl = given ?? server!.url
  const suffix = `${process.pid}_${Date.now().toString(36)}`
  const template = `messaging_template_${suffix}`
  const password = `pw_${suffix}`
  const roles = { app: 'messaging_test_app', worker: 'messaging_test_worker', owner: 'messaging_test_owner' }
  const admin = new pg.Client({ connectionString: adminUrl })
  try {
    await admin.connect()
    await admin.query(`create database ${template}`)
    await migrate({ connectionString: withDatabase(adminUrl, template) })
    for (const role of Object.values(roles)) {
      const exists = await admin.query('select 1 from pg_roles where rolname = $1', [role])
      const verb = exists.rowCount ? 'alter' : 'create'
      await admin.query(
        `${verb} role ${role} login nosuperuser nobypassrls nocreaterole nocreatedb password '${password}'`,
      )
    }
    await admin.query(`grant messaging_app to ${roles.app}`)
    await admin.query(`grant messaging_worker to ${roles.worker}`)
    // The owner of the databases the migration tests create: not a superuser, owns its tables.
    await admin.query(`grant messaging_app to ${roles.owner}`)
  } catch (e) {
    await admin.end().catch(() => undefined)
    server?.stop()
    throw e
  }
  project.provide('postgres', { adminUrl, template, password, roles, bindir: server?.bindir ?? null })
  return async () => {
    try {
      await admin.query(`drop database if exists ${template} with (force)`)
      if (given) {
        const dbs = await admin.query<{ datname: string }>(
          "select datname from pg_database where datname like 'messaging_t\\_%' escape '\\' and datname like $1",
          [`%${suffix}%`],
        )
        for (const { datname } of dbs.rows)
          await admin.query(`drop database if exists "${datname}" with (force)`)
      }
    } finally {
      await admin.end().catch(() => undefined)
      server?.stop()
    }
  }
}
