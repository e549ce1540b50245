import { type Kysely, sql } from 'kysely'
import type { Channel } from '../../domain/channel.js'
import { ForbiddenRoleError, TenantScopeViolationError } from '../../domain/errors.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { ChannelPatch, ChannelRepository } from '../../ports/channel-repository.js'
import { classify } from './errors.js'
import { channelRow, json, type MessagingDatabase, toChannel } from './schema.js'

/** Channels. Scope and role are the policies' to decide; this class only maps their answers. */
export class PostgresChannelRepository implements ChannelRepository {
  constructor(private readonly db: Kysely<MessagingDatabase>) {}

  async insert(scope: TenantScope, channel: Channel): Promise<Channel> {
    try {
      const row = await this.db
        .insertInto('messaging_channels')
        .values(channelRow(channel))
        .returningAll()
        .executeTakeFirstOrThrow()
      return toChannel(row)
    } catch (e) {
      throw classify(e, {
        conflict: { entity: 'channel', key: channel.channelKey },
        refused: () =>
          scope.canAccessInfrastructure(channel.infrastructureId)
            ? new ForbiddenRoleError('channel.insert', ['infra_admin'], scope.role)
            : new TenantScopeViolationError(channel.infrastructureId),
      })
    }
  }

  async findById(_scope: TenantScope, infrastructureId: string, id: string): Promise<Channel | null> {
    const row = await this.db
      .selectFrom('messaging_channels')
      .selectAll()
      .where('infrastructure_id', '=', infrastructureId)
      .where('id', '=', id)
      .executeTakeFirst()
    return row ? toChannel(row) : null
  }

  async findByKey(
    _scope: TenantScope,
    infrastructureId: string,
    channelKey: string,
  ): Promise<Channel | null> {
    const row = await this.db
      .selectFrom('messaging_channels')
      .selectAll()
      .where('infrastructure_id', '=', infrastructureId)
      .where('channel_key', '=', channelKey)
      .executeTakeFirst()
    return row ? toChannel(row) : null
  }

  async list(
    _scope: TenantScope,
    filter: { infrastructureId: string; type?: string; enabled?: boolean },
  ): Promise<Channel[]> {
    let q = this.db
      .selectFrom('messaging_channels')
      .selectAll()
      .where('infrastructure_id', '=', filter.infrastructureId)
    if (filter.type !== undefined) q = q.where('type', '=', filter.type)
    if (filter.enabled !== undefined) q = q.where('enabled', '=', filter.enabled)
    // channel_key is COLLATE "C": byte order, the same as the memory adapter's string order.
    const rows = await q.orderBy('channel_key').execute()
    return rows.map(toChannel)
  }

  async update(
    _scope: TenantScope,
    infrastructureId: string,
    id: string,
    patch: ChannelPatch,
  ): Promise<Channel | null> {
    const row = await this.db
      .updateTable('messaging_channels')
      .set({
        ...(patch.name !== undefined && { name: patch.name }),
        ...(patch.config !== undefined && { config: sql`${json(patch.config)}::jsonb` }),
        ...(patch.enabled !== undefined && { enabled: patch.enabled }),
        ...(patch.maxAttempts !== undefined && { max_attempts: patch.maxAttempts }),
        updated_at: patch.updatedAt,
      })
      .where('infrastructure_id', '=', infrastructureId)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst()
    // A row outside the scope, or a role the update policy does not admit, is simply not
    // matched: 0 rows, null, nothing changed.
    return row ? toChannel(row) : null
  }
}
