import { type Kysely, sql } from 'kysely'
import { ForbiddenRoleError, TenantScopeViolationError } from '../../domain/errors.js'
import type { RecipientProfile } from '../../domain/recipient-profile.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { ProfilePatch, ProfileRepository } from '../../ports/profile-repository.js'
import { classify } from './errors.js'
import type { ProfileRow } from './recipient-schema.js'
import { json, type MessagingDatabase, profileRow, toProfile } from './schema.js'

/** Recipient profiles. The policies of sql/0020 decide who sees and changes what; this maps their answers. */
export class PostgresProfileRepository implements ProfileRepository {
  constructor(private readonly db: Kysely<MessagingDatabase>) {}

  async insert(scope: TenantScope, p: RecipientProfile): Promise<RecipientProfile> {
    try {
      const row = await this.db
        .insertInto('messaging_profiles')
        .values(profileRow(p))
        .returningAll()
        .executeTakeFirstOrThrow()
      return toProfile(row)
    } catch (e) {
      throw classify(e, {
        conflict: { entity: 'profile', key: p.userId },
        refused: () =>
          !scope.canAccessInfrastructure(p.infrastructureId)
            ? new TenantScopeViolationError(p.infrastructureId)
            : !scope.hasRole('infra_admin')
              ? new ForbiddenRoleError('profile.insert', ['infra_admin'], scope.role)
              : new TenantScopeViolationError(p.infrastructureId, p.businessId),
      })
    }
  }

  async update(
    scope: TenantScope,
    infrastructureId: string,
    userId: string,
    patch: ProfilePatch,
  ): Promise<RecipientProfile | null> {
    const set: Partial<Record<keyof ProfileRow, unknown>> = {
      updated_at: patch.updatedAt,
      updated_by: patch.updatedBy,
    }
    if (patch.businessId !== undefined) set.business_id = patch.businessId
    if (patch.email !== undefined) set.email = patch.email
    if (patch.phone !== undefined) set.phone = patch.phone
    if (patch.locale !== undefined) set.locale = patch.locale
    if (patch.timeZone !== undefined) set.time_zone = patch.timeZone
    if (patch.quietHours !== undefined)
      set.quiet_hours = patch.quietHours === null ? null : sql`${json(patch.quietHours)}::jsonb`
    if (patch.properties !== undefined) set.properties = sql`${json(patch.properties)}::jsonb`
    try {
      const row = await this.db
        .updateTable('messaging_profiles')
        .set(set as never)
        .where('infrastructure_id', '=', infrastructureId)
        .where('user_id', '=', userId)
        .returningAll()
        .executeTakeFirst()
      return row ? toProfile(row) : null
    } catch (e) {
      throw classify(e, {
        // The guard trigger (a non-admin touching business or properties), or the update
        // policy's check (an admin moving the profile out of its reach).
        refused: () =>
          scope.hasRole('infra_admin')
            ? new TenantScopeViolationError(infrastructureId, patch.businessId ?? null)
            : new ForbiddenRoleError(
                'profile.update of businessId or properties',
                ['infra_admin'],
                scope.role,
              ),
      })
    }
  }

  async find(
    _scope: TenantScope,
    infrastructureId: string,
    userId: string,
  ): Promise<RecipientProfile | null> {
    const row = await this.db
      .selectFrom('messaging_profiles')
      .selectAll()
      .where('infrastructure_id', '=', infrastructureId)
      .where('user_id', '=', userId)
      .executeTakeFirst()
    return row ? toProfile(row) : null
  }

  async findMany(
    _scope: TenantScope,
    infrastructureId: string,
    userIds: readonly string[],
  ): Promise<RecipientProfile[]> {
    if (userIds.length === 0) return []
    const rows = await this.db
      .selectFrom('messaging_profiles')
      .selectAll()
      .where('infrastructure_id', '=', infrastructureId)
      .where(sql<boolean>`user_id = any(${[...new Set(userIds)]}::uuid[])`)
      .execute()
    return rows.map(toProfile)
  }

  async list(
    _scope: TenantScope,
    filter: { infrastructureId: string; businessId?: string | null; after?: string; limit: number },
  ): Promise<RecipientProfile[]> {
    let q = this.db
      .selectFrom('messaging_profiles')
      .selectAll()
      .where('infrastructure_id', '=', filter.infrastructureId)
    if (filter.businessId === null) q = q.where('business_id', 'is', null)
    else if (filter.businessId !== undefined) q = q.where('business_id', '=', filter.businessId)
    if (filter.after !== undefined) q = q.where('user_id', '>', filter.after)
    const rows = await q.orderBy('user_id').limit(filter.limit).execute()
    return rows.map(toProfile)
  }

  async delete(_scope: TenantScope, infrastructureId: string, userId: string): Promise<boolean> {
    const rows = await this.db
      .deleteFrom('messaging_profiles')
      .where('infrastructure_id', '=', infrastructureId)
      .where('user_id', '=', userId)
      .returning('user_id')
      .execute()
    return rows.length > 0
  }
}
