import { type Kysely, sql } from 'kysely'
import type { Channel } from '../../domain/channel.js'
import { ConflictError, ForbiddenRoleError, TenantScopeViolationError } from '../../domain/errors.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { ChannelPatch, ChannelRepository } from '../../ports/channel-repository.js'
import { isUniqueViolation } from './sqlite-errors.js'
import { channelRow, toChannel } from './sqlite-rows.js'
import { canAccessInfrastructure, insertChecked } from './sqlite-scope.js'
import type { ChannelsTable, SqliteDatabase } from './sqlite-tables.js'

const infra = sql.ref('messaging_channels.infrastructure_id')

/** Channels: read where the scope reaches the infrastructure, written by its `infra_admin`. */
export class SqliteChannelRepository implements ChannelRepository {
  constructor(private readonly db: Kysely<SqliteDatabase>) {}

  async insert(scope: TenantScope, channel: Channel): Promise<Channel> {
    if (!scope.canAccessInfrastructure(channel.infrastructureId)) {
      throw new TenantScopeViolationError(channel.infrastructureId)
    }
    if (!scope.hasRole('infra_admin'))
      throw new ForbiddenRoleError('channel.insert', ['infra_admin'], scope.role)
    try {
      const written = await insertChecked(
        this.db,
        'messaging_channels',
        channelRow(channel),
        canAccessInfrastructure(scope, sql.val(channel.infrastructureId)),
      )
      if (written === 0) throw new TenantScopeViolationError(channel.infrastructureId)
    } catch (e) {
      if (isUniqueViolation(e)) throw new ConflictError('channel', channel.channelKey)
      throw e
    }
    return structuredClone(channel)
  }

  async findById(scope: TenantScope, infrastructureId: string, id: string): Promise<Channel | null> {
    const row = await this.db
      .selectFrom('messaging_channels')
      .selectAll()
      .where('infrastructure_id', '=', infrastructureId)
      .where('id', '=', id)
      .where(canAccessInfrastructure(scope, infra))
      .executeTakeFirst()
    return row ? toChannel(row) : null
  }

  async findByKey(scope: TenantScope, infrastructureId: string, channelKey: string): Promise<Channel | null> {
    const row = await this.db
      .selectFrom('messaging_channels')
      .selectAll()
      .where('infrastructure_id', '=', infrastructureId)
      .where('channel_key', '=', channelKey)
      .where(canAccessInfrastructure(scope, infra))
      .executeTakeFirst()
    return row ? toChannel(row) : null
  }

  async list(
    scope: TenantScope,
    filter: { infrastructureId: string; type?: string; enabled?: boolean },
  ): Promise<Channel[]> {
    let q = this.db
      .selectFrom('messaging_channels')
      .selectAll()
      .where('infrastructure_id', '=', filter.infrastructureId)
      .where(canAccessInfrastructure(scope, infra))
    if (filter.type !== undefined) q = q.where('type', '=', filter.type)
    if (filter.enabled !== undefined) q = q.where('enabled', '=', filter.enabled ? 1 : 0)
    const rows = await q.orderBy('channel_key').execute()
    return rows.map(toChannel)
  }

  async update(
    scope: TenantScope,
    infrastructureId: string,
    id: string,
    patch: ChannelPatch,
  ): Promise<Channel | null> {
    if (!scope.hasRole('infra_admin')) return null
    const set: Partial<ChannelsTable> = { updated_at: patch.updatedAt.getTime() }
    if (patch.name !== undefined) set.name = patch.name
    if (patch.config !== undefined) set.config = JSON.stringify(patch.config)
    if (patch.enabled !== undefined) set.enabled = patch.enabled ? 1 : 0
    if (patch.maxAttempts !== undefined) set.max_attempts = patch.maxAttempts
    const row = await this.db
      .updateTable('messaging_channels')
      .set(set)
      .where('infrastructure_id', '=', infrastructureId)
      .where('id', '=', id)
      .where(canAccessInfrastructure(scope, infra))
      .returningAll()
      .executeTakeFirst()
    return row ? toChannel(row) : null
  }
}
