import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import type { BenchServer } from './postgres.js'

/**
 * What one slice of work cost, per message: the numbers BENCHMARKS.md puts beside each
 * rate. Every one is null when it could not be read (an external server without the
 * extensions, a remote server whose processes are not visible).
 */
export interface Costs {
  /** Protocol round trips the benchmark's pg clients made (a simple query or an extended-protocol Sync). */
  readonly roundTrips: number | null
  /** Top-level statements the server ran for this system's database (pg_stat_statements calls). */
  readonly statements: number | null
  /** Planning + execution time of those statements, ms (pg_stat_statements; commit waits are not in it). */
  readonly serverMs: number | null
  /** CPU time of every server process (backends, WAL writer, checkpointer...), ms. */
  readonly serverCpuMs: number | null
  /** CPU time of the benchmark's own process (producers, consumers, drivers), ms. */
  readonly clientCpuMs: number | null
  /** WAL bytes written. */
  readonly walBytes: number | null
  /** Index entries written: B-tree leaf inserts in the WAL (INSERT_LEAF, INSERT_POST, leaf splits). */
  readonly indexEntries: number | null
  /** Heap writes in the WAL: inserts, updates, HOT updates, deletes (a multi-insert record counts once). */
  readonly heapWrites: number | null
}

export const NO_COSTS: Costs = {
  roundTrips: null,
  statements: null,
  serverMs: null,
  serverCpuMs: null,
  clientCpuMs: null,
  walBytes: null,
  indexEntries: null,
  heapWrites: null,
}

/** One statement's share of a slice (the hot statements of a figure, for the causes). */
export interface HotStatement {
  readonly query: string
  readonly calls: number
  readonly planMs: number
  readonly execMs: number
  readonly rows: number
}

// --- round trips: every pg Connection in this process, counted where it writes to the socket ---

let roundTrips = 0
let patched = false

/**
 * Counts protocol round trips of every `pg` client in this process (the module's, pg-boss's,
 * graphile-worker's and the raw loop's all load the same `pg`): a simple Query message, or
 * the Sync that ends an extended-protocol exchange, is one wait for ReadyForQuery.
 */
export function countRoundTrips(): void {
  if (patched) return
  patched = true
  const require = createRequire(import.meta.url)
  const Connection = require('pg/lib/connection.js') as {
    prototype: { query(text: string): void; sync(): void }
  }
  const { query, sync } = Connection.prototype
  Connection.prototype.query = function (this: unknown, text: string) {
    roundTrips++
    return query.call(this, text)
  }
  Connection.prototype.sync = function (this: unknown) {
    roundTrips++
    return sync.call(this)
  }
}

// --- server CPU: the postmaster and its children, from /proc ---

const TICK_MS = 10 // USER_HZ is 100 on Linux (sysconf(_SC_CLK_TCK)); /proc reports ticks.

function statFields(pid: number): string[] | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name may hold spaces: fields start after its closing parenthesis.
    return s.slice(s.lastIndexOf(')') + 2).split(' ')
  } catch {
    return null
  }
}

/** utime+stime of the postmaster, its live children and its reaped children (cutime+cstime), ms. */
function serverCpu(postmaster: number): number | null {
  const own = statFields(postmaster)
  if (!own) return null
  // Fields after ')': state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
  let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14])
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry)
    if (!Number.isInteger(pid) || pid === postmaster) continue
    const f = statFields(pid)
    if (f && Number(f[1]) === postmaster) ticks += Number(f[11]) + Number(f[12])
  }
  return ticks * TICK_MS
}

/** The CPU time of a child process the benchmark started (an HTTP server), ms. */
export function processCpu(pid: number): number | null {
  const f = statFields(pid)
  return f ? (Number(f[11]) + Number(f[12])) * TICK_MS : null
}

// --- the probe ---

interface Snapshot {
  readonly roundTrips: number
  readonly lsn: string | null
  readonly serverCpu: number | null
  readonly clientCpu: number
  readonly extraCpu: number | null
}

