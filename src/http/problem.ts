import {
  ConflictError,
  type ErrorCode,
  ForbiddenRoleError,
  IllegalTransitionError,
  isMessagingError,
  type MessagingError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  TenantScopeViolationError,
  ValidationError,
  type ValidationIssue,
} from '../domain/errors.js'

/**
 * Codes only the HTTP surface raises, beside the domain's `ErrorCode`s: the request never
 * reached the module (unknown route, wrong method or media type) or the server failed in a
 * way it will not describe. A spent quota is the domain's RATE_LIMITED (RateLimitedError).
 */
export type HttpErrorCode = 'ROUTE_NOT_FOUND' | 'METHOD_NOT_ALLOWED' | 'UNSUPPORTED_MEDIA_TYPE' | 'INTERNAL'

/** Every `code` a problem response can carry. */
export type ProblemCode = ErrorCode | HttpErrorCode

/**
 * An RFC 9457 problem document, as every 4xx and 5xx of the handler carries it
 * (`Content-Type: application/problem+json`). `code` is the stable machine-readable
 * identifier; the remaining members depend on it (`errors` for VALIDATION_FAILED, ...).
 *
 * @example
 * { "type": "urn:messaging:problem:validation-failed", "title": "Validation failed", "status": 400,
 *   "code": "VALIDATION_FAILED", "detail": "channelKey: must be a lower-case slug ...",
 *   "instance": "/functions/v1/messaging/queue",
 *   "errors": [{ "path": "channelKey", "rule": "format:regex", "message": "must be a lower-case slug ..." }] }
 */
export interface ProblemDetails {
  readonly type: string
  readonly title: string
  readonly status: number
  readonly code: ProblemCode
  readonly detail?: string
  readonly instance?: string
  /** VALIDATION_FAILED: every broken field and rule. */
  readonly errors?: readonly ValidationIssue[]
  readonly [extension: string]: unknown
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

/** Status and title of each code: the one place a code becomes an HTTP status. */
const STATUS: Readonly<Record<ProblemCode, readonly [number, string]>> = {
  VALIDATION_FAILED: [400, 'Validation failed'],
  UNAUTHENTICATED: [401, 'Authentication required'],
  TENANT_SCOPE_VIOLATION: [403, 'Outside the tenant scope'],
  FORBIDDEN_ROLE: [403, 'Role not allowed'],
  NOT_FOUND: [404, 'Not found'],
  ROUTE_NOT_FOUND: [404, 'No such route'],
  METHOD_NOT_ALLOWED: [405, 'Method not allowed'],
  CONFLICT: [409, 'Conflict'],
  ILLEGAL_TRANSITION: [409, 'Illegal state transition'],
  // A disabled channel is a state of the target, not a fault of the request: 409, not 4xx-validation.
  CHANNEL_DISABLED: [409, 'Channel disabled'],
  PAYLOAD_TOO_LARGE: [413, 'Payload too large'],
  UNSUPPORTED_MEDIA_TYPE: [415, 'Unsupported media type'],
  RATE_LIMITED: [429, 'Too many requests'],
  INTERNAL: [500, 'Internal server error'],
  // The store failed for a reason that is not the caller's: worth a retry, hence 503.
  STORAGE_FAILURE: [503, 'Storage unavailable'],
}

/** The HTTP status of a problem code; `undefined` for a code outside the closed set. */
export function statusOfCode(code: string): number | undefined {
  return Object.hasOwn(STATUS, code) ? STATUS[code as ProblemCode][0] : undefined
}

/** Raised inside the handler for the HTTP-only codes. */
export class HttpProblem extends Error {
  constructor(
    readonly code: HttpErrorCode,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message)
  }
}

export interface ProblemOptions {
  /** Prefix of the `type` URI; the code follows in kebab case. */
  readonly typeBase: string
  readonly instance?: string
}

const kebab = (code: string) => code.toLowerCase().replaceAll('_', '-')

/** The typed members each domain error adds to its problem, so a client can rebuild the error. */
function extensionsOf(e: MessagingError): Record<string, unknown> {
  if (e instanceof ValidationError) return { errors: e.issues }
  if (e instanceof TenantScopeViolationError)
    return { infrastructureId: e.infrastructureId, businessId: e.businessId }
  if (e instanceof ForbiddenRoleError) return { action: e.action, required: e.required, role: e.actual }
  if (e instanceof NotFoundError) return { entity: e.entity, id: e.id }
  if (e instanceof ConflictError) return { entity: e.entity, key: e.key }
  if (e instanceof IllegalTransitionError) return { from: e.from, to: e.to }
  if (e instanceof PayloadTooLargeError) return { field: e.field, bytes: e.bytes, limit: e.limit }
  if (e instanceof RateLimitedError)
    return { infrastructureId: e.infrastructureId, retryAfterSeconds: e.retryAfterSeconds }
  if (e.code === 'CHANNEL_DISABLED') return { channelId: (e as { channelId?: unknown }).channelId }
  return {}
}

function build(
  code: ProblemCode,
  detail: string | undefined,
  opts: ProblemOptions,
  extra: Record<string, unknown> = {},
): ProblemDetails {
  const [status, title] = STATUS[code]
  return {
    type: `${opts.typeBase}${kebab(code)}`,
    title,
    status,
    code,
    ...(detail !== undefined && { detail }),
    ...(opts.instance !== undefined && { instance: opts.instance }),
    ...extra,
  }
}

/**
 * The problem document of any thrown value. A domain error of the closed set keeps its code,
 * message and typed members; STORAGE_FAILURE and anything unknown get a generic text (no
 * stack, no cause, no driver message: those may hold a connection string or a secret).
 */
export function problemOf(error: unknown, opts: ProblemOptions): ProblemDetails {
  if (error instanceof HttpProblem) return build(error.code, error.message, opts)
  if (isMessagingError(error) && statusOfCode(error.code) !== undefined) {
    if (error.code === 'STORAGE_FAILURE')
      return build('STORAGE_FAILURE', 'the store failed; retry later', opts)
    return build(error.code, error.message, opts, extensionsOf(error))
  }
  return build('INTERNAL', 'an unexpected error occurred', opts)
}

/**
 * A store that failed (down, restarting) is worth asking again after this many seconds: the
 * delivery worker's claims back off to 5 s too.
 */
export const STORAGE_RETRY_AFTER_SECONDS = 5

/** Response headers a thrown value asks for: `Allow` of a 405, `Retry-After` of a 429 and a 503. */
export function headersOf(error: unknown): Record<string, string> {
  if (error instanceof HttpProblem) return { ...error.headers }
  if (error instanceof RateLimitedError) return { 'retry-after': String(error.retryAfterSeconds) }
  if (isMessagingError(error) && error.code === 'STORAGE_FAILURE')
    return { 'retry-after': String(STORAGE_RETRY_AFTER_SECONDS) }
  return {}
}

/** True when the problem is the server's fault (worth reporting to the host's `onError`). */
export const isServerProblem = (p: ProblemDetails) => p.status >= 500

/** The problem as a Response, with the headers every error carries. */
export function problemResponse(
  problem: ProblemDetails,
  headers: Readonly<Record<string, string>> = {},
): Response {
  return new Response(JSON.stringify(problem), {
    status: problem.status,
    headers: {
      'content-type': PROBLEM_CONTENT_TYPE,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      ...headers,
    },
  })
}
