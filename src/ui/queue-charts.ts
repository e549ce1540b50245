import { css, html, nothing, type SVGTemplateResult, svg, type TemplateResult } from 'lit'
import type { QueueMinute } from '../domain/queue-history.js'

/** The drawing's own units: the SVG scales to its box (the strokes do not). */
const W = 240
const H = 64

export const queueChartStyles = css`
  .charts {
    display: grid;
    grid-template-columns: repeat(auto-fit, minmax(14rem, 1fr));
    gap: 0.75rem;
    margin: 0 0 0.75rem;
  }
  figure.chart {
    margin: 0;
    padding: 0.5rem 0.6rem;
    border: 1px solid var(--messaging-border-color, #d0d7de);
    border-radius: calc(var(--messaging-radius, 8px) / 2);
    min-width: 0;
  }
  figure.chart figcaption {
    display: flex;
    justify-content: space-between;
    gap: 0.5rem;
    font-weight: 600;
    margin-bottom: 0.35rem;
  }
  .chart-now {
    font-variant-numeric: tabular-nums;
  }
  figure.chart svg {
    display: block;
    width: 100%;
    height: 4.5rem;
    overflow: visible;
  }
  figure.chart svg .baseline {
    stroke: var(--messaging-border-color, #d0d7de);
    stroke-width: 1;
    vector-effect: non-scaling-stroke;
  }
  figure.chart svg .line {
    fill: none;
    stroke: var(--messaging-accent, #0b5cad);
    stroke-width: 2;
    vector-effect: non-scaling-stroke;
  }
  figure.chart svg .area {
    fill: var(--messaging-accent, #0b5cad);
    opacity: 0.12;
  }
  figure.chart svg .bar-delivered {
    fill: var(--messaging-success, #1a7f37);
  }
  figure.chart svg .bar-dead {
    fill: var(--messaging-danger, #b42318);
  }
  .axis {
    display: flex;
    justify-content: space-between;
    font-size: 0.8em;
    color: var(--messaging-muted, #57606a);
    margin-top: 0.2rem;
  }
  details.figures {
    margin-bottom: 0.75rem;
  }
  details.figures summary {
    cursor: pointer;
    color: var(--messaging-accent, #0b5cad);
  }
  details.figures summary:focus-visible {
    outline: 3px solid var(--messaging-focus-ring, #b45309);
    outline-offset: 2px;
  }
`

