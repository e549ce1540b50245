import { describe, expect, it } from 'vitest'
import type { CliIo } from '../../src/cli/context.js'
import { createLogger } from '../../src/cli/context.js'
import { createProgress } from '../../src/cli/demo/progress.js'
import { main } from '../../src/cli/main.js'
import { humanLogLine, terminalOf } from '../../src/cli/terminal.js'

const ESC = String.fromCharCode(27)

/** A fake terminal: what reaches stderr, and the screen it leaves (\r returns, ESC[2K clears the line). */
function fakeTerminal(env: Record<string, string> = {}) {
  let err = ''
  let out = ''
  const io: CliIo = {
    out: (t) => {
      out += t
    },
    err: (t) => {
      err += t
    },
    tty: true,
    env,
  }
  const screen = () => {
    const lines: string[] = ['']
    for (const part of err.split(new RegExp(`(\r|${ESC}\\[2K|\n)`))) {
      if (part === '\n') lines.push('')
      else if (part === '\r' || part === '') continue
      else if (part === '\x1b[2K') lines[lines.length - 1] = ''
      else lines[lines.length - 1] += part
    }
    return lines.filter((l, i) => l !== '' || i < lines.length - 1)
  }
  return { io, err: () => err, out: () => out, screen }
}

const strip = (s: string) => s.replace(new RegExp(`${ESC}\\[[0-9;]*m`, 'g'), '')

describe('output for people at a terminal', () => {
  it('prints a log line above the status line and draws the status line again', () => {
    const t = fakeTerminal()
    const terminal = terminalOf(t.io)
    terminal.status('working [##....] 2/6')
    terminal.line('12:00:00.000 INFO  claimed')
    terminal.status('working [####..] 4/6')
    terminal.status(null)
    terminal.line('done')
    expect(t.err()).toBe(
      '\r\x1b[2Kworking [##....] 2/6' +
        '\r\x1b[2K12:00:00.000 INFO  claimed\nworking [##....] 2/6' +
        '\r\x1b[2Kworking [####..] 4/6' +
        '\r\x1b[2K' +
        'done\n',
    )
    expect(t.screen()).toEqual(['12:00:00.000 INFO  claimed', 'done'])
  })

  it('writes log lines as text on a terminal, JSON elsewhere or when asked', () => {
    const tty = fakeTerminal({ NO_COLOR: '1' })
    createLogger('info', tty.io).warn(
      { channel: 'ops-hook', attempt: 2, err: 'HTTP 503 from receiver' },
      'retrying',
    )
    expect(tty.err()).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} WARN {2}retrying channel=ops-hook attempt=2 err="HTTP 503 from receiver"\n$/,
    )
    const colored = fakeTerminal()
    createLogger('info', colored.io).error({}, 'failed')
    expect(colored.err()).toContain('\x1b[31mERROR\x1b[0m failed')
    const json = fakeTerminal({ MESSAGING_LOG_FORMAT: 'json' })
    createLogger('info', json.io).info({ n: 1 }, 'as json')
    expect(JSON.parse(json.err())).toMatchObject({ level: 30, msg: 'as json', n: 1 })
    let piped = ''
    createLogger('info', { out: () => {}, err: (t) => (piped += t), tty: false, env: {} }).info(
      {},
      'to a pipe',
    )
    expect(JSON.parse(piped)).toMatchObject({ level: 30, msg: 'to a pipe' })
  })

  it('formats any pino line, and passes on what is not JSON', () => {
    const line = JSON.stringify({
      level: 50,
      time: '2026-01-01T10:11:12.345Z',
      pid: 1,
      msg: 'x',
      nested: { a: [1] },
    })
    expect(humanLogLine(line, false)).toBe('10:11:12.345 ERROR x nested={"a":[1]}')
    expect(humanLogLine('plain text\n', false)).toBe('plain text')
  })

  it('keeps the progress line whole while logs arrive, and ends it with a line of its own', () => {
    const t = fakeTerminal({ NO_COLOR: '1' })
    const log = createLogger('info', t.io)
    const progress = createProgress(t.io)
    for (let settled = 0; settled <= 10; settled++) {
      progress.update({ settled, total: 10, retrying: 0, dead: 0, label: 'delivering' })
      if (settled % 3 === 0) log.info({ settled }, 'batch settled')
    }
    progress.done({ settled: 10, total: 10, retrying: 0, dead: 0, label: 'delivering' })
    const screen = t.screen()
    expect(screen.filter((l) => l.includes('batch settled'))).toHaveLength(4)
    for (const l of screen) {
      expect(l).toMatch(
        /^(\d\d:\d\d:\d\d\.\d{3} INFO {2}batch settled settled=\d+|delivering +\[#+\] +10\/10 settled.*)$/,
      )
    }
    expect(screen.at(-1)).toMatch(/^delivering +\[#{28}\] +10\/10 settled/)
  })
})

describe('the demo at a terminal', () => {
  it('shows readable worker logs and an unbroken progress line, with the report on stdout', async () => {
    const t = fakeTerminal({ NO_COLOR: '1' })
    const code = await main(['demo', '--memory', '--log-level', 'info'], t.io)
    expect(code, t.err()).toBe(0)
    const screen = t.screen().map(strip)
    expect(t.err()).not.toContain('{"level"')
    const progress =
      /^(setup|delivering|redriving|[a-z]+) +\[[#.]+\] +\d+\/\d+ settled, \d+ retries, \d+ dead, \d+ msg\/s$/
    const logLine = /^\d\d:\d\d:\d\d\.\d{3} (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) \S/
    const other = screen.filter((l) => !progress.test(l) && !logLine.test(l))
    expect(other).toEqual([])
    expect(screen.some((l) => logLine.test(l))).toBe(true)
    expect(screen.some((l) => /^delivering +\[#{28}\] +129\/129 settled/.test(l))).toBe(true)
    expect(t.out()).toMatch(/demo: all \d+ checks passed\n/)
  }, 120_000)
})
