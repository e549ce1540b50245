/**
 * The closed set of errors the module raises. Hosts branch on `code` (it survives
 * serialisation, bundling and duplicated packages, where `instanceof` may not);
 * `src/http` maps each code to one status. No message ever carries a secret.
 *
 * @example
 * try { await messaging.enqueue(principal, input) }
 * catch (e) { if (isMessagingError(e) && e.code === 'VALIDATION_FAILED') console.log(e.issues) }
 */
export type ErrorCode =
  | 'VALIDATION_FAILED'
  | 'UNAUTHENTICATED'
  | 'TENANT_SCOPE_VIOLATION'
  | 'FORBIDDEN_ROLE'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'ILLEGAL_TRANSITION'
  | 'PAYLOAD_TOO_LARGE'
  | 'CHANNEL_DISABLED'
  | 'RATE_LIMITED'
  | 'STORAGE_FAILURE'

export abstract class MessagingError extends Error {
  abstract readonly code: ErrorCode
  override get name(): string {
    return this.constructor.name
  }
}

/** One rule broken by one field; `path` is dotted (`config.url`, `recipients.2`). */
export interface ValidationIssue {
  readonly path: string
  readonly rule: string
  readonly message: string
}

/** Input broke a rule. `field` and `rule` name the first issue; `issues` lists all of them. */
export class ValidationError extends MessagingError {
  readonly code = 'VALIDATION_FAILED'
  readonly field: string
  readonly rule: string
  constructor(readonly issues: readonly ValidationIssue[]) {
    const first = issues[0] ?? { path: '(input)', rule: 'invalid', message: 'invalid input' }
    super(issues.map((i) => `${i.path}: ${i.message}`).join('; ') || `${first.path}: ${first.rule}`)
    this.field = first.path
    this.rule = first.rule
  }

  static single(path: string, rule: string, message: string = rule): ValidationError {
    return new ValidationError([{ path, rule, message }])
  }
}

/** The caller could not be identified (raised by hosts' authenticate hooks and the HTTP surface). */
export class UnauthenticatedError extends MessagingError {
  readonly code = 'UNAUTHENTICATED'
  constructor(message = 'authentication required') {
    super(message)
  }
}

/** The principal holds no grant for the tenant it tried to reach. */
export class TenantScopeViolationError extends MessagingError {
  readonly code = 'TENANT_SCOPE_VIOLATION'
  constructor(
    readonly infrastructureId: string,
    readonly businessId: string | null = null,
  ) {
    super(
      businessId === null
        ? `no grant for infrastructure ${infrastructureId}`
        : `no grant for business ${businessId} of infrastructure ${infrastructureId}`,
    )
  }
}

/** The principal's role may not perform the action. */
export class ForbiddenRoleError extends MessagingError {
  readonly code = 'FORBIDDEN_ROLE'
  constructor(
    readonly action: string,
    readonly required: readonly string[],
    readonly actual: string,
  ) {
    super(`${action} requires role ${required.join(' or ')}, principal has ${actual}`)
  }
}

/** The entity does not exist, or lies outside the caller's scope (the two are indistinguishable on purpose). */
export class NotFoundError extends MessagingError {
  readonly code = 'NOT_FOUND'
  constructor(
    readonly entity: string,
    readonly id: string,
  ) {
    super(`${entity} ${id} not found`)
  }
}

/** A unique key is already taken (channel key, membership). */
export class ConflictError extends MessagingError {
  readonly code = 'CONFLICT'
  constructor(
    readonly entity: string,
    readonly key: string,
  ) {
    super(`${entity} ${key} already exists`)
  }
}

/** A delivery-state change the state machine does not allow. */
export class IllegalTransitionError extends MessagingError {
  readonly code = 'ILLEGAL_TRANSITION'
  constructor(
    readonly from: string,
    readonly to: string,
    reason?: string,
  ) {
    super(`illegal transition ${from} -> ${to}${reason ? `: ${reason}` : ''}`)
  }
}

/** A payload exceeds the configured cap. */
export class PayloadTooLargeError extends MessagingError {
  readonly code = 'PAYLOAD_TOO_LARGE'
  constructor(
    readonly field: string,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(`${field}: ${bytes} bytes exceeds the limit of ${limit}`)
  }
}

/** A message targets a channel that is switched off. */
export class ChannelDisabledError extends MessagingError {
  readonly code = 'CHANNEL_DISABLED'
  constructor(readonly channelId: string) {
    super(`channel ${channelId} is disabled`)
  }
}

/** A tenant's quota is spent (the HTTP surface's enqueue quota); retry after `retryAfterSeconds`. */
export class RateLimitedError extends MessagingError {
  readonly code = 'RATE_LIMITED'
  constructor(
    readonly infrastructureId: string,
    readonly retryAfterSeconds: number,
  ) {
    super(`enqueue quota of infrastructure ${infrastructureId} exhausted; retry in ${retryAfterSeconds} s`)
  }
}

/** The store failed for a reason that is not the caller's (connection lost, unclassified SQLSTATE). */
export class StorageError extends MessagingError {
  readonly code = 'STORAGE_FAILURE'
  /**
   * The store is set up wrong for this call (a login it needs was not given): retrying
   * cannot help, the message names the setting. A worker refuses to run on such a store.
   */
  readonly misconfigured: boolean
  constructor(message: string, options?: { cause?: unknown; misconfigured?: boolean }) {
    super(message, options)
    this.misconfigured = options?.misconfigured === true
  }
}

const ERROR_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'VALIDATION_FAILED',
  'UNAUTHENTICATED',
  'TENANT_SCOPE_VIOLATION',
  'FORBIDDEN_ROLE',
  'NOT_FOUND',
  'CONFLICT',
  'ILLEGAL_TRANSITION',
  'PAYLOAD_TOO_LARGE',
  'CHANNEL_DISABLED',
  'RATE_LIMITED',
  'STORAGE_FAILURE',
])

/**
 * True for every error of the module's closed set, also across duplicated copies of the
 * package (where `instanceof` fails): an Error whose `code` is one of the set's codes.
 * A Node system error (`ECONNREFUSED`) or a driver's error is not one.
 */
export const isMessagingError = (e: unknown): e is MessagingError =>
  e instanceof MessagingError ||
  (e instanceof Error && ERROR_CODES.has(String((e as { code?: unknown }).code)))
