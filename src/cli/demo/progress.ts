import type { CliIo } from '../context.js'
import { terminalOf } from '../terminal.js'

export interface ProgressState {
  readonly settled: number
  readonly total: number
  /** Attempts that failed and were retried so far. */
  readonly retrying: number
  readonly dead: number
  readonly label: string
}

/**
 * A one-line progress display on stderr: the terminal's status line, redrawn in place (log
 * lines print above it), otherwise a line at most once a second (logs and CI output stay
 * readable).
 */
export function createProgress(io: CliIo, startedAt = performance.now(), width = 28) {
  const started = startedAt
  const terminal = terminalOf(io)
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
      if (io.tty) terminal.status(line)
      else if (Date.now() - lastPrinted >= 1000) {
        lastPrinted = Date.now()
        terminal.line(line)
      }
    },
    done(s: ProgressState): void {
      terminal.status(null)
      terminal.line(render(s))
      lastLine = ''
    },
  }
}