/** WAL record kinds that put an entry into an index. */
const INDEX_RECORDS = new Set([
  'Btree/INSERT_LEAF',
  'Btree/INSERT_POST',
  'Btree/SPLIT_L',
  'Btree/SPLIT_R',
  'Hash/INSERT',
  'Gin/INSERT',
  'Gist/PAGE_UPDATE',
  'SPGist/ADD_LEAF',
])
const HEAP_RECORDS = new Set([
  'Heap/INSERT',
  'Heap/UPDATE',
  'Heap/HOT_UPDATE',
  'Heap/DELETE',
  'Heap2/MULTI_INSERT',
])

/**
 * Reads the server's counters around a slice of work. Slices run one system at a time, so
 * the server-wide counters (WAL, CPU) belong to that system; pg_stat_statements is read for
 * the system's own databases.
 */
export class Probe {
  private constructor(
    private readonly server: BenchServer,
    private readonly statements: boolean,
    private readonly walinspect: boolean,
    private readonly postmaster: number | null,
  ) {}

  static async open(server: BenchServer, enabled: boolean): Promise<Probe> {
    countRoundTrips()
    if (!enabled) return new Probe(server, false, false, null)
    const tryExt = async (name: string) => {
      try {
        await server.query(`create extension if not exists ${name}`)
        if (name === 'pg_stat_statements') await server.query('select pg_stat_statements_reset()')
        return true
      } catch {
        return false
      }
    }
    const statements = await tryExt('pg_stat_statements')
    const walinspect = await tryExt('pg_walinspect')
    let postmaster: number | null = null
    try {
      const pid = (await server.query('select pg_backend_pid() as p')).rows[0].p as number
      const f = statFields(pid)
      postmaster = f ? Number(f[1]) : null
    } catch {
      postmaster = null
    }
    return new Probe(server, statements, walinspect, postmaster)
  }

  get available(): { statements: boolean; wal: boolean; serverCpu: boolean } {
    return { statements: this.statements, wal: this.walinspect, serverCpu: this.postmaster !== null }
  }

  /** Starts a slice: counters reset or read. `extraPid`: a child process whose CPU counts as the server's. */
  async start(extraPid?: number, postgres = true): Promise<Snapshot> {
    if (postgres && this.statements) await this.server.query('select pg_stat_statements_reset()')
    const lsn = postgres ? await this.lsn() : null
    return {
      roundTrips,
      lsn,
      serverCpu: postgres && this.postmaster !== null ? serverCpu(this.postmaster) : null,
      clientCpu: cpuMs(),
      extraCpu: extraPid !== undefined ? processCpu(extraPid) : null,
    }
  }

