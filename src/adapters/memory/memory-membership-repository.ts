import {
  ConflictError,
  ForbiddenRoleError,
  NotFoundError,
  TenantScopeViolationError,
} from '../../domain/errors.js'
import type { Membership, MembershipView } from '../../domain/membership.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { MembershipRepository } from '../../ports/membership-repository.js'
import { channelKey, copy, type Journal, type MemoryState, memberKey } from './memory-state.js'

type Key = { infrastructureId: string; channelId: string; userId: string }

const byUser = (a: Membership, b: Membership) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0)

export class MemoryMembershipRepository implements MembershipRepository {
  constructor(
    private readonly state: MemoryState,
    private readonly journal: Journal,
  ) {}

  async insert(scope: TenantScope, m: Membership): Promise<Membership> {
    if (!scope.canAccessInfrastructure(m.infrastructureId))
      throw new TenantScopeViolationError(m.infrastructureId)
    if (!scope.hasRole('infra_admin'))
      throw new ForbiddenRoleError('member.insert', ['infra_admin'], scope.role)
    // The composite foreign key: the channel must exist in the member's own infrastructure.
    if (!this.state.channels.has(channelKey(m.infrastructureId, m.channelId))) {
      throw new NotFoundError('channel', m.channelId)
    }
    const key = memberKey(m.infrastructureId, m.channelId, m.userId)
    if (this.state.members.has(key)) throw new ConflictError('membership', `${m.channelId}/${m.userId}`)
    this.journal.setIn(this.state.members, key, copy(m))
    return copy(m)
  }

  async delete(
    scope: TenantScope,
    infrastructureId: string,
    channelId: string,
    userId: string,
  ): Promise<boolean> {
    if (!scope.canAccessInfrastructure(infrastructureId) || !scope.hasRole('infra_admin')) return false
    const key = memberKey(infrastructureId, channelId, userId)
    if (!this.state.members.has(key)) return false
    this.journal.deleteIn(this.state.members, key)
    return true
  }

  async setOptIn(scope: TenantScope, k: Key, optedIn: boolean, updatedAt: Date): Promise<Membership | null> {
    if (!scope.canAccessInfrastructure(k.infrastructureId)) return null
    if (k.userId !== scope.userId && !scope.hasRole('infra_admin')) return null
    const key = memberKey(k.infrastructureId, k.channelId, k.userId)
    const current = this.state.members.get(key)
    if (!current) return null
    const next = { ...current, optedIn, updatedAt }
    this.journal.setIn(this.state.members, key, next)
    return copy(next)
  }

  async find(scope: TenantScope, k: Key): Promise<Membership | null> {
    if (!scope.canAccessInfrastructure(k.infrastructureId)) return null
    const m = this.state.members.get(memberKey(k.infrastructureId, k.channelId, k.userId))
    return m ? copy(m) : null
  }

  async listByChannel(
    scope: TenantScope,
    infrastructureId: string,
    channelId: string,
  ): Promise<Membership[]> {
    if (!scope.canAccessInfrastructure(infrastructureId)) return []
    return [...this.state.members.values()]
      .filter((m) => m.infrastructureId === infrastructureId && m.channelId === channelId)
      .sort(byUser)
      .map(copy)
  }

  async listViews(
    scope: TenantScope,
    filter: { infrastructureId: string; userId?: string; channelId?: string },
  ): Promise<MembershipView[]> {
    if (!scope.canAccessInfrastructure(filter.infrastructureId)) return []
    const views: MembershipView[] = []
    for (const m of this.state.members.values()) {
      if (m.infrastructureId !== filter.infrastructureId) continue
      if (filter.userId !== undefined && m.userId !== filter.userId) continue
      if (filter.channelId !== undefined && m.channelId !== filter.channelId) continue
      const c = this.state.channels.get(channelKey(m.infrastructureId, m.channelId))
      if (!c) continue
      views.push({
        ...copy(m),
        channelKey: c.channelKey,
        channelType: c.type,
        channelName: c.name,
        channelEnabled: c.enabled,
      })
    }
    return views.sort((a, b) =>
      a.channelKey < b.channelKey ? -1 : a.channelKey > b.channelKey ? 1 : byUser(a, b),
    )
  }
}