const clock = (d: Date) => d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`

interface Series {
  readonly key: 'backlog' | 'delivered' | 'dead'
  readonly name: string
  /** What one figure is, for the description ("messages waiting"). */
  readonly unit: [string, string]
  readonly meaning: string
  readonly value: (m: QueueMinute) => number
  readonly shape: 'line' | 'bars'
}

const SERIES: readonly Series[] = [
  {
    key: 'backlog',
    name: 'Backlog',
    unit: ['message', 'messages'],
    meaning: "pending or in flight at each minute's end",
    value: (m) => m.backlog,
    shape: 'line',
  },
  {
    key: 'delivered',
    name: 'Delivered per minute',
    unit: ['message', 'messages'],
    meaning: 'delivered in each minute',
    value: (m) => m.delivered,
    shape: 'bars',
  },
  {
    key: 'dead',
    name: 'Dead letters per minute',
    unit: ['message', 'messages'],
    meaning: 'out of attempts in each minute',
    value: (m) => m.dead,
    shape: 'bars',
  },
]

/** What a reader of the chart would say of it: the latest figure, the peak and when, the total or the low. */
export function describeSeries(s: Series, history: readonly QueueMinute[]): string {
  const values = history.map(s.value)
  const last = values.at(-1) ?? 0
  const peak = Math.max(0, ...values)
  const at = values.indexOf(peak)
  const when = peak > 0 && history[at] ? ` at ${clock(history[at].minute)}` : ''
  const span = `over the last ${plural(history.length, 'minute', 'minutes')}`
  if (s.shape === 'line') {
    const low = Math.min(...values, last)
    return `${s.name} ${span}, ${s.meaning}: now ${plural(last, ...s.unit)}, highest ${peak}${when}, lowest ${low}.`
  }
  const total = values.reduce((a, b) => a + b, 0)
  return `${s.name} ${span}, ${s.meaning}: ${plural(total, ...s.unit)} in all, at most ${peak} in a minute${when}; ${last} this minute.`
}

function drawing(s: Series, history: readonly QueueMinute[]): SVGTemplateResult {
  const values = history.map(s.value)
  const top = Math.max(1, ...values)
  const step = W / Math.max(1, values.length)
  const y = (v: number) => H - (v / top) * H
  if (s.shape === 'line') {
    const points = values.map((v, i) => `${(i + 0.5) * step},${y(v)}`).join(' ')
    const area = `${0.5 * step},${H} ${points} ${(values.length - 0.5) * step},${H}`
    return svg`<polygon class="area" points=${area}></polygon>
      <polyline class="line" points=${points}></polyline>
      <line class="baseline" x1="0" y1=${H} x2=${W} y2=${H}></line>`
  }
  return svg`${values.map((v, i) =>
    v > 0
      ? svg`<rect class=${`bar-${s.key}`} x=${i * step + step * 0.1} y=${y(v)} width=${step * 0.8} height=${H - y(v)}></rect>`
      : nothing,
  )}<line class="baseline" x1="0" y1=${H} x2=${W} y2=${H}></line>`
}

function chart(s: Series, history: readonly QueueMinute[]): TemplateResult {
  const values = history.map(s.value)
  const peak = Math.max(0, ...values)
  const id = `chart-${s.key}`
  return html`<figure class="chart" data-chart=${s.key}>
    <figcaption>
      <span>${s.name}</span>
      <span class="chart-now" data-now=${values.at(-1) ?? 0}>${values.at(-1) ?? 0} now</span>
    </figcaption>
    <svg
      viewBox=${`0 0 ${W} ${H}`}
      preserveAspectRatio="none"
      role="img"
      aria-labelledby=${`${id}-title ${id}-desc`}
    >
      <title id=${`${id}-title`}>${s.name}</title>
      <desc id=${`${id}-desc`}>${describeSeries(s, history)}</desc>
      ${drawing(s, history)}
    </svg>
    <div class="axis" aria-hidden="true">
      <span>${history[0] ? clock(history[0].minute) : ''}</span>
      <span>peak ${peak}</span>
      <span>now</span>
    </div>
  </figure>`
}

/**
 * The queue over its last minutes as three charts (backlog, delivered per minute, dead
 * letters per minute), inline SVG with a title and a description that states the figures,
 * and every figure in a table below (closed by default), newest minute first.
 */
export function renderQueueCharts(history: readonly QueueMinute[]): TemplateResult {
  return html`<div class="charts">${SERIES.map((s) => chart(s, history))}</div>
    <details class="figures">
      <summary>Figures per minute</summary>
      <div class="table-wrap">
        <table>
          <caption class="visually-hidden">The queue per minute, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Minute</th>
              <th scope="col" class="num">Backlog</th>
              <th scope="col" class="num">Enqueued</th>
              <th scope="col" class="num">Delivered</th>
              <th scope="col" class="num">Failed attempts</th>
              <th scope="col" class="num">Dead</th>
            </tr>
          </thead>
          <tbody>
            ${[...history].reverse().map(
              (m) => html`<tr data-minute=${m.minute.toISOString()}>
                <th scope="row">${clock(m.minute)}</th>
                <td class="num" data-label="Backlog">${m.backlog}</td>
                <td class="num" data-label="Enqueued">${m.enqueued}</td>
                <td class="num" data-label="Delivered">${m.delivered}</td>
                <td class="num" data-label="Failed attempts">${m.failedAttempts}</td>
                <td class="num" data-label="Dead">${m.dead}</td>
              </tr>`,
            )}
          </tbody>
        </table>
      </div>
    </details>`
}
