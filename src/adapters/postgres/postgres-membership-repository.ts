import type { Kysely } from 'kysely'
import { ForbiddenRoleError, TenantScopeViolationError } from '../../domain/errors.js'
import type { Membership, MembershipView } from '../../domain/membership.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { MembershipRepository } from '../../ports/membership-repository.js'
import { memberKey, membershipViewFilter } from '../shared/rows/keys.js'
import { classify } from './errors.js'
import { type MessagingDatabase, memberRow, toMembership, toMembershipView } from './schema.js'

type Key = { infrastructureId: string; channelId: string; userId: string }

export class PostgresMembershipRepository implements MembershipRepository {
  constructor(private readonly db: Kysely<MessagingDatabase>) {}

  async insert(scope: TenantScope, m: Membership): Promise<Membership> {
    try {
      const row = await this.db
        .insertInto('messaging_channel_members')
        .values(memberRow(m))
        .returningAll()
        .executeTakeFirstOrThrow()
      return toMembership(row)
    } catch (e) {
      throw classify(e, {
        conflict: { entity: 'membership', key: `${m.channelId}/${m.userId}` },
        // The composite foreign key: the channel must exist in the member's own infrastructure.
        missing: { entity: 'channel', id: m.channelId },
        refused: () =>
          scope.canAccessInfrastructure(m.infrastructureId)
            ? new ForbiddenRoleError('member.insert', ['infra_admin'], scope.role)
            : new TenantScopeViolationError(m.infrastructureId),
      })
    }
  }

  async delete(
    _scope: TenantScope,
    infrastructureId: string,
    channelId: string,
    userId: string,
  ): Promise<boolean> {
    const rows = await this.db
      .deleteFrom('messaging_channel_members')
      .where(memberKey({ infrastructureId, channelId, userId }))
      .returning('user_id')
      .execute()
    return rows.length > 0
  }

  async setOptIn(_scope: TenantScope, k: Key, optedIn: boolean, updatedAt: Date): Promise<Membership | null> {
    const row = await this.db
      .updateTable('messaging_channel_members')
      .set({ opted_in: optedIn, updated_at: updatedAt })
      .where(memberKey(k))
      .returningAll()
      .executeTakeFirst()
    return row ? toMembership(row) : null
  }

  async find(_scope: TenantScope, k: Key): Promise<Membership | null> {
    const row = await this.db
      .selectFrom('messaging_channel_members')
      .selectAll()
      .where(memberKey(k))
      .executeTakeFirst()
    return row ? toMembership(row) : null
  }

  async listByChannel(
    _scope: TenantScope,
    infrastructureId: string,
    channelId: string,
  ): Promise<Membership[]> {
    const rows = await this.db
      .selectFrom('messaging_channel_members')
      .selectAll()
      .where(memberKey({ infrastructureId, channelId }))
      .orderBy('user_id')
      .execute()
    return rows.map(toMembership)
  }

  async listViews(
    _scope: TenantScope,
    filter: { infrastructureId: string; userId?: string; channelId?: string },
  ): Promise<MembershipView[]> {
    const q = this.db
      .selectFrom('messaging_channel_memberships')
      .selectAll()
      .where(membershipViewFilter(filter))
    const rows = await q.orderBy('channel_key').orderBy('user_id').execute()
    return rows.map(toMembershipView)
  }
}
