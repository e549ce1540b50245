/**
 * npm run bench [-- --only G1,G3] [--quick] [--systems module,raw] [--out DIR] [--set g3Messages=20000] [--no-costs]
 *
 * Starts a throwaway PostgreSQL (durable: fsync and synchronous_commit on), measures this
 * module, pg-boss, graphile-worker and the raw limit figure by figure, the systems of a
 * figure in interleaved slices, prints every figure with its ratios and the costs per
 * message, and writes results.json and chart.svg to DIR (default bench/results).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { SYSTEM_NAMES, type SystemName } from './common.js'
import { FIGURES } from './figures/index.js'
import { prepareModuleTemplate, SERVER_SETTINGS, STATS_SETTINGS, startBenchServer } from './postgres.js'
import { Probe } from './probe.js'
import { chart, figureBlock, hotStatements, summary } from './report.js'
import { type FigureResult, type RunContext, SHARED_QUICK, SHARED_SIZES } from './run.js'
import { parseSystems } from './systems/index.js'

interface Args {
  only: string[]
  quick: boolean
  systems: SystemName[]
  out: string
  set: Record<string, number>
  costs: boolean
}

/** Every size a figure declares (and the shared ones), defaults or quick. */
function sizeTable(quick: boolean): Record<string, number> {
  const out: Record<string, number> = { ...SHARED_SIZES, ...(quick ? SHARED_QUICK : {}) }
  for (const f of FIGURES) Object.assign(out, f.sizes, quick ? f.quick : {})
  return out
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = {
    only: FIGURES.map((f) => f.id),
    quick: false,
    systems: [...SYSTEM_NAMES],
    out: join('bench', 'results'),
    set: {},
    costs: true,
  }
  const known = sizeTable(false)
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!
    const v = () => {
      const x = argv[++i]
      if (x === undefined) throw new Error(`${k} needs a value`)
      return x
    }
    if (k === '--quick') a.quick = true
    else if (k === '--only') {
      a.only = v()
        .split(',')
        .map((x) => x.trim().toUpperCase())
        .filter(Boolean)
      const ids = FIGURES.map((f) => f.id)
      const unknown = a.only.filter((f) => !ids.includes(f))
      if (unknown.length > 0 || a.only.length === 0)
        throw new Error(`unknown figure ${unknown.join(', ')}: --only takes ${ids.join(', ')}`)
    } else if (k === '--systems') a.systems = parseSystems(v())
    else if (k === '--out') a.out = v()
    else if (k === '--no-costs') a.costs = false
    else if (k === '--set') {
      const [name, value] = v().split('=')
      if (!name || !(name in known) || value === undefined || value === '' || !Number.isFinite(Number(value)))
        throw new Error(`--set takes one of ${Object.keys(known).join(', ')}=<number>`)
      a.set[name] = Number(value)
    } else if (k === '--help' || k === '-h') {
      process.stdout.write(
        `npm run bench -- [--only ${FIGURES.map((f) => f.id).join(',')}] [--quick] [--systems ${SYSTEM_NAMES.join(',')}] [--out DIR] [--set name=value] [--no-costs]\n` +
          `sizes (--set), default / quick:\n${Object.entries(known)
            .map(([n, d]) => `  ${n} = ${d} / ${sizeTable(true)[n]}`)
            .join('\n')}\n` +
          '--no-costs: no pg_stat_statements, no WAL reading (the costs per message are not printed)\n',
      )
      process.exit(0)
    } else throw new Error(`unknown option ${k}`)
  }
  return a
}

/** The progress line: which figure, which system, what it does, elapsed. */
function progressReporter() {
  const t0 = performance.now()
  const tty = process.stderr.isTTY
  let current = ''
  let lastPrinted = 0
  const render = () => {
    const s = `[bench ${((performance.now() - t0) / 1000).toFixed(0)}s] ${current}`
    if (tty) process.stderr.write(`\r\x1b[K${s}`)
    else process.stderr.write(`${s}\n`)
    lastPrinted = performance.now()
  }
  const timer = setInterval(() => {
    if (tty || performance.now() - lastPrinted > 10_000) render()
  }, 1000)
  timer.unref()
  return {
    set(figure: string, system: string | null, phase: string) {
      const next = `${figure}${system ? ` ${system}` : ''}: ${phase}`
      if (next === current) return
      current = next
      render()
    },
    clear() {
      clearInterval(timer)
      if (tty) process.stderr.write('\r\x1b[K')
    },
  }
}

function machine() {
  const cpu = cpus()
  return {
    cores: cpu.length,
    cpu: cpu[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2))
  const sizes = { ...sizeTable(args.quick), ...args.set }
  const progress = progressReporter()
  const t0 = performance.now()
  progress.set('start', null, 'starting PostgreSQL')
  const server = await startBenchServer(args.costs)
  const results: FigureResult[] = []
  const started = new Date()
  let probe: Probe
  try {
    progress.set('start', null, 'migrating the module template')
    const template = await prepareModuleTemplate(server)
    probe = await Probe.open(server, args.costs)
    const ctx: RunContext = {
      server,
      template,
      sizes,
      systems: args.systems,
      probe,
      progress: (f, s, p) => progress.set(f, s, p),
    }
    for (const id of args.only) {
      const figure = FIGURES.find((f) => f.id === id)!
      const f0 = performance.now()
      const r = await figure.run(ctx)
      r.seconds = (performance.now() - f0) / 1000
      results.push(r)
      progress.clear()
      process.stdout.write(`\n${figureBlock(r)}\n`)
    }
  } finally {
    progress.clear()
    await server.stop()
  }
  const m = machine()
  const wall = (performance.now() - t0) / 1000
  const avail = probe.available
  process.stdout.write(
    `\n${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, Node ${m.node}, ${server.version.split(',')[0]}` +
      `${args.quick ? ', quick mode' : ''}, ${wall.toFixed(0)} s\n` +
      `costs per message: round trips counted at the pg client; statements and server ms from pg_stat_statements (${avail.statements ? 'on' : 'off'}); ` +
      `WAL bytes, index entries and heap writes from the WAL (${avail.wal ? 'on' : 'off'}); server CPU from /proc (${avail.serverCpu ? 'on' : 'off'})\n\n` +
      `${summary(results)}\n\n${results
        .map((r) => hotStatements(r))
        .filter(Boolean)
        .join('\n')}\n` +
      'Ratios are subject / peer, > 1 means the subject (the module unless said) is better (for latencies: peer / subject).\n',
  )
  mkdirSync(args.out, { recursive: true })
  const json = {
    started: started.toISOString(),
    finished: new Date().toISOString(),
    seconds: wall,
    quick: args.quick,
    machine: m,
    postgres: server.version,
    settings: { ...SERVER_SETTINGS, ...(args.costs ? STATS_SETTINGS : {}) },
    sizes,
    systems: args.systems,
    figures: results,
  }
  writeFileSync(join(args.out, 'results.json'), `${JSON.stringify(json, null, 2)}\n`)
  writeFileSync(join(args.out, 'chart.svg'), `${chart(results)}\n`)
  process.stdout.write(`\nwrote ${join(args.out, 'results.json')} and ${join(args.out, 'chart.svg')}\n`)
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`\nbench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
    process.exit(1)
  },
)