  /**
   * Ends a slice: the deltas since `from`, for the databases named. The counters are read
   * before any query of the probe's own, so its statements are not counted.
   */
  async finish(
    from: Snapshot,
    databases: readonly string[],
    extraPid?: number,
  ): Promise<{ costs: Costs; hot: HotStatement[]; extraCpuMs: number | null }> {
    const rt = roundTrips - from.roundTrips
    const clientCpu = cpuMs() - from.clientCpu
    const sCpu = this.postmaster !== null && from.serverCpu !== null ? serverCpu(this.postmaster) : null
    const extra = extraPid !== undefined ? processCpu(extraPid) : null
    const lsn = from.lsn !== null ? await this.lsn() : null
    let statements: number | null = null
    let serverMs: number | null = null
    let hot: HotStatement[] = []
    if (this.statements && databases.length > 0) {
      const r = await this.server.query(
        `select s.query, s.calls::float8 as calls, s.total_plan_time as plan, s.total_exec_time as exec, s.rows::float8 as rows
           from pg_stat_statements s join pg_database d on d.oid = s.dbid
          where d.datname = any($1::text[]) and s.toplevel`,
        [databases],
      )
      const rows = r.rows as { query: string; calls: number; plan: number; exec: number; rows: number }[]
      statements = rows.reduce((a, x) => a + x.calls, 0)
      serverMs = rows.reduce((a, x) => a + x.plan + x.exec, 0)
      hot = rows
        .map((x) => ({ query: x.query, calls: x.calls, planMs: x.plan, execMs: x.exec, rows: x.rows }))
        .sort((a, b) => b.planMs + b.execMs - (a.planMs + a.execMs))
        .slice(0, 8)
    }
    let walBytes: number | null = null
    let indexEntries: number | null = null
    let heapWrites: number | null = null
    if (from.lsn !== null && lsn !== null) {
      walBytes = Number(
        (await this.server.query('select $1::pg_lsn - $2::pg_lsn as d', [lsn, from.lsn])).rows[0].d,
      )
      if (this.walinspect && walBytes > 0) {
        try {
          const r = await this.server.query(
            'select "resource_manager/record_type" as k, count::float8 as n from pg_get_wal_stats($1::pg_lsn, $2::pg_lsn, true)',
            [from.lsn, lsn],
          )
          indexEntries = 0
          heapWrites = 0
          for (const row of r.rows as { k: string; n: number }[]) {
            // `+INIT`: the record also initialised a new page.
            const k = row.k.replace(/\+INIT$/, '')
            if (INDEX_RECORDS.has(k)) indexEntries += row.n
            if (HEAP_RECORDS.has(k)) heapWrites += row.n
          }
        } catch {
          // The segment was recycled by a checkpoint before it was read: unknown, not zero.
          indexEntries = null
          heapWrites = null
        }
      }
    }
    return {
      costs: {
        // A child process's round trips are not visible here.
        roundTrips: from.lsn !== null && extraPid === undefined ? rt : null,
        statements,
        serverMs,
        serverCpuMs: sCpu !== null && from.serverCpu !== null ? sCpu - from.serverCpu : null,
        clientCpuMs: clientCpu,
        walBytes,
        indexEntries,
        heapWrites,
      },
      hot,
      extraCpuMs: extra !== null && from.extraCpu !== null ? extra - from.extraCpu : null,
    }
  }

  /** The flushed WAL position: everything a committed slice wrote is before it. */
  private async lsn(): Promise<string | null> {
    try {
      return (await this.server.query('select pg_current_wal_flush_lsn()::text as l')).rows[0].l as string
    } catch {
      return null
    }
  }
}

function cpuMs(): number {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

/** Sums costs of several slices. */
export function addCosts(a: Costs, b: Costs): Costs {
  const add = (x: number | null, y: number | null) => (x === null || y === null ? null : x + y)
  return {
    roundTrips: add(a.roundTrips, b.roundTrips),
    statements: add(a.statements, b.statements),
    serverMs: add(a.serverMs, b.serverMs),
    serverCpuMs: add(a.serverCpuMs, b.serverCpuMs),
    clientCpuMs: add(a.clientCpuMs, b.clientCpuMs),
    walBytes: add(a.walBytes, b.walBytes),
    indexEntries: add(a.indexEntries, b.indexEntries),
    heapWrites: add(a.heapWrites, b.heapWrites),
  }
}

export const ZERO_COSTS: Costs = {
  roundTrips: 0,
  statements: 0,
  serverMs: 0,
  serverCpuMs: 0,
  clientCpuMs: 0,
  walBytes: 0,
  indexEntries: 0,
  heapWrites: 0,
}

/** Costs divided by the messages they carried. */
export function perMessage(c: Costs, messages: number): Costs {
  const d = (x: number | null) => (x === null || messages <= 0 ? null : x / messages)
  return {
    roundTrips: d(c.roundTrips),
    statements: d(c.statements),
    serverMs: d(c.serverMs),
    serverCpuMs: d(c.serverCpuMs),
    clientCpuMs: d(c.clientCpuMs),
    walBytes: d(c.walBytes),
    indexEntries: d(c.indexEntries),
    heapWrites: d(c.heapWrites),
  }
}
