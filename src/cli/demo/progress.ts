import type { CliIo } from '../context.js'

export interface ProgressState {
  readonly settled: number
  readonly total: number
  /** Attempts that failed and were retried so far. */
  readonly retrying: number
  readonly dead: number
  readonly label: string
}

/**
 * A one-line progress display on stderr: redrawn in place on a terminal, otherwise a line
 * at most once a second (logs and CI output stay readable).
 */
export function createProgress(io: CliIo, startedAt = performance.now(), width = 28) {
  const started = startedAt
  let lastLine = ''
  let lastPrinted = 0
  const render = (s: ProgressState) => {
    const ratio = s.total === 0 ? 1 : Math.min(1, s.settled / s.total)
    const filled = Math.round(ratio * width)
    const seconds = (performance.now() - started) / 1000
    const rate = seconds > 0 ? Math.round(s.settled / seconds) : 0
    return `${s.label.padEnd(10)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(s.settled).padStart(4)}/${s.total} settled, ${s.retrying} retries, ${s.dead} dead, ${rate} msg/s`
  }
  return {
    update(s: ProgressState): void {
      const line = render(s)
      if (line === lastLine) return
      lastLine = line
      if (io.tty) io.err(`\r\x1b[2K${line}`)
      else if (Date.now() - lastPrinted >= 1000) {
        lastPrinted = Date.now()
        io.err(`${line}\n`)
      }
    },
    done(s: ProgressState): void {
      const line = render(s)
      io.err(io.tty ? `\r\x1b[2K${line}\n` : `${line}\n`)
      lastLine = ''
    },
  }
}
