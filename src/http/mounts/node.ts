import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FetchHandler } from '../fetch-handler.js'

/** What Express (and Nest on Express) add to Node's request. */
interface FrameworkRequest extends IncomingMessage {
  readonly originalUrl?: string
  /** Set by a body parser that ran first. */
  readonly body?: unknown
  readonly _body?: boolean
}

const HOST = /^[A-Za-z0-9.-]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$/

/**
 * The request body as a Web stream that pulls from Node's request with back-pressure. On
 * cancel (the handler's body cap) the rest is discarded, not the socket destroyed, so the
 * client still reads the 413.
 */
function streamOf(req: IncomingMessage): ReadableStream<Uint8Array> {
  let done = false
  const onData = (chunk: Buffer | string) => {
    const bytes = typeof chunk === 'string' ? new TextEncoder().encode(chunk) : new Uint8Array(chunk)
    controller?.enqueue(bytes)
    if ((controller?.desiredSize ?? 0) <= 0) req.pause()
  }
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined
  return new ReadableStream<Uint8Array>({
    start(c) {
      controller = c
      req.on('data', onData)
      req.once('end', () => {
        if (!done) c.close()
        done = true
      })
      req.once('error', (e) => {
        if (!done) c.error(e)
        done = true
      })
      req.pause()
    },
    pull() {
      req.resume()
    },
    cancel() {
      done = true
      req.off('data', onData)
      req.resume()
    },
  })
}

/** A body a parser already consumed, re-encoded: the handler still sees exact JSON. */
function parsedBody(req: FrameworkRequest): BodyInit | null {
  const b = req.body
  if (b === undefined || b === null) return null
  if (typeof b === 'string') return b
  if (b instanceof Uint8Array) return new Uint8Array(b)
  return JSON.stringify(b)
}

/**
 * Node's request as a Web Request. The URL is the original one (Express strips a mount
 * prefix from `req.url`); the Host header is used only when it is a plain host[:port].
 */
export function toWebRequest(req: FrameworkRequest): Request {
  const host =
    typeof req.headers.host === 'string' && HOST.test(req.headers.host) ? req.headers.host : 'localhost'
  const encrypted = (req.socket as { encrypted?: boolean } | undefined)?.encrypted === true
  const path = req.originalUrl ?? req.url ?? '/'
  const url = new URL(`${encrypted ? 'https' : 'http'}://${host}${path.startsWith('/') ? path : `/${path}`}`)
  const headers = new Headers()
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith(':') || value === undefined) continue
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v)
  }
  const method = req.method ?? 'GET'
  const init: RequestInit & { duplex?: 'half' } = { method, headers }
  if (method !== 'GET' && method !== 'HEAD') {
    const consumed = req._body === true || req.readableEnded
    if (consumed) {
      const body = parsedBody(req)
      if (body !== null) {
        init.body = body
        headers.delete('content-length')
      }
    } else {
      init.body = streamOf(req)
      init.duplex = 'half'
    }
  }
  return new Request(url, init)
}

/**
 * Writes a Web Response to Node's response, streaming the body with back-pressure (a
 * long-lived body, e.g. server-sent events, is passed on as it comes). A client that goes
 * away cancels the body.
 */
export async function sendWebResponse(res: ServerResponse, response: Response): Promise<void> {
  res.statusCode = response.status
  const cookies = response.headers.getSetCookie()
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') res.setHeader(name, value)
  })
  if (cookies.length > 0) res.setHeader('set-cookie', cookies)
  if (!response.body) {
    res.end()
    return
  }
  const reader = response.body.getReader()
  const onClose = () => {
    reader.cancel().catch(() => {})
  }
  res.once('close', onClose)
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      if (res.destroyed) return
      if (!res.write(value))
        await new Promise<void>((resolve) => res.once('drain', resolve).once('close', resolve))
    }
    res.end()
  } finally {
    res.off('close', onClose)
  }
}

/**
 * A Node/Connect-style middleware running the handler: the shape Express and Nest (on
 * Express) both mount. Errors that escape (none should: the handler answers problems) go to `next`.
 */
export function nodeMiddleware(
  handler: FetchHandler,
): (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void {
  return (req, res, next) => {
    handler(toWebRequest(req))
      .then((response) => sendWebResponse(res, response))
      .catch(next)
  }
}

/**
 * A request listener for Node's own `http.createServer`: the plain-Node host's mount, and
 * what `messaging serve` runs on. `fetch` is the handler, or any function of the same
 * shape (the handler behind a host's own routing). A throw that escapes it (the handler
 * itself answers problems) goes to `onError` and the client gets a bare 500.
 *
 * @example
 * import { createServer } from 'node:http'
 * createServer(createNodeListener(handler)).listen(8787, '127.0.0.1')
 */
export function createNodeListener(
  fetch: (request: Request) => Response | Promise<Response>,
  options: { onError?: (error: unknown) => void } = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    Promise.resolve()
      .then(() => fetch(toWebRequest(req)))
      .then((response) => sendWebResponse(res, response))
      .catch((e: unknown) => {
        options.onError?.(e)
        if (res.headersSent) res.destroy()
        else res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('internal error')
      })
  }
}
