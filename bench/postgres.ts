import pg from 'pg'
import { migrate } from '../src/adapters/postgres/migrator.js'
import { startThrowawayServer } from '../test/support/postgres-server.js'

/**
 * The settings every system runs under. Unlike the tests' server this one is durable:
 * fsync and synchronous_commit on, so a commit costs what it costs in production.
 */
export const SERVER_SETTINGS: Readonly<Record<string, string>> = {
  fsync: 'on',
  synchronous_commit: 'on',
  full_page_writes: 'on',
  max_connections: '300',
  shared_buffers: '1GB',
  max_wal_size: '8GB',
  checkpoint_timeout: '30min',
  // Loaded backlogs are vacuumed/analyzed by the benchmark itself between phases.
  autovacuum: 'on',
}

/**
 * Loaded for the costs per message (`--no-costs` leaves them out): pg_stat_statements with
 * planning time, and enough WAL kept that a slice's records can be read back after a
 * checkpoint (pg_walinspect).
 */
export const STATS_SETTINGS: Readonly<Record<string, string>> = {
  shared_preload_libraries: 'pg_stat_statements',
  'pg_stat_statements.track': 'top',
  'pg_stat_statements.track_planning': 'on',
  'pg_stat_statements.max': '10000',
  wal_keep_size: '4GB',
}

export interface BenchServer {
  /** Superuser URL of the `postgres` database. */
  readonly url: string
  readonly version: string
  urlFor(database: string, user?: string, password?: string): string
  query(sqlText: string, params?: unknown[]): Promise<pg.QueryResult>
  /** A new empty database; returns its superuser URL. */
  createDatabase(name: string, template?: string): Promise<string>
  dropDatabase(name: string): Promise<void>
  stop(): Promise<void>
}

/**
 * Starts a throwaway PostgreSQL as the tests do (initdb + pg_ctl on a temporary directory,
 * a free loopback port, as the `postgres` user when run as root), with SERVER_SETTINGS.
 * DATABASE_URL (a superuser URL) is used instead when set; nothing is started then.
 */
export async function startBenchServer(costs = true): Promise<BenchServer> {
  const given = process.env.DATABASE_URL
  let stopServer: () => void = () => undefined
  let url: string
  if (given) {
    url = given
  } else {
    const server = await startThrowawayServer({
      settings: { ...SERVER_SETTINGS, ...(costs ? STATS_SETTINGS : {}) },
      durable: true,
    })
    url = server.url
    stopServer = server.stop
    // A crash or ^C must not leave a server behind.
    process.once('exit', stopServer)
  }
  const admin = new pg.Pool({ connectionString: url, max: 2 })
  admin.on('error', () => undefined)
  const urlFor = (database: string, user?: string, password?: string) => {
    const u = new URL(url)
    u.pathname = `/${database}`
    if (user !== undefined) u.username = user
    if (password !== undefined) u.password = password
    return u.toString()
  }
  const version = (await admin.query<{ v: string }>('select version() as v')).rows[0]!.v
  return {
    url,
    version,
    urlFor,
    query: (sqlText, params) => admin.query(sqlText, params as unknown[]),
    async createDatabase(name, template) {
      await admin.query(`drop database if exists ${name} with (force)`)
      await admin.query(`create database ${name}${template ? ` template ${template}` : ''}`)
      return urlFor(name)
    },
    async dropDatabase(name) {
      await admin.query(`drop database if exists ${name} with (force)`)
    },
    async stop() {
      await admin.end().catch(() => undefined)
      stopServer()
    },
  }
}

/** Logins the module's benchmark uses: one granted messaging_app, one messaging_worker. */
export const BENCH_ROLES = { app: 'messaging_bench_app', worker: 'messaging_bench_worker', password: 'bench' }

/** Migrates the module's template database once per run and creates its logins. */
export async function prepareModuleTemplate(server: BenchServer): Promise<string> {
  const template = 'messaging_bench_template'
  const url = await server.createDatabase(template)
  await migrate({ connectionString: url })
  for (const role of [BENCH_ROLES.app, BENCH_ROLES.worker]) {
    const exists = await server.query('select 1 from pg_roles where rolname = $1', [role])
    await server.query(
      `${exists.rowCount ? 'alter' : 'create'} role ${role} login nosuperuser nobypassrls password '${BENCH_ROLES.password}'`,
    )
  }
  await server.query(`grant messaging_app to ${BENCH_ROLES.app}`)
  await server.query(`grant messaging_worker to ${BENCH_ROLES.worker}`)
  return template
}
