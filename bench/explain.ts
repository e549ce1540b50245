/**
 * npx tsx bench/explain.ts [--ops enqueue,batch,drain100,drain1] [--runs 15] [--out DIR]
 *
 * Where the module's server time per message goes. Each hot operation runs through the
 * facade as the benchmark runs it, on logins whose sessions load auto_explain (every
 * statement's plan with actual times, buffers and WAL, nested statements included, sent
 * back as notices). After 50 warm runs, `--runs` runs are captured; printed per operation:
 * the statements the module sent, each statement's planning and execution time per call
 * (pg_stat_statements, over the captured runs), the nested statements' durations and plan
 * roots (auto_explain, medians over the runs), and the operation's WAL bytes, WAL records
 * by kind and index entries written (the committed runs' WAL read back).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { median, type Subject } from './common.js'
import { BENCH_ROLES, type BenchServer, prepareModuleTemplate, startBenchServer } from './postgres.js'
import { openModule } from './systems/module.js'

interface Captured {
  readonly text: string
}

let capture: { sent: Captured[]; notices: string[] } | null = null
const listening = new WeakSet<object>()
const originalQuery = pg.Client.prototype.query
// Every statement the module's pg clients send, and every notice they receive, while `capture` is set.
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  if (!listening.has(this)) {
    listening.add(this)
    this.on('notice', (n) => capture?.notices.push(n.message ?? ''))
  }
  if (capture) {
    const config = args[0] as string | { text: string }
    capture.sent.push({ text: typeof config === 'string' ? config : config.text })
  }
  return (originalQuery as (...a: unknown[]) => unknown).apply(this, args)
} as typeof pg.Client.prototype.query

interface Op {
  readonly name: string
  readonly messages: number
  prepare(s: Subject): Promise<void>
  run(s: Subject, i: number): Promise<unknown>
}

const OPS: readonly Op[] = [
  { name: 'enqueue', messages: 1, prepare: async () => undefined, run: (s, i) => s.enqueue(i % 100, i) },
  {
    name: 'batch',
    messages: 1000,
    prepare: async () => undefined,
    run: (s, i) =>
      s.enqueueBatch(
        i % 100,
        Array.from({ length: 1000 }, (_, k) => k),
      ),
  },
  {
    name: 'drain100',
    messages: 100,
    prepare: (s) => s.prefill(20_000, (i) => i % 100),
    run: (s) => s.drain!({ batch: 100, concurrency: 1, deadline: Number.POSITIVE_INFINITY, max: 100 }),
  },
  {
    name: 'drain1',
    messages: 1,
    prepare: (s) => s.prefill(2_000, (i) => i % 100),
    run: (s) => s.drain!({ batch: 1, concurrency: 1, deadline: Number.POSITIVE_INFINITY, max: 1 }),
  },
]

const squash = (t: string, n = 120) => t.replace(/\s+/g, ' ').trim().slice(0, n)

/** One auto_explain notice: its statement, duration, and the plan's root line. */
function parseNotice(n: string): { text: string; ms: number; root: string; wal: string } | null {
  const m = /^duration: ([\d.]+) ms/.exec(n)
  if (!m) return null
  const text = squash(
    /Query Text: ([\s\S]*?)\n(?=\S)/.exec(n)?.[1] ?? /Query Text: ([^\n]*)/.exec(n)?.[1] ?? '',
  )
  const lines = n.split('\n')
  const rootAt = lines.findIndex((l) => /\(actual time=/.test(l))
  const root = rootAt >= 0 ? squash(lines[rootAt]!.replace(/\(cost=[^)]*\)\s*/, ''), 140) : ''
  const wal = squash(lines.find((l) => /WAL: /.test(l)) ?? '', 60)
  return { text, ms: Number(m[1]), root, wal }
}

interface OpReport {
  readonly op: string
  readonly messages: number
  readonly sentPerRun: number
  readonly statements: { query: string; calls: number; planMs: number; execMs: number }[]
  readonly nested: { text: string; perRun: number; ms: number; root: string; wal: string }[]
  readonly walBytesPerMessage: number
  readonly walRecords: Record<string, number>
  readonly indexEntriesPerMessage: number | null
}

/** Groups the captured notices by statement text: how many per run, median duration, a root line. */
function nestedOf(notices: readonly string[], runs: number): OpReport['nested'] {
  const by = new Map<string, { ms: number[]; root: string; wal: string }>()
  for (const n of notices) {
    const p = parseNotice(n)
    if (!p) continue
    const x = by.get(p.text) ?? { ms: [], root: p.root, wal: p.wal }
    x.ms.push(p.ms)
    by.set(p.text, x)
  }
  return [...by.entries()]
    .map(([text, x]) => ({ text, perRun: x.ms.length / runs, ms: median(x.ms), root: x.root, wal: x.wal }))
    .sort((a, b) => b.ms * b.perRun - a.ms * a.perRun)
}

async function walOf(server: BenchServer, from: string, to: string) {
  const r = await server.query(
    `select "resource_manager/record_type" as k, count::float8 as n from pg_get_wal_stats($1::pg_lsn, $2::pg_lsn, true) where count > 0`,
    [from, to],
  )
  const records: Record<string, number> = {}
  for (const row of r.rows as { k: string; n: number }[]) records[row.k] = row.n
  const bytes = Number((await server.query('select $1::pg_lsn - $2::pg_lsn as d', [to, from])).rows[0].d)
  return { records, bytes }
}

