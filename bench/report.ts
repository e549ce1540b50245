import type { Costs } from './probe.js'
import { type FigureResult, type Measurement, ratioOf } from './run.js'

export function fmt(x: number | null | undefined, unit: string): string {
  if (x === null || x === undefined || Number.isNaN(x)) return '-'
  if (!Number.isFinite(x)) return 'never'
  if (unit === 'msgs/s') return Math.round(x).toLocaleString('en')
  if (unit === 'x') return `${x.toFixed(2)}x`
  return x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : Math.round(x).toLocaleString('en')
}

/** A cost per message: small numbers keep their digits, large ones are rounded. */
function fmtCost(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '-'
  if (x === 0) return '0'
  if (x < 0.1) return x.toFixed(3)
  if (x < 10) return x.toFixed(2)
  return Math.round(x).toLocaleString('en')
}

const fmtRatio = (r: number | null) => (r === null ? '-' : `${r.toFixed(2)}x`)

function markdown(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (r: readonly string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n')
}

const COST_COLUMNS: readonly [keyof Costs, string][] = [
  ['roundTrips', 'round trips'],
  ['statements', 'statements'],
  ['serverMs', 'server ms'],
  ['serverCpuMs', 'server CPU ms'],
  ['clientCpuMs', 'client CPU ms'],
  ['walBytes', 'WAL bytes'],
  ['indexEntries', 'index entries'],
  ['heapWrites', 'heap writes'],
]

/** The headline cell: the value, with p50/p99 where the figure has them. */
function headline(m: Measurement, f: FigureResult): string {
  if (m.value === null) return m.note?.startsWith('failed') ? 'failed' : '-'
  let s = fmt(m.value, f.unit)
  if (m.p99 !== undefined && f.unit !== 'x') s += ` (${fmt(m.p50, 'ms')} / ${fmt(m.p99, 'ms')})`
  else if (m.p99 !== undefined) s += ` (${fmt(m.p50, 'ms')} / ${fmt(m.p99, 'ms')} ms)`
  return s
}

/** For a row: the ratio of every subject compared against it (> 1: the subject is better). */
function ratioCell(f: FigureResult, m: Measurement): string {
  const against = f.comparisons.filter((c) => c.peer === m.system)
  if (against.length === 0) return f.comparisons.some((c) => c.subject === m.system) ? '(subject)' : '-'
  return against
    .map((c) => {
      const r = fmtRatio(ratioOf(f, c))
      return against.length === 1 && c.subject === 'module' ? r : `${c.subject}: ${r}`
    })
    .join('; ')
}

/** One figure: what it ran, its target and verdict, one row per system with ratios and costs per message. */
export function figureBlock(f: FigureResult): string {
  const header = ['system', f.metric, 'slices', 'subject vs it', ...COST_COLUMNS.map(([, h]) => `${h}/msg`)]
  const rows = f.measurements.map((m) => [
    m.system,
    headline(m, f),
    m.slices ? m.slices.map((x) => fmt(x, f.unit)).join(', ') : '-',
    ratioCell(f, m),
    ...COST_COLUMNS.map(([k]) => fmtCost(m.costs?.[k])),
  ])
  const met = f.met === null ? '?' : f.met ? 'met' : 'MISSED'
  const lines = [
    `${f.id}: ${f.title}${f.seconds !== undefined ? ` [${f.seconds.toFixed(0)} s]` : ''}`,
    `target: ${f.target} -> ${met}${f.verdict ? `: ${f.verdict}` : ''}`,
    markdown(header, rows),
  ]
  for (const m of f.measurements)
    if (m.note || m.delivered)
      lines.push(
        `  ${m.system}: ${[m.delivered && `delivered ${m.delivered}`, m.note].filter(Boolean).join('; ')}`,
      )
  return lines.join('\n')
}

/** The statements that took the server's time, per system: calls, planning and execution per message. */
export function hotStatements(f: FigureResult, top = 3): string {
  const out: string[] = []
  for (const m of f.measurements) {
    if (!m.hot || m.hot.length === 0 || !m.messages) continue
    out.push(`${f.id} ${m.system}: statements by server time (per message: calls, plan ms, exec ms)`)
    for (const h of m.hot.slice(0, top)) {
      const q = h.query.replace(/\s+/g, ' ').slice(0, 110)
      out.push(
        `  ${fmtCost(h.calls / m.messages)} x, plan ${fmtCost(h.planMs / m.messages)}, exec ${fmtCost(h.execMs / m.messages)}` +
          ` (mean plan ${fmtCost(h.planMs / h.calls)} / exec ${fmtCost(h.execMs / h.calls)} ms per call): ${q}`,
      )
    }
  }
  return out.join('\n')
}

/** The summary: one row per figure, the subject's number, its ratios, the target and whether it was met. */
export function summary(results: readonly FigureResult[]): string {
  const rows = results.map((f) => {
    const subjects = [...new Set(f.comparisons.map((c) => c.subject))]
    const values = subjects
      .map((s) => f.measurements.find((m) => m.system === s))
      .filter((m): m is Measurement => m !== undefined)
      .map((m) => `${subjects.length > 1 ? `${m.system} ` : ''}${headline(m, f)}`)
      .join('; ')
    const ratios = f.comparisons
      .map((c) => `${subjects.length > 1 ? `${c.subject} ` : ''}vs ${c.peer} ${fmtRatio(ratioOf(f, c))}`)
      .join('; ')
    return [
      f.id,
      f.metric,
      values || '-',
      ratios || '-',
      f.target,
      f.met === null ? '?' : f.met ? 'yes' : 'NO',
    ]
  })
  return markdown(['fig', 'metric', 'subject', 'ratios (> 1: subject better)', 'target', 'met'], rows)
}

const PALETTE = ['#2b6cb0', '#c05621', '#2f855a', '#718096', '#6b46c1', '#b83280', '#975a16', '#2c7a7b']
const SYSTEM_COLOURS: Record<string, string> = {
  module: '#2b6cb0',
  'pg-boss': '#c05621',
  'graphile-worker': '#2f855a',
  raw: '#718096',
}
const colourOf = (label: string, i: number) =>
  SYSTEM_COLOURS[label] ??
  Object.entries(SYSTEM_COLOURS).find(([k]) => label.startsWith(k))?.[1] ??
  PALETTE[i % PALETTE.length]!

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** A bar chart per figure (log scale within each panel), every row of the figure a bar. */
export function chart(results: readonly FigureResult[]): string {
  const panelW = 330
  const panelH = 210
  const perRow = 3
  const rowsN = Math.ceil(results.length / perRow)
  const W = panelW * perRow + 20
  const H = panelH * rowsN + 20
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="10">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
  ]
  results.forEach((f, k) => {
    const x0 = 10 + (k % perRow) * panelW
    const y0 = 10 + Math.floor(k / perRow) * panelH
    const bars = f.measurements.map((m, i) => ({
      label: m.system,
      colour: colourOf(m.system, i),
      v: m.value != null && Number.isFinite(m.value) && m.value > 0 ? m.value : null,
      inf: m.value === Number.POSITIVE_INFINITY,
    }))
    const finite = bars.map((x) => x.v).filter((v): v is number => v !== null)
    const max = Math.max(...finite, 1)
    const min = Math.min(...finite, max / 10)
    const lo = Math.log10(min) - 0.3
    const hi = Math.log10(max) + 0.1
    const barMax = panelH - 90
    const h = (v: number) => ((Math.log10(v) - lo) / (hi - lo)) * barMax
    parts.push(`<text x="${x0}" y="${y0 + 12}" font-weight="bold">${esc(f.id)}</text>`)
    parts.push(
      `<text x="${x0 + 32}" y="${y0 + 12}">${esc(`${f.unit}, ${f.higherIsBetter ? 'higher' : 'lower'} is better (log)`)}</text>`,
    )
    const bw = Math.min(46, (panelW - 30) / Math.max(1, bars.length) - 8)
    bars.forEach((x, i) => {
      const bx = x0 + 8 + i * (bw + 8)
      const base = y0 + panelH - 50
      parts.push(
        `<text x="${bx}" y="${base + 12}" transform="rotate(20 ${bx} ${base + 12})">${esc(x.label.slice(0, 24))}</text>`,
      )
      if (x.v === null) {
        parts.push(`<text x="${bx}" y="${base - 4}">${x.inf ? 'never' : 'n/a'}</text>`)
        return
      }
      const bh = Math.max(1, h(x.v))
      parts.push(`<rect x="${bx}" y="${base - bh}" width="${bw}" height="${bh}" fill="${x.colour}"/>`)
      parts.push(`<text x="${bx}" y="${base - bh - 3}">${esc(fmt(x.v, f.unit))}</text>`)
    })
    parts.push(
      `<text x="${x0}" y="${y0 + panelH - 8}" fill="#444">${esc(`target: ${f.target}`.slice(0, 60))}</text>`,
    )
  })
  parts.push('</svg>')
  return parts.join('\n')
}
