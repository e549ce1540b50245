/** One server-sent event as a client sees it. */
export interface SseEvent {
  readonly event: string
  readonly data: string
  readonly id: string | null
}

export interface SseReader {
  /** Every event so far, in order. */
  readonly events: SseEvent[]
  /** Comment lines so far (heartbeats), without the leading colon. */
  readonly comments: string[]
  /** The first event from index `from` on that `match` accepts; rejects after `timeoutMs` or when the stream ends first. */
  waitFor(match: (e: SseEvent) => boolean, options?: { from?: number; timeoutMs?: number }): Promise<SseEvent>
  /** Resolves when a comment `match` accepts has arrived. */
  waitForComment(match: (text: string) => boolean, timeoutMs?: number): Promise<void>
  /** Resolves when the server ends the body. */
  readonly ended: Promise<void>
  /** Cancels the body (the client going away). */
  close(): Promise<void>
}

/** Reads a text/event-stream body as it comes (the parsing rules of the HTML standard, UTF-8, LF or CRLF). */
export function readSse(res: Response): SseReader {
  if (!res.body) throw new Error('no body')
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
  const events: SseEvent[] = []
  const comments: string[] = []
  const waiters = new Set<() => void>()
  let done = false
  const wake = () => {
    for (const w of [...waiters]) w()
  }
  let buffer = ''
  let data: string[] = []
  let event = ''
  let id: string | null = null
  const line = (l: string) => {
    if (l === '') {
      if (data.length > 0) events.push({ event: event || 'message', data: data.join('\n'), id })
      data = []
      event = ''
      return
    }
    if (l.startsWith(':')) {
      comments.push(l.slice(1).trim())
      return
    }
    const at = l.indexOf(':')
    const field = at < 0 ? l : l.slice(0, at)
    const value = at < 0 ? '' : l.slice(at + 1).replace(/^ /, '')
    if (field === 'data') data.push(value)
    else if (field === 'event') event = value
    else if (field === 'id') id = value
  }
  const ended = (async () => {
    try {
      for (;;) {
        const { done: d, value } = await reader.read()
        if (d) break
        buffer += value
        let nl = buffer.search(/\r?\n/)
        while (nl >= 0) {
          line(buffer.slice(0, nl))
          buffer = buffer.slice(buffer[nl] === '\r' ? nl + 2 : nl + 1)
          nl = buffer.search(/\r?\n/)
        }
        wake()
      }
    } catch {
      // Cancelled by close(), or the connection dropped: the stream has ended either way.
    } finally {
      done = true
      wake()
    }
  })()
  const until = <T>(probe: () => T | undefined, timeoutMs: number, what: string) =>
    new Promise<T>((resolve, reject) => {
      const check = () => {
        const v = probe()
        if (v !== undefined) {
          finish()
          resolve(v)
        } else if (done) {
          finish()
          reject(
            new Error(`the stream ended before ${what}; events: ${JSON.stringify(events).slice(0, 2000)}`),
          )
        }
      }
      const timer = setTimeout(() => {
        finish()
        reject(
          new Error(`no ${what} within ${timeoutMs} ms; events: ${JSON.stringify(events).slice(0, 2000)}`),
        )
      }, timeoutMs)
      const finish = () => {
        clearTimeout(timer)
        waiters.delete(check)
      }
      waiters.add(check)
      check()
    })
  return {
    events,
    comments,
    ended,
    waitFor: (match, options = {}) =>
      until(() => events.slice(options.from ?? 0).find(match), options.timeoutMs ?? 10_000, 'matching event'),
    waitForComment: (match, timeoutMs = 10_000) =>
      until(() => (comments.some(match) ? true : undefined), timeoutMs, 'matching comment').then(
        () => undefined,
      ),
    async close() {
      await reader.cancel().catch(() => undefined)
      await ended
    },
  }
}

/** Resolves once `check` holds, looking every 10 ms; rejects after `timeoutMs` naming `what`. */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}
