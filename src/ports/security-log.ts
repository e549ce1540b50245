import type { SecurityEvent, SecurityRefusal } from '../domain/security-log.js'
import type { TenantScope } from '../domain/tenant-scope.js'

/**
 * The module-level security log: refusals outside the caller's scope, aggregated. The
 * caller is the scope's principal, never an argument, so nobody records in another's name.
 */
export interface SecurityLog {
  /**
   * Counts one refusal in the row of (caller, role, action, error code, hour), creating it
   * on the first one: at most one row per caller, action and code an hour.
   */
  recordRefusal(scope: TenantScope, refusal: SecurityRefusal): Promise<void>
}

/** What operators ask of the log (host code with the store owner's rights; no tenant reads it). */
export interface SecurityLogFilter {
  /** Rows whose last refusal is at or after this instant. */
  readonly since?: Date
  readonly actorId?: string
  readonly limit: number
}

export type { SecurityEvent }
