import type { Role } from './tenant-scope.js'

/**
 * A refusal outside the caller's scope (a tenant it holds no grant on). It is not written
 * into that tenant's audit trail (an outsider could fill any tenant's trail at will) but
 * counted in the module-level security log that operators read.
 */
export interface SecurityRefusal {
  /** `channel.create`, `outbox.enqueue`, ... */
  readonly action: string
  /** `TENANT_SCOPE_VIOLATION`, `FORBIDDEN_ROLE`. */
  readonly errorCode: string
  /** The tenant the refused call named. */
  readonly infrastructureId: string
  readonly businessId: string | null
  /** When it happened (the store's clock where it has one: PostgreSQL uses `now()`). */
  readonly at: Date
}

/**
 * One row of the security log: every refusal of one caller, role, action and error code in
 * one hour, counted. However many requests a caller sends, it adds at most one row per
 * action and code an hour: the log is bounded per caller.
 */
export interface SecurityEvent {
  readonly actorId: string
  readonly actorRole: Role
  /** The hour counted (its first instant, UTC). */
  readonly windowStart: Date
  readonly action: string
  readonly errorCode: string
  readonly refusals: number
  readonly firstAt: Date
  readonly lastAt: Date
  /** The tenant the last refusal of the row named. */
  readonly lastInfrastructureId: string
  readonly lastBusinessId: string | null
}

/** The aggregation window: one hour (operators read hours; a flood costs one row an hour). */
export const SECURITY_WINDOW_MS = 3_600_000

/** The first instant of the window `at` falls in. */
export const securityWindowOf = (at: Date): Date =>
  new Date(Math.floor(at.getTime() / SECURITY_WINDOW_MS) * SECURITY_WINDOW_MS)
