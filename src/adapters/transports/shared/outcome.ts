import type { DeliveryOutcome } from '../../../ports/transport.js'
import { HostResolutionError, SsrfRefusedError } from './ssrf-guard.js'

/** A day: a Retry-After further out than this is a provider bug, not a plan. */
const MAX_RETRY_AFTER_MS = 24 * 60 * 60 * 1000

/**
 * `Retry-After` as milliseconds from `now`: delta-seconds or an HTTP date (RFC 9110 §10.2.3).
 * Undefined when absent or unparseable; clamped to [0, 1 day].
 */
export function parseRetryAfter(value: string | string[] | undefined, now: Date): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value
  if (raw === undefined) return undefined
  const trimmed = raw.trim()
  let ms: number
  if (/^\d+$/.test(trimmed)) ms = Number(trimmed) * 1000
  else {
    const at = Date.parse(trimmed)
    if (Number.isNaN(at)) return undefined
    ms = at - now.getTime()
  }
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS)
}

/** Shortens and redacts a provider's text for an outcome's `error`. */
export function describe(text: string, redact: (t: string) => string, max = 300): string {
  // Redact before cutting: a secret cut in half at the limit would no longer match.
  const flat = redact(text).replace(/\s+/g, ' ').trim()
  return flat.length > max ? `${flat.slice(0, max)}...` : flat
}

/**
 * The outcome of an HTTP status. 2xx delivered; every 3xx a permanent failure (a redirect
 * is never followed: it could point anywhere, loopback included); 408, 429 and 5xx
 * retryable with Retry-After honoured; any other status permanent.
 */
export function outcomeForStatus(
  status: number,
  retryAfter: string | string[] | undefined,
  detail: string,
  now: Date,
): DeliveryOutcome {
  if (status >= 200 && status < 300) return { status: 'delivered' }
  const error = detail ? `HTTP ${status}: ${detail}` : `HTTP ${status}`
  if (status >= 300 && status < 400) {
    return { status: 'permanent', code: 'REDIRECT_REFUSED', error: `${error} (redirects are not followed)` }
  }
  if (status === 408 || status === 429 || (status >= 500 && status < 600)) {
    const retryAfterMs = parseRetryAfter(retryAfter, now)
    return retryAfterMs === undefined
      ? { status: 'retryable', code: `HTTP_${status}`, error }
      : { status: 'retryable', code: `HTTP_${status}`, error, retryAfterMs }
  }
  return { status: 'permanent', code: `HTTP_${status}`, error }
}

/** A destination refused before any byte was sent: the configuration is wrong, retrying changes nothing. */
export class DestinationRefusedError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/** The outcome of a thrown error: refusals are permanent, everything on the network retryable. */
export function outcomeForError(e: unknown, redact: (t: string) => string): DeliveryOutcome {
  if (e instanceof SsrfRefusedError || e instanceof DestinationRefusedError) {
    return { status: 'permanent', code: e.code, error: redact(e.message) }
  }
  if (e instanceof HostResolutionError) return { status: 'retryable', code: e.code, error: redact(e.message) }
  const err = e as { code?: unknown; name?: unknown; message?: unknown; cause?: { code?: unknown } }
  const code =
    typeof err?.code === 'string'
      ? err.code
      : typeof err?.cause?.code === 'string'
        ? err.cause.code
        : typeof err?.name === 'string'
          ? err.name
          : 'NETWORK_ERROR'
  const message = typeof err?.message === 'string' ? err.message : String(e)
  return { status: 'retryable', code, error: redact(`${code}: ${message}`) }
}
