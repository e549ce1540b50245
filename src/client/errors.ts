import {
  ChannelDisabledError,
  ConflictError,
  ForbiddenRoleError,
  IllegalTransitionError,
  type MessagingError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  StorageError,
  TenantScopeViolationError,
  UnauthenticatedError,
  ValidationError,
  type ValidationIssue,
} from '../domain/errors.js'
import type { HttpErrorCode, ProblemDetails } from '../http/problem.js'

/**
 * A failure with no class in the domain's closed set: an HTTP-only code (ROUTE_NOT_FOUND,
 * METHOD_NOT_ALLOWED, UNSUPPORTED_MEDIA_TYPE, INTERNAL) or a response that is no problem
 * document at all (`code` HTTP_ERROR, say a proxy's 502 page).
 */
export class MessagingHttpError extends Error {
  override readonly name = 'MessagingHttpError'
  constructor(
    readonly status: number,
    readonly code: HttpErrorCode | 'HTTP_ERROR',
    message: string,
    readonly problem: ProblemDetails | null,
    /** Seconds from the response's Retry-After header, when it had one (a gateway's 503, say). */
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(message)
  }
}

const str = (v: unknown, fallback = ''): string => (typeof v === 'string' ? v : fallback)
const num = (v: unknown): number => (typeof v === 'number' ? v : 0)

function issuesOf(v: unknown): ValidationIssue[] {
  if (!Array.isArray(v)) return []
  return v
    .filter((i): i is Record<string, unknown> => typeof i === 'object' && i !== null)
    .map((i) => ({ path: str(i.path, '(input)'), rule: str(i.rule, 'invalid'), message: str(i.message) }))
}

/**
 * The module's typed error for a problem document, chosen by `code` (not by status), so a
 * caller's `catch (e) { if (e instanceof TenantScopeViolationError) ... }` works the same
 * over HTTP as in process.
 */
export function errorFromProblem(
  status: number,
  problem: ProblemDetails,
  retryAfterSeconds: number | null = null,
): MessagingError | MessagingHttpError {
  const p = problem as Record<string, unknown>
  switch (problem.code) {
    case 'VALIDATION_FAILED':
      return new ValidationError(issuesOf(p.errors))
    case 'UNAUTHENTICATED':
      return new UnauthenticatedError(str(p.detail, 'authentication required'))
    case 'TENANT_SCOPE_VIOLATION':
      return new TenantScopeViolationError(
        str(p.infrastructureId),
        typeof p.businessId === 'string' ? p.businessId : null,
      )
    case 'FORBIDDEN_ROLE':
      return new ForbiddenRoleError(
        str(p.action),
        Array.isArray(p.required) ? p.required.map(String) : [],
        str(p.role),
      )
    case 'NOT_FOUND':
      return new NotFoundError(str(p.entity), str(p.id))
    case 'CONFLICT':
      return new ConflictError(str(p.entity), str(p.key))
    case 'ILLEGAL_TRANSITION':
      return new IllegalTransitionError(str(p.from), str(p.to))
    case 'PAYLOAD_TOO_LARGE':
      return new PayloadTooLargeError(str(p.field), num(p.bytes), num(p.limit))
    case 'CHANNEL_DISABLED':
      return new ChannelDisabledError(str(p.channelId))
    case 'RATE_LIMITED':
      return new RateLimitedError(
        str(p.infrastructureId),
        retryAfterSeconds ?? (typeof p.retryAfterSeconds === 'number' ? p.retryAfterSeconds : 1),
      )
    case 'STORAGE_FAILURE':
      return new StorageError(str(p.detail, 'the store failed'))
    default: {
      const code = problem.code as string
      const known: readonly string[] = [
        'ROUTE_NOT_FOUND',
        'METHOD_NOT_ALLOWED',
        'UNSUPPORTED_MEDIA_TYPE',
        'INTERNAL',
      ]
      return new MessagingHttpError(
        status,
        known.includes(code) ? (code as HttpErrorCode) : 'HTTP_ERROR',
        str(p.detail, str(p.title, `HTTP ${status}`)),
        problem,
        retryAfterSeconds,
      )
    }
  }
}
