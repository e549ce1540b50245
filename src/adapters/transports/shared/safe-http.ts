import type { LookupAddress } from 'node:dns'
import type { ConnectionOptions } from 'node:tls'
import { Agent, request } from 'undici'
import { DestinationRefusedError } from './outcome.js'
import { createSsrfGuard, type ResolvedAddress, type SsrfGuard, type SsrfPolicy } from './ssrf-guard.js'

/** Network limits and the SSRF policy of a transport that speaks HTTP to tenant-configured URLs. */
export interface OutboundHttpOptions {
  /** Permit `http:` URLs. Off by default: credentials and signed payloads go over TLS only. */
  readonly allowHttp?: boolean
  /** Ranges to reach despite the guard, and the resolver (tests inject one; default: the system's). */
  readonly ssrf?: SsrfPolicy
  /** TCP + TLS handshake. Default 5 s (Node's own default is the OS's, minutes). */
  readonly connectTimeoutMs?: number
  /** Idle time between body chunks. Default 5 s. */
  readonly bodyTimeoutMs?: number
  /** Bytes of a response read at most; the rest is discarded and the socket closed. Default 64 KiB. */
  readonly maxResponseBytes?: number
  /** TLS settings (a private CA, say). Certificates are checked against the URL's host name, never the dialled IP. */
  readonly tls?: Pick<ConnectionOptions, 'ca' | 'cert' | 'key' | 'minVersion'>
}

export interface OutboundRequest {
  readonly url: string
  readonly headers: Record<string, string>
  readonly body: string | Buffer
  /** Whole attempt, connect to last body byte; also the time allowed for the response headers. */
  readonly timeoutMs: number
  readonly signal: AbortSignal
}

export interface OutboundResponse {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: string
  /** The body was cut off: longer than maxResponseBytes, or not complete by the deadline. */
  readonly truncated: boolean
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void

/**
 * A `lookup` for net/tls.connect that answers with the addresses the guard already
 * checked: the socket goes to the very address that was vetted, with no second DNS
 * query an attacker could answer differently (DNS rebinding).
 */
function pinnedLookup(addresses: readonly ResolvedAddress[]) {
  return (_hostname: string, options: { all?: boolean } | number | undefined, callback: LookupCallback) => {
    const all = typeof options === 'object' && options !== null && options.all === true
    if (all)
      callback(
        null,
        addresses.map((a) => ({ address: a.address, family: a.family })),
      )
    else callback(null, addresses[0]!.address, addresses[0]!.family)
  }
}

function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

/** An error raised because the deadline passed or the worker aborted, named as such; others unchanged. */
function classifyAbort(e: unknown, deadline: AbortSignal, req: OutboundRequest): unknown {
  if (req.signal.aborted) return Object.assign(new Error('attempt aborted'), { code: 'ABORTED' })
  if (deadline.aborted) {
    return Object.assign(new Error(`no complete response within ${req.timeoutMs} ms`), { code: 'TIMEOUT' })
  }
  return e
}

/** Sends one POST through the SSRF guard with explicit timeouts and a capped read. */
export interface OutboundHttp {
  post(req: OutboundRequest): Promise<OutboundResponse>
}

/**
 * @example
 * const http = createOutboundHttp({ ssrf: { allowedRanges: ['127.0.0.0/8'] }, allowHttp: true })
 * const res = await http.post({ url, headers: {}, body: '{}', timeoutMs: 10_000, signal })
 */
export function createOutboundHttp(options: OutboundHttpOptions = {}): OutboundHttp {
  const guard: SsrfGuard = createSsrfGuard(options.ssrf)
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000
  const bodyTimeoutMs = options.bodyTimeoutMs ?? 5_000
  const maxResponseBytes = options.maxResponseBytes ?? 64 * 1024

  return {
    async post(req) {
      let url: URL
      try {
        url = new URL(req.url)
      } catch {
        throw new DestinationRefusedError('INVALID_URL', 'destination is not a valid URL')
      }
      if (url.protocol !== 'https:' && !(url.protocol === 'http:' && options.allowHttp === true)) {
        throw new DestinationRefusedError(
          'INSECURE_URL',
          `${url.protocol} destination refused: https is required (the host may allow http)`,
        )
      }
      if (url.username !== '' || url.password !== '') {
        throw new DestinationRefusedError('USERINFO_URL', 'destination refused: a URL with user:password@')
      }
      const deadline = AbortSignal.timeout(req.timeoutMs)
      const signal = AbortSignal.any([req.signal, deadline])
      let addresses: readonly ResolvedAddress[]
      try {
        // getaddrinfo cannot be cancelled; the race at least frees the attempt on time.
        addresses = await untilAborted(guard.check(url.hostname), signal)
      } catch (e) {
        throw classifyAbort(e, deadline, req)
      }
      // The port rule of the channel check on save, again here: a channel saved before it
      // (or written past the module) is refused the same way.
      const port = url.port !== '' ? Number(url.port) : url.protocol === 'http:' ? 80 : 443
      if (!guard.portAllowed(port, addresses)) {
        throw new DestinationRefusedError(
          'PORT_REFUSED',
          `destination refused: port ${port} is not 80, 443 or an allowed port`,
        )
      }
      // One agent per attempt, pinned to the checked addresses; a pooled agent would
      // reuse a socket across re-resolutions. Webhook volume per endpoint is low enough
      // that the extra handshake is cheaper than the reasoning a shared pool needs.
      const agent = new Agent({
        connect: { ...options.tls, timeout: connectTimeoutMs, lookup: pinnedLookup(addresses) },
        headersTimeout: req.timeoutMs,
        bodyTimeout: bodyTimeoutMs,
        connections: 1,
      })
      try {
        const res = await request(url, {
          method: 'POST',
          headers: req.headers,
          body: req.body,
          dispatcher: agent,
          signal,
        })
        // The status decides the outcome; the body is only detail (and a provider id), so
        // a body that is too long, too slow or endless is cut off, never waited out.
        const chunks: Buffer[] = []
        let size = 0
        let truncated = false
        try {
          for await (const chunk of res.body as AsyncIterable<Buffer>) {
            const room = maxResponseBytes - size
            if (chunk.byteLength > room) {
              chunks.push(chunk.subarray(0, room))
              truncated = true
              break
            }
            chunks.push(chunk)
            size += chunk.byteLength
          }
        } catch {
          truncated = true
        }
        if (truncated) res.body.destroy()
        return {
          status: res.statusCode,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          truncated,
        }
      } catch (e) {
        throw classifyAbort(e, deadline, req)
      } finally {
        agent.destroy().catch(() => {})
      }
    },
  }
}
