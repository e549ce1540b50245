import type { Channel } from '../domain/channel.js'
import type { TenantScope } from '../domain/tenant-scope.js'

export interface ChannelPatch {
  readonly name?: string
  readonly config?: Record<string, unknown>
  readonly enabled?: boolean
  readonly maxAttempts?: number | null
  readonly updatedAt: Date
}

/**
 * Channels of the tenants a scope reaches. Reads see only channels whose infrastructure
 * the scope reaches; writes need role `infra_admin` as well (the same rule as the SQL policies).
 */
export interface ChannelRepository {
  /**
   * Throws TenantScopeViolationError outside the scope, ForbiddenRoleError for a role
   * other than `infra_admin`, ConflictError when the infrastructure already has the key.
   */
  insert(scope: TenantScope, channel: Channel): Promise<Channel>
  /** null when absent or outside the scope (indistinguishable on purpose). */
  findById(scope: TenantScope, infrastructureId: string, id: string): Promise<Channel | null>
  findByKey(scope: TenantScope, infrastructureId: string, channelKey: string): Promise<Channel | null>
  /** Ordered by channelKey. */
  list(
    scope: TenantScope,
    filter: { infrastructureId: string; type?: string; enabled?: boolean },
  ): Promise<Channel[]>
  /** null when absent, outside the scope or not writable by the scope's role: nothing changes then. */
  update(
    scope: TenantScope,
    infrastructureId: string,
    id: string,
    patch: ChannelPatch,
  ): Promise<Channel | null>
}
