/** One server-sent event: its type (`message` when unnamed), data and id. */
export interface ServerSentEvent {
  readonly event: string
  readonly data: string
  readonly id: string | null
}

/**
 * Splits a text/event-stream body into events as it arrives (the HTML standard's rules:
 * LF or CRLF lines, `:` comments, `data` lines joined by LF, an event per blank line).
 */
export async function readServerSentEvents(
  body: ReadableStream<Uint8Array>,
  onEvent: (event: ServerSentEvent) => void,
): Promise<void> {
  const reader = body
    .pipeThrough<string>(new TextDecoderStream() as unknown as ReadableWritablePair<string, Uint8Array>)
    .getReader()
  let buffer = ''
  let data: string[] = []
  let event = ''
  let id: string | null = null
  const line = (l: string) => {
    if (l === '') {
      if (data.length > 0) onEvent({ event: event || 'message', data: data.join('\n'), id })
      data = []
      event = ''
      return
    }
    if (l.startsWith(':')) return
    const at = l.indexOf(':')
    const field = at < 0 ? l : l.slice(0, at)
    const value = at < 0 ? '' : l.slice(at + 1).replace(/^ /, '')
    if (field === 'data') data.push(value)
    else if (field === 'event') event = value
    else if (field === 'id' && !value.includes('\0')) id = value
  }
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      buffer += value
      let nl = buffer.search(/\r\n|\n|\r/)
      while (nl >= 0) {
        line(buffer.slice(0, nl))
        buffer = buffer.slice(buffer.startsWith('\r\n', nl) ? nl + 2 : nl + 1)
        nl = buffer.search(/\r\n|\n|\r/)
      }
    }
  } finally {
    reader.releaseLock()
  }
}
