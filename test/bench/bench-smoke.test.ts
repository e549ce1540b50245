import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

/**
 * The benchmark runs end to end in quick mode for one figure and prints numbers. Speed is
 * never asserted here: the figures live in BENCHMARKS.md.
 */
describe('npm run bench (quick mode)', () => {
  it('starts its own PostgreSQL, prints a G1 row with a number per system, writes the JSON and the chart, and stops the server', () => {
    const out = mkdtempSync(join(tmpdir(), 'messaging-bench-smoke-'))
    try {
      const r = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          'bench/main.ts',
          '--quick',
          '--only',
          'G1',
          '--systems',
          'module,raw',
          '--set',
          'g1Seconds=0.5',
          '--set',
          'tenants=5',
          '--out',
          out,
        ],
        { encoding: 'utf8', timeout: 60_000, env: { ...process.env, DATABASE_URL: '' } },
      )
      expect(r.status, r.stderr).toBe(0)
      const row = r.stdout.split('\n').find((l) => l.startsWith('| G1 '))
      expect(row).toBeDefined()
      const cells = row!.split('|').map((c) => c.trim())
      // | G1 | metric | module | pg-boss | graphile-worker | raw | ...
      expect(cells[3]).toMatch(/^[\d,]+ \(/)
      expect(cells[6]).toMatch(/^[\d,]+ \(/)
      expect(cells[4]).toBe('n/a')
      expect(r.stderr).toMatch(/G1 module/)
      const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'))
      const g1 = json.figures[0]
      expect(g1.id).toBe('G1')
      for (const m of g1.measurements) expect(m.value).toBeGreaterThan(0)
      expect(existsSync(join(out, 'chart.svg'))).toBe(true)
      expect(readFileSync(join(out, 'chart.svg'), 'utf8')).toMatch(/^<svg/)
    } finally {
      rmSync(out, { recursive: true, force: true })
    }
  }, 90_000)
})
