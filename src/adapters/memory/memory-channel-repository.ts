import type { Channel } from '../../domain/channel.js'
import { ConflictError, ForbiddenRoleError, TenantScopeViolationError } from '../../domain/errors.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { ChannelPatch, ChannelRepository } from '../../ports/channel-repository.js'
import { channelKey, copy, type Journal, type MemoryState } from './memory-state.js'

export class MemoryChannelRepository implements ChannelRepository {
  constructor(
    private readonly state: MemoryState,
    private readonly journal: Journal,
  ) {}

  async insert(scope: TenantScope, channel: Channel): Promise<Channel> {
    if (!scope.canAccessInfrastructure(channel.infrastructureId)) {
      throw new TenantScopeViolationError(channel.infrastructureId)
    }
    if (!scope.hasRole('infra_admin'))
      throw new ForbiddenRoleError('channel.insert', ['infra_admin'], scope.role)
    const key = channelKey(channel.infrastructureId, channel.id)
    const taken = [...this.state.channels.values()].some(
      (c) => c.infrastructureId === channel.infrastructureId && c.channelKey === channel.channelKey,
    )
    if (taken || this.state.channels.has(key)) throw new ConflictError('channel', channel.channelKey)
    this.journal.setIn(this.state.channels, key, copy(channel))
    return copy(channel)
  }

  async findById(scope: TenantScope, infrastructureId: string, id: string): Promise<Channel | null> {
    if (!scope.canAccessInfrastructure(infrastructureId)) return null
    const c = this.state.channels.get(channelKey(infrastructureId, id))
    return c ? copy(c) : null
  }

  async findByKey(scope: TenantScope, infrastructureId: string, key: string): Promise<Channel | null> {
    if (!scope.canAccessInfrastructure(infrastructureId)) return null
    for (const c of this.state.channels.values()) {
      if (c.infrastructureId === infrastructureId && c.channelKey === key) return copy(c)
    }
    return null
  }

  async list(
    scope: TenantScope,
    filter: { infrastructureId: string; type?: string; enabled?: boolean },
  ): Promise<Channel[]> {
    if (!scope.canAccessInfrastructure(filter.infrastructureId)) return []
    return [...this.state.channels.values()]
      .filter(
        (c) =>
          c.infrastructureId === filter.infrastructureId &&
          (filter.type === undefined || c.type === filter.type) &&
          (filter.enabled === undefined || c.enabled === filter.enabled),
      )
      .sort((a, b) => (a.channelKey < b.channelKey ? -1 : a.channelKey > b.channelKey ? 1 : 0))
      .map(copy)
  }

  async update(
    scope: TenantScope,
    infrastructureId: string,
    id: string,
    patch: ChannelPatch,
  ): Promise<Channel | null> {
    if (!scope.canAccessInfrastructure(infrastructureId) || !scope.hasRole('infra_admin')) return null
    const key = channelKey(infrastructureId, id)
    const current = this.state.channels.get(key)
    if (!current) return null
    const next: Channel = {
      ...current,
      ...(patch.name !== undefined && { name: patch.name }),
      ...(patch.config !== undefined && { config: copy(patch.config) }),
      ...(patch.enabled !== undefined && { enabled: patch.enabled }),
      ...(patch.maxAttempts !== undefined && { maxAttempts: patch.maxAttempts }),
      updatedAt: patch.updatedAt,
    }
    this.journal.setIn(this.state.channels, key, next)
    return copy(next)
  }
}
