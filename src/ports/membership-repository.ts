import type { Membership, MembershipView } from '../domain/membership.js'
import type { TenantScope } from '../domain/tenant-scope.js'

/**
 * Channel memberships. Readable where the scope reaches the infrastructure; added and
 * removed by `infra_admin`; the opt-in flag is changed by the member or an `infra_admin`.
 */
export interface MembershipRepository {
  /**
   * Throws TenantScopeViolationError outside the scope, ForbiddenRoleError for a non-admin,
   * NotFoundError when the channel is not in the same infrastructure, ConflictError on a repeat.
   */
  insert(scope: TenantScope, membership: Membership): Promise<Membership>
  /** false when absent, outside the scope or not the scope's to remove. */
  delete(scope: TenantScope, infrastructureId: string, channelId: string, userId: string): Promise<boolean>
  /** null when absent, outside the scope, or neither the member nor an `infra_admin` asks. */
  setOptIn(
    scope: TenantScope,
    key: { infrastructureId: string; channelId: string; userId: string },
    optedIn: boolean,
    updatedAt: Date,
  ): Promise<Membership | null>
  find(
    scope: TenantScope,
    key: { infrastructureId: string; channelId: string; userId: string },
  ): Promise<Membership | null>
  /** Members of one channel, ordered by userId. */
  listByChannel(scope: TenantScope, infrastructureId: string, channelId: string): Promise<Membership[]>
  /** The memberships view (membership plus channel metadata), ordered by channelKey then userId. */
  listViews(
    scope: TenantScope,
    filter: { infrastructureId: string; userId?: string; channelId?: string },
  ): Promise<MembershipView[]>
}
