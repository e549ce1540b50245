/**
 * npm run bench [-- --only G1,G3] [--quick] [--systems module,raw] [--out DIR] [--set g3Messages=20000]
 *
 * Starts a throwaway PostgreSQL (durable: fsync and synchronous_commit on), measures this
 * module, pg-boss, graphile-worker and the raw insert limit figure by figure, prints one
 * table row per figure, and writes results.json and chart.svg to DIR (default bench/results).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import type { SystemName } from './common.js'
import {
  ALL_FIGURES,
  type BenchSizes,
  DEFAULT_SIZES,
  FIGURES,
  type FigureId,
  type FigureResult,
  QUICK_SIZES,
  type RunContext,
} from './figures.js'
import { prepareModuleTemplate, SERVER_SETTINGS, startBenchServer } from './postgres.js'
import { chart, notes, table } from './report.js'

interface Args {
  only: FigureId[]
  quick: boolean
  systems: SystemName[]
  out: string
  set: Partial<Record<keyof BenchSizes, number>>
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = {
    only: [...ALL_FIGURES],
    quick: false,
    systems: ['module', 'pg-boss', 'graphile-worker', 'raw'],
    out: join('bench', 'results'),
    set: {},
  }
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
        .map((x) => x.trim().toUpperCase() as FigureId)
      for (const f of a.only) if (!ALL_FIGURES.includes(f)) throw new Error(`unknown figure ${f}`)
    } else if (k === '--systems') a.systems = v().split(',') as SystemName[]
    else if (k === '--out') a.out = v()
    else if (k === '--set') {
      const [name, value] = v().split('=')
      if (!name || !(name in DEFAULT_SIZES) || value === undefined || Number.isNaN(Number(value)))
        throw new Error(`--set takes one of ${Object.keys(DEFAULT_SIZES).join(', ')}=<number>`)
      a.set[name as keyof BenchSizes] = Number(value)
    } else if (k === '--help' || k === '-h') {
      process.stdout.write(
        'npm run bench -- [--only G1,G3] [--quick] [--systems module,pg-boss,graphile-worker,raw] [--out DIR] [--set name=value]\n' +
          `sizes (--set): ${Object.keys(DEFAULT_SIZES).join(', ')}\n`,
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
  const sizes: BenchSizes = { ...(args.quick ? QUICK_SIZES : DEFAULT_SIZES), ...args.set }
  const progress = progressReporter()
  progress.set('start', null, 'starting PostgreSQL')
  const server = await startBenchServer()
  const results: FigureResult[] = []
  const started = new Date()
  try {
    progress.set('start', null, 'migrating the module template')
    const template = await prepareModuleTemplate(server)
    const ctx: RunContext = {
      server,
      template,
      sizes,
      systems: args.systems,
      progress: (f, s, p) => progress.set(f, s, p),
    }
    for (const id of args.only) {
      const r = await FIGURES[id](ctx)
      results.push(r)
      progress.clear()
      process.stdout.write(`${table([r]).split('\n').slice(2).join('\n')}\n`)
    }
  } finally {
    progress.clear()
    await server.stop()
  }
  const m = machine()
  process.stdout.write(
    `\n${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, Node ${m.node}, ${server.version.split(',')[0]}` +
      `${args.quick ? ', quick mode' : ''}\n\n${table(results)}\n\n${notes(results)}\n`,
  )
  mkdirSync(args.out, { recursive: true })
  const json = {
    started: started.toISOString(),
    finished: new Date().toISOString(),
    quick: args.quick,
    machine: m,
    postgres: server.version,
    settings: SERVER_SETTINGS,
    sizes,
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
