import type { CliIo } from './context.js'

/**
 * Standard error shared by log lines and one status line (the demo's progress). On a
 * terminal the status line is redrawn in place; a log line first clears it, is printed on a
 * line of its own, and the status line is drawn again below it, so neither breaks the other.
 * Elsewhere (a pipe, a file) both are plain lines.
 */
export interface Terminal {
  /** Writes a whole line (a trailing newline is added when missing). */
  line(text: string): void
  /** Shows `text` as the status line, or removes it (null). */
  status(text: string | null): void
}

const CLEAR_LINE = '\r\x1b[2K'
const terminals = new WeakMap<CliIo, Terminal>()

/** The one Terminal of a command's output streams. */
export function terminalOf(io: CliIo): Terminal {
  let t = terminals.get(io)
  if (!t) {
    t = io.tty ? ttyTerminal(io) : plainTerminal(io)
    terminals.set(io, t)
  }
  return t
}

const withNewline = (text: string) => (text.endsWith('\n') ? text : `${text}\n`)

function plainTerminal(io: CliIo): Terminal {
  return {
    line: (text) => io.err(withNewline(text)),
    status: (text) => {
      if (text !== null) io.err(withNewline(text))
    },
  }
}

function ttyTerminal(io: CliIo): Terminal {
  let current: string | null = null
  return {
    line(text) {
      io.err(current === null ? withNewline(text) : `${CLEAR_LINE}${withNewline(text)}${current}`)
    },
    status(text) {
      if (text === null) {
        if (current !== null) io.err(CLEAR_LINE)
      } else io.err(`${CLEAR_LINE}${text}`)
      current = text
    },
  }
}

const LEVELS: Record<number, { name: string; color: string }> = {
  10: { name: 'TRACE', color: '90' },
  20: { name: 'DEBUG', color: '90' },
  30: { name: 'INFO ', color: '32' },
  40: { name: 'WARN ', color: '33' },
  50: { name: 'ERROR', color: '31' },
  60: { name: 'FATAL', color: '35' },
}
/** Fields every line carries that a person at the terminal does not need repeated. */
const QUIET = new Set(['level', 'time', 'msg', 'pid', 'hostname'])

const field = (value: unknown): string =>
  typeof value === 'string' && /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)

/**
 * A pino JSON line as a person reads it: `12:04:05.120 WARN  message key=value ...`, the
 * level colored unless `NO_COLOR` is set (https://no-color.org). A line that is not JSON is
 * passed on as is.
 */
export function humanLogLine(json: string, color: boolean): string {
  let entry: Record<string, unknown>
  try {
    entry = JSON.parse(json) as Record<string, unknown>
  } catch {
    return json.trimEnd()
  }
  const level = LEVELS[Number(entry.level)] ?? { name: String(entry.level).padEnd(5), color: '0' }
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 23) : ''
  const tag = color ? `\x1b[${level.color}m${level.name}\x1b[0m` : level.name
  const fields = Object.entries(entry)
    .filter(([k]) => !QUIET.has(k))
    .map(([k, v]) => `${k}=${field(v)}`)
  return [time, tag, String(entry.msg ?? ''), ...fields].filter((p) => p !== '').join(' ')
}