const lsn = async (server: BenchServer) =>
  (await server.query('select pg_current_wal_flush_lsn()::text as l')).rows[0].l as string

/** Warm runs, then `runs` captured runs of `op`. */
async function measure(server: BenchServer, db: string, s: Subject, op: Op, runs: number): Promise<OpReport> {
  await op.prepare(s)
  for (let i = 0; i < 50; i++) await op.run(s, i)
  await server.query('select pg_stat_statements_reset()')
  capture = { sent: [], notices: [] }
  const from = await lsn(server)
  for (let i = 0; i < runs; i++) await op.run(s, 1000 + i)
  const to = await lsn(server)
  const { sent, notices } = capture
  capture = null
  const stats = await server.query(
    `select s.query, s.calls::float8 as calls, s.total_plan_time / s.calls as plan, s.total_exec_time / s.calls as exec
       from pg_stat_statements s join pg_database d on d.oid = s.dbid
      where d.datname = $1 and s.toplevel order by s.total_plan_time + s.total_exec_time desc`,
    [db],
  )
  const wal = await walOf(server, from, to)
  const entries = Object.entries(wal.records)
    .filter(([k]) => /^Btree\/(INSERT_LEAF|INSERT_POST|SPLIT_L|SPLIT_R)/.test(k))
    .reduce((a, [, n]) => a + n, 0)
  const messages = op.messages * runs
  return {
    op: op.name,
    messages: op.messages,
    sentPerRun: sent.length / runs,
    statements: (stats.rows as { query: string; calls: number; plan: number; exec: number }[]).map((r) => ({
      query: squash(r.query, 160),
      calls: r.calls / runs,
      planMs: r.plan,
      execMs: r.exec,
    })),
    nested: nestedOf(notices, runs),
    walBytesPerMessage: wal.bytes / messages,
    walRecords: Object.fromEntries(Object.entries(wal.records).map(([k, n]) => [k, n / messages])),
    indexEntriesPerMessage: entries / messages,
  }
}

async function main() {
  const args = process.argv.slice(2)
  const arg = (k: string) => {
    const i = args.indexOf(k)
    return i >= 0 ? args[i + 1] : undefined
  }
  const wanted = (arg('--ops') ?? OPS.map((o) => o.name).join(',')).split(',')
  for (const w of wanted)
    if (!OPS.some((o) => o.name === w))
      throw new Error(`unknown op ${w}: --ops takes ${OPS.map((o) => o.name).join(', ')}`)
  const runs = Number(arg('--runs') ?? 15)
  const out = arg('--out') ?? join('bench', 'results')
  const server = await startBenchServer(true)
  const reports: OpReport[] = []
  try {
    const template = await prepareModuleTemplate(server)
    await server.query('create extension if not exists pg_walinspect')
    await server.query('create extension if not exists pg_stat_statements')
    // Every session of the module's logins explains every statement it runs, nested ones included.
    for (const role of [BENCH_ROLES.app, BENCH_ROLES.worker]) {
      for (const [k, v] of Object.entries({
        session_preload_libraries: 'auto_explain',
        'auto_explain.log_min_duration': '0',
        'auto_explain.log_analyze': 'on',
        'auto_explain.log_nested_statements': 'on',
        'auto_explain.log_buffers': 'on',
        'auto_explain.log_wal': 'on',
        'auto_explain.log_level': 'notice',
        client_min_messages: 'notice',
      }))
        await server.query(`alter role ${role} set ${k} = '${v}'`)
    }
    for (const op of OPS.filter((o) => wanted.includes(o.name))) {
      const db = `bench_explain_${op.name}_${process.pid}`
      const s = await openModule(server, db, template, { tenants: 100, poolSize: 2 })
      try {
        const r = await measure(server, db, s, op, runs)
        reports.push(r)
        print(r)
      } finally {
        await s.close()
      }
    }
  } finally {
    await server.stop()
  }
  mkdirSync(out, { recursive: true })
  writeFileSync(join(out, 'explain.json'), `${JSON.stringify(reports, null, 2)}\n`)
  process.stdout.write(`\nwrote ${join(out, 'explain.json')}\n`)
}

function print(r: OpReport) {
  const w = (s: string) => process.stdout.write(`${s}\n`)
  const f = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toFixed(3))
  w(`\n== ${r.op}: ${r.messages} message(s) per run; ${f(r.sentPerRun)} statements sent per run`)
  w(
    `   per message: WAL ${f(r.walBytesPerMessage)} bytes, index entries ${r.indexEntriesPerMessage === null ? '?' : f(r.indexEntriesPerMessage)}; ` +
      `WAL records: ${Object.entries(r.walRecords)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 10)
        .map(([k, n]) => `${k} ${f(n)}`)
        .join(', ')}`,
  )
  w(
    '   top-level statements (pg_stat_statements, per call, with auto_explain on): calls per run, plan ms, exec ms',
  )
  for (const s of r.statements.slice(0, 6))
    w(`   ${f(s.calls)} x plan ${f(s.planMs)} exec ${f(s.execMs)}: ${s.query}`)
  w('   every statement executed, nested ones included (auto_explain, median ms per execution): per run x ms')
  for (const n of r.nested.slice(0, 16))
    w(`   ${f(n.perRun)} x ${f(n.ms)} ms: ${n.text}\n        ${n.root}${n.wal ? ` | ${n.wal}` : ''}`)
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`explain failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
    process.exit(1)
  },
)
