import type { SystemName } from './common.js'
import type { FigureResult, Measurement } from './figures.js'

const COLUMNS: readonly SystemName[] = ['module', 'pg-boss', 'graphile-worker', 'raw']

export function fmt(x: number | null | undefined, unit: string): string {
  if (x === null || x === undefined || Number.isNaN(x)) return '-'
  if (!Number.isFinite(x)) return 'never'
  if (unit === 'msgs/s') return Math.round(x).toLocaleString('en')
  if (unit === 'x') return `${x.toFixed(2)}x`
  return x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : Math.round(x).toLocaleString('en')
}

/** One cell: the value, with p50/p99 or deliveries where the figure has them. */
function cell(m: Measurement | undefined, f: FigureResult): string {
  if (!m) return 'n/a'
  if (m.value === null) return m.note?.startsWith('failed') ? 'failed' : 'n/a'
  let s = fmt(m.value, f.unit)
  if (f.unit === 'msgs/s' && m.p99 !== undefined) s += ` (${fmt(m.p50, 'ms')} / ${fmt(m.p99, 'ms')} ms)`
  else if (f.unit === 'ms' && m.p99 !== undefined) s = `${fmt(m.p50, 'ms')} / ${fmt(m.p99, 'ms')} ms`
  if (m.delivered !== undefined && f.unit === 'ms') s += ` [${m.delivered}]`
  return s
}

/** module / peer, oriented so that > 1 means the module is better. */
export function ratio(f: FigureResult, peer: SystemName): number | null {
  const m = f.measurements.find((x) => x.system === 'module')
  const p = f.measurements.find((x) => x.system === peer)
  const a = f.unit === 'ms' ? (f.id === 'G5' ? m?.p50 : m?.p99) : m?.value
  const b = f.unit === 'ms' ? (f.id === 'G5' ? p?.p50 : p?.p99) : p?.value
  if (a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || a === 0 || b === 0) return null
  return f.higherIsBetter ? a / b : b / a
}

const fmtRatio = (r: number | null) => (r === null ? '-' : `${r.toFixed(2)}`)

/** The table on stdout: one row per figure. */
export function table(results: readonly FigureResult[]): string {
  const header = ['fig', 'metric', ...COLUMNS, 'vs pg-boss', 'vs graphile', 'vs raw', 'target', 'met']
  const rows = results.map((f) => [
    f.id,
    f.metric,
    ...COLUMNS.map((c) =>
      cell(
        f.measurements.find((m) => m.system === c),
        f,
      ),
    ),
    fmtRatio(ratio(f, 'pg-boss')),
    fmtRatio(ratio(f, 'graphile-worker')),
    fmtRatio(ratio(f, 'raw')),
    f.target,
    f.met === null ? '?' : f.met ? 'yes' : 'NO',
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n')
}

/** The notes under the table: what each figure ran, and anything a system reported. */
export function notes(results: readonly FigureResult[]): string {
  const out: string[] = []
  for (const f of results) {
    out.push(`${f.id}: ${f.title}`)
    for (const m of f.measurements) {
      const bits = [m.delivered !== undefined ? `delivered ${m.delivered}` : '', m.note ?? ''].filter(Boolean)
      if (bits.length > 0) out.push(`  ${m.system}: ${bits.join('; ')}`)
    }
  }
  out.push('Ratios are module / peer, > 1 means the module is better (for latencies: peer / module).')
  return out.join('\n')
}

const COLORS: Record<SystemName, string> = {
  module: '#2b6cb0',
  'pg-boss': '#c05621',
  'graphile-worker': '#2f855a',
  raw: '#718096',
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/**
 * A bar chart per figure (log scale within each panel): this module beside the peers and
 * the raw limit, with the target drawn where it is a single number.
 */
export function chart(results: readonly FigureResult[]): string {
  const panelW = 300
  const panelH = 190
  const perRow = 3
  const rowsN = Math.ceil(results.length / perRow)
  const W = panelW * perRow + 20
  const H = panelH * rowsN + 50
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
  ]
  COLUMNS.forEach((c, i) => {
    parts.push(`<rect x="${10 + i * 150}" y="10" width="12" height="12" fill="${COLORS[c]}"/>`)
    parts.push(`<text x="${26 + i * 150}" y="20">${c === 'module' ? 'this module' : c}</text>`)
  })
  results.forEach((f, k) => {
    const x0 = 10 + (k % perRow) * panelW
    const y0 = 40 + Math.floor(k / perRow) * panelH
    const values = COLUMNS.map((c) => {
      const m = f.measurements.find((x) => x.system === c)
      const v = f.unit === 'ms' ? (f.id === 'G5' ? m?.p50 : m?.p99) : m?.value
      return {
        c,
        v: v != null && Number.isFinite(v) && v > 0 ? v : null,
        inf: v === Number.POSITIVE_INFINITY,
      }
    }).filter((x) => f.measurements.some((m) => m.system === x.c))
    const finite = values.map((x) => x.v).filter((v): v is number => v !== null)
    const max = Math.max(...finite, 1)
    const min = Math.min(...finite, max / 10)
    const lo = Math.log10(min) - 0.3
    const hi = Math.log10(max) + 0.1
    const barMax = panelH - 70
    const h = (v: number) => ((Math.log10(v) - lo) / (hi - lo)) * barMax
    const unitLabel = f.unit === 'ms' ? (f.id === 'G5' ? 'p50 ms' : 'p99 ms') : f.unit
    parts.push(`<text x="${x0}" y="${y0 + 12}" font-weight="bold">${esc(f.id)}</text>`)
    parts.push(
      `<text x="${x0 + 28}" y="${y0 + 12}">${esc(`${unitLabel}, ${f.higherIsBetter ? 'higher' : 'lower'} is better (log)`)}</text>`,
    )
    const bw = Math.min(50, (panelW - 40) / Math.max(1, values.length) - 10)
    values.forEach((x, i) => {
      const bx = x0 + 10 + i * (bw + 10)
      const base = y0 + panelH - 30
      if (x.v === null) {
        parts.push(`<text x="${bx}" y="${base - 4}">${x.inf ? 'never' : 'n/a'}</text>`)
        return
      }
      const bh = Math.max(1, h(x.v))
      parts.push(`<rect x="${bx}" y="${base - bh}" width="${bw}" height="${bh}" fill="${COLORS[x.c]}"/>`)
      parts.push(`<text x="${bx}" y="${base - bh - 3}">${esc(fmt(x.v, f.unit))}</text>`)
    })
    parts.push(
      `<text x="${x0}" y="${y0 + panelH - 14}" fill="#444">${esc(`target: ${f.target}`.slice(0, 52))}</text>`,
    )
  })
  parts.push('</svg>')
  return parts.join('\n')
}
