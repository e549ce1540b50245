import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const bench = (args: readonly string[], timeout: number) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'bench/main.ts', ...args], {
    encoding: 'utf8',
    timeout,
    env: { ...process.env, DATABASE_URL: '' },
  })

/**
 * The benchmark runs end to end at tiny sizes and prints numbers. Speed is never asserted
 * here: the figures live in BENCHMARKS.md.
 */
describe('npm run bench (tiny sizes)', () => {
  it('refuses an unknown system, figure or size before starting anything', () => {
    for (const [args, message] of [
      [
        ['--systems', 'graphile'],
        /unknown system graphile: --systems takes module, pg-boss, graphile-worker, raw/,
      ],
      [['--only', 'G99'], /unknown figure G99/],
      [['--set', 'g1Secs=1'], /--set takes one of/],
    ] as const) {
      const r = bench(args, 30_000)
      expect(r.status, r.stdout).toBe(1)
      expect(r.stderr).toMatch(message)
      expect(r.stderr).not.toMatch(/starting PostgreSQL/)
    }
  }, 90_000)

  it('starts its own PostgreSQL, runs the systems of G1 and G3 in interleaved slices, prints each with its ratios and costs per message, writes the JSON and the chart', () => {
    const out = mkdtempSync(join(tmpdir(), 'messaging-bench-smoke-'))
    try {
      const r = bench(
        [
          '--quick',
          '--only',
          'G1,G3',
          '--systems',
          'module,graphile-worker,raw',
          '--set',
          'g1Seconds=0.3',
          '--set',
          'g1Producers=4',
          '--set',
          'g3Messages=300',
          '--set',
          'g3SliceSeconds=0.2',
          '--set',
          'tenants=5',
          '--set',
          'rounds=2',
          '--out',
          out,
        ],
        150_000,
      )
      expect(r.status, r.stderr).toBe(0)
      // The summary row: the module's number and its ratio against each system it ran beside.
      const row = r.stdout.split('\n').find((l) => l.startsWith('| G1 '))
      expect(row).toMatch(
        /\| G1 +\| msgs\/s .*\| [\d,]+ \(.*vs graphile-worker \d+\.\d\dx; vs raw \d+\.\d\dx/,
      )
      expect(row).not.toMatch(/vs pg-boss/)
      // The figure's own table: one row per system with its slices and costs per message.
      const moduleRow = r.stdout.split('\n').find((l) => /^\| module +\| [\d,]+ \(/.test(l))
      const cells = moduleRow!.split('|').map((c) => c.trim())
      // | system | value | slices | ratio | round trips | statements | server ms | server CPU | client CPU | WAL | index | heap |
      expect(cells[3]!.split(', ')).toHaveLength(2)
      expect(Number(cells[5])).toBeGreaterThan(0)
      expect(Number(cells[6])).toBeGreaterThan(0)
      expect(Number(cells[10]!.replace(/,/g, ''))).toBeGreaterThan(0)
      expect(Number(cells[11])).toBeGreaterThan(0)
      expect(r.stdout).toMatch(/^G3: drain 300 ready messages/m)
      expect(r.stderr).toMatch(/G1 module: round 2\/2/)
      expect(r.stderr).toMatch(/G1 raw: round 2\/2/)

      const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'))
      expect(json.figures.map((f: { id: string }) => f.id)).toEqual(['G1', 'G3'])
      const g1 = json.figures[0]
      expect(g1.measurements.map((m: { system: string }) => m.system).sort()).toEqual([
        'graphile-worker',
        'module',
        'raw',
      ])
      for (const m of g1.measurements) {
        expect(m.value).toBeGreaterThan(0)
        expect(m.slices).toHaveLength(2)
        expect(m.costs.roundTrips).toBeGreaterThan(0)
        expect(m.costs.walBytes).toBeGreaterThan(0)
      }
      const g3 = json.figures[1]
      for (const m of g3.measurements) expect(m.messages).toBeGreaterThan(0)
      expect(existsSync(join(out, 'chart.svg'))).toBe(true)
      expect(readFileSync(join(out, 'chart.svg'), 'utf8')).toMatch(/^<svg/)
    } finally {
      rmSync(out, { recursive: true, force: true })
    }
  }, 180_000)

  it('explains where the server time goes: statements sent, planning and execution per call, nested statements, WAL and index entries per message', () => {
    const out = mkdtempSync(join(tmpdir(), 'messaging-bench-explain-'))
    try {
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', 'bench/explain.ts', '--ops', 'enqueue,drain1', '--runs', '2', '--out', out],
        { encoding: 'utf8', timeout: 150_000, env: { ...process.env, DATABASE_URL: '' } },
      )
      expect(r.status, r.stderr).toBe(0)
      expect(r.stdout).toMatch(/== enqueue: 1 message\(s\) per run/)
      expect(r.stdout).toMatch(/== drain1: 1 message\(s\) per run/)
      const reports = JSON.parse(readFileSync(join(out, 'explain.json'), 'utf8')) as {
        op: string
        statements: { calls: number; planMs: number; execMs: number }[]
        nested: { text: string; ms: number }[]
        walBytesPerMessage: number
        indexEntriesPerMessage: number
      }[]
      expect(reports.map((x) => x.op)).toEqual(['enqueue', 'drain1'])
      for (const x of reports) {
        expect(x.statements.length).toBeGreaterThan(0)
        expect(x.statements[0]!.execMs).toBeGreaterThan(0)
        expect(x.walBytesPerMessage).toBeGreaterThan(0)
        expect(x.indexEntriesPerMessage).toBeGreaterThan(0)
      }
      // The enqueue's statements inside its function are explained one by one.
      expect(reports[0]!.nested.length).toBeGreaterThan(1)
    } finally {
      rmSync(out, { recursive: true, force: true })
    }
  }, 180_000)
})
