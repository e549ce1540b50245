import { type Kysely, sql } from 'kysely'
import {
  ConflictError,
  ForbiddenRoleError,
  NotFoundError,
  TenantScopeViolationError,
} from '../../domain/errors.js'
import type { Membership, MembershipView } from '../../domain/membership.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { MembershipRepository } from '../../ports/membership-repository.js'
import { memberKey, membershipViewFilter } from '../shared/rows/keys.js'
import { isForeignKeyViolation, isUniqueViolation } from './sqlite-errors.js'
import { memberRow, toMembership, toMembershipView } from './sqlite-rows.js'
import { canAccessInfrastructure, insertChecked } from './sqlite-scope.js'
import type { SqliteDatabase } from './sqlite-tables.js'

type Key = { infrastructureId: string; channelId: string; userId: string }

const members = sql.ref('messaging_channel_members.infrastructure_id')
const view = sql.ref('messaging_channel_memberships.infrastructure_id')

/** Memberships: read within the scope, added and removed by `infra_admin`, opted in by the member. */
export class SqliteMembershipRepository implements MembershipRepository {
  constructor(private readonly db: Kysely<SqliteDatabase>) {}

  async insert(scope: TenantScope, m: Membership): Promise<Membership> {
    if (!scope.canAccessInfrastructure(m.infrastructureId))
      throw new TenantScopeViolationError(m.infrastructureId)
    if (!scope.hasRole('infra_admin'))
      throw new ForbiddenRoleError('member.insert', ['infra_admin'], scope.role)
    try {
      const written = await insertChecked(
        this.db,
        'messaging_channel_members',
        memberRow(m),
        canAccessInfrastructure(scope, sql.val(m.infrastructureId)),
      )
      if (written === 0) throw new TenantScopeViolationError(m.infrastructureId)
    } catch (e) {
      // The composite foreign key: the channel must exist in the member's own infrastructure.
      if (isForeignKeyViolation(e)) throw new NotFoundError('channel', m.channelId)
      if (isUniqueViolation(e)) throw new ConflictError('membership', `${m.channelId}/${m.userId}`)
      throw e
    }
    return structuredClone(m)
  }

  async delete(
    scope: TenantScope,
    infrastructureId: string,
    channelId: string,
    userId: string,
  ): Promise<boolean> {
    if (!scope.hasRole('infra_admin')) return false
    const result = await this.db
      .deleteFrom('messaging_channel_members')
      .where(memberKey({ infrastructureId, channelId, userId }))
      .where(canAccessInfrastructure(scope, members))
      .executeTakeFirst()
    return result.numDeletedRows > 0n
  }

  async setOptIn(scope: TenantScope, k: Key, optedIn: boolean, updatedAt: Date): Promise<Membership | null> {
    let q = this.db
      .updateTable('messaging_channel_members')
      .set({ opted_in: optedIn ? 1 : 0, updated_at: updatedAt.getTime() })
      .where(memberKey(k))
      .where(canAccessInfrastructure(scope, members))
    // Only the member itself, or an infra_admin, changes the opt-in.
    if (!scope.hasRole('infra_admin')) q = q.where('user_id', '=', scope.userId)
    const row = await q.returningAll().executeTakeFirst()
    return row ? toMembership(row) : null
  }

  async find(scope: TenantScope, k: Key): Promise<Membership | null> {
    const row = await this.db
      .selectFrom('messaging_channel_members')
      .selectAll()
      .where(memberKey(k))
      .where(canAccessInfrastructure(scope, members))
      .executeTakeFirst()
    return row ? toMembership(row) : null
  }

  async listByChannel(
    scope: TenantScope,
    infrastructureId: string,
    channelId: string,
  ): Promise<Membership[]> {
    const rows = await this.db
      .selectFrom('messaging_channel_members')
      .selectAll()
      .where(memberKey({ infrastructureId, channelId }))
      .where(canAccessInfrastructure(scope, members))
      .orderBy('user_id')
      .execute()
    return rows.map(toMembership)
  }

  async listViews(
    scope: TenantScope,
    filter: { infrastructureId: string; userId?: string; channelId?: string },
  ): Promise<MembershipView[]> {
    const q = this.db
      .selectFrom('messaging_channel_memberships')
      .selectAll()
      .where(membershipViewFilter(filter))
      .where(canAccessInfrastructure(scope, view))
    const rows = await q.orderBy('channel_key').orderBy('user_id').execute()
    return rows.map(toMembershipView)
  }
}
