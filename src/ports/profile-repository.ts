import type { JsonValue } from '../domain/outbox-message.js'
import type { QuietHours } from '../domain/quiet-hours.js'
import type { RecipientProfile } from '../domain/recipient-profile.js'
import type { TenantScope } from '../domain/tenant-scope.js'

/** The fields an update changes (absent: unchanged). */
export interface ProfilePatch {
  readonly businessId?: string | null
  readonly email?: string | null
  readonly phone?: string | null
  readonly locale?: string | null
  readonly timeZone?: string | null
  readonly quietHours?: QuietHours | null
  readonly properties?: { readonly [key: string]: JsonValue }
  readonly updatedAt: Date
  readonly updatedBy: string
}

/**
 * Recipient profiles. An `infra_admin` or `service` reads the profiles of the businesses its
 * grants reach (`tenant_can_access(infrastructure, business)`); a member reads only its own.
 * Written by an `infra_admin` within its grants; a member changes only its own contact
 * points, locale and time zone.
 */
export interface ProfileRepository {
  /**
   * Throws TenantScopeViolationError outside the scope, ForbiddenRoleError for a role other
   * than `infra_admin`, ConflictError when the user already has a profile in the infrastructure.
   */
  insert(scope: TenantScope, profile: RecipientProfile): Promise<RecipientProfile>
  /**
   * null when absent, outside the scope or not the scope's to change. ForbiddenRoleError when
   * a member's patch touches `businessId` or `properties`.
   */
  update(
    scope: TenantScope,
    infrastructureId: string,
    userId: string,
    patch: ProfilePatch,
  ): Promise<RecipientProfile | null>
  /** null when absent or not visible to the scope. */
  find(scope: TenantScope, infrastructureId: string, userId: string): Promise<RecipientProfile | null>
  /** The visible profiles among `userIds` (up to 10,000), in no particular order. */
  findMany(
    scope: TenantScope,
    infrastructureId: string,
    userIds: readonly string[],
  ): Promise<RecipientProfile[]>
  /** Ordered by userId; keyset pagination by `after`. */
  list(
    scope: TenantScope,
    filter: {
      readonly infrastructureId: string
      readonly businessId?: string | null
      readonly after?: string
      readonly limit: number
    },
  ): Promise<RecipientProfile[]>
  /** false when absent, outside the scope or not the scope's to remove (`infra_admin` only). */
  delete(scope: TenantScope, infrastructureId: string, userId: string): Promise<boolean>
}
