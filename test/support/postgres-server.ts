import { execFileSync, spawnSync } from 'node:child_process'
import { appendFileSync, chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * A throwaway PostgreSQL server for one test run: initdb + pg_ctl of the machine's
 * PostgreSQL on a temporary directory, a free port on 127.0.0.1 and a unix socket in the
 * same directory. As root it runs as the `postgres` user (initdb refuses root).
 */
export interface ThrowawayServer {
  /** Superuser URL. */
  readonly url: string
  readonly bindir: string
  /** Kills the server as a crash would (`pg_ctl stop -m immediate`), keeping its data for `restart`. */
  crash(): void
  /** Starts the crashed server again on the same port and data; it recovers from its WAL. */
  restart(): void
  stop(): void
}

/** The directory holding initdb and pg_ctl, or null. PG_BINDIR wins, then the newest Debian one, then PATH. */
export function findPostgresBindir(): string | null {
  const env = process.env.PG_BINDIR
  if (env && existsSync(join(env, 'initdb'))) return env
  const base = '/usr/lib/postgresql'
  if (existsSync(base)) {
    const versions = readdirSync(base)
      .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a))
    if (versions[0]) return join(base, versions[0], 'bin')
  }
  const which = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' })
  const path = which.stdout.trim()
  return which.status === 0 && path ? path.replace(/\/initdb$/, '') : null
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}

/** The tests' server: durability buys nothing here, speed does. */
const FAST_SETTINGS: Readonly<Record<string, string>> = {
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
  max_connections: '200',
}

export interface ThrowawayServerOptions {
  /** `-c` settings of the server. Default: the tests' fast, non-durable ones. */
  readonly settings?: Readonly<Record<string, string>>
  /** Initialise and stop the cluster durably (synced initdb, fast rather than immediate shutdown). */
  readonly durable?: boolean
  /** Addresses to listen on besides 127.0.0.1 (a test network's gateway). */
  readonly listen?: readonly string[]
  /** Lines appended to pg_hba.conf (who may connect from those addresses, and how). */
  readonly hba?: readonly string[]
  /** The port on 127.0.0.1 (one chosen before the server starts, say). Default: a free one. */
  readonly port?: number
}

export async function startThrowawayServer(options: ThrowawayServerOptions = {}): Promise<ThrowawayServer> {
  const settings = options.settings ?? FAST_SETTINGS
  const bindir = findPostgresBindir()
  if (!bindir) {
    throw new Error(
      'PostgreSQL tests need a server: set DATABASE_URL to a superuser URL, or install PostgreSQL ' +
        '(Debian: apt-get install -y postgresql; .ci/run does it) so initdb and pg_ctl can be found ' +
        '(PG_BINDIR overrides where).' +
        (process.env.CI === 'true' ? ' CI=true: a missing server fails the run.' : ''),
    )
  }
  const root = process.getuid?.() === 0
  const dir = mkdtempSync(join(tmpdir(), 'messaging-pg-'))
  const data = join(dir, 'data')
  const asPg = (cmd: string, args: string[]) =>
    root
      ? execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { stdio: 'pipe' })
      : execFileSync(cmd, args, { stdio: 'pipe' })
  if (root) {
    execFileSync('chown', ['postgres:postgres', dir])
    chmodSync(dir, 0o700)
  }
  asPg(join(bindir, 'initdb'), [
    '-D',
    data,
    '-A',
    'trust',
    '-U',
    'postgres',
    ...(options.durable ? [] : ['--no-sync']),
    '-E',
    'UTF8',
    '--locale=C',
  ])
  if (options.hba?.length) appendFileSync(join(data, 'pg_hba.conf'), `${options.hba.join('\n')}\n`)
  const port = options.port ?? (await freePort())
  const opts = [
    `-p ${port}`,
    `-k ${dir}`,
    `-c listen_addresses=${['127.0.0.1', ...(options.listen ?? [])].join(',')}`,
    ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`),
  ].join(' ')
  const start = () =>
    asPg(join(bindir, 'pg_ctl'), [
      '-D',
      data,
      '-l',
      join(dir, 'server.log'),
      '-w',
      '-t',
      '60',
      '-o',
      opts,
      'start',
    ])
  start()
  let running = true
  let stopped = false
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    bindir,
    crash() {
      asPg(join(bindir, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'])
      running = false
    },
    restart() {
      start()
      running = true
    },
    stop() {
      if (stopped) return
      stopped = true
      try {
        if (running)
          asPg(join(bindir, 'pg_ctl'), [
            '-D',
            data,
            '-m',
            options.durable ? 'fast' : 'immediate',
            '-w',
            'stop',
          ])
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    },
  }
}
