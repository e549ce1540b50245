import { type Kysely, type SelectQueryBuilder, sql } from 'kysely'
import { ConflictError, ForbiddenRoleError, TenantScopeViolationError } from '../../domain/errors.js'
import { recipientAccess } from '../../domain/recipient-access.js'
import type { RecipientProfile } from '../../domain/recipient-profile.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { ProfilePatch, ProfileRepository } from '../../ports/profile-repository.js'
import { isUniqueViolation } from './sqlite-errors.js'
import { profileRow, toProfile } from './sqlite-rows.js'
import { canAccess, canAccessInfrastructure, insertChecked } from './sqlite-scope.js'
import type { ProfilesTable, SqliteDatabase } from './sqlite-tables.js'

const infra = sql.ref('messaging_profiles.infrastructure_id')
const business = sql.ref('messaging_profiles.business_id')

type ProfileQuery = SelectQueryBuilder<SqliteDatabase, 'messaging_profiles', ProfilesTable>

/**
 * Profiles: a member sees its own, an admin or a worker those of the businesses it reaches
 * (sql/0020's policies, written into each statement).
 */
export class SqliteProfileRepository implements ProfileRepository {
  constructor(private readonly db: Kysely<SqliteDatabase>) {}

  private visible(scope: TenantScope, q: ProfileQuery): ProfileQuery {
    return scope.hasRole('member')
      ? q.where(canAccessInfrastructure(scope, infra)).where('user_id', '=', scope.userId)
      : q.where(canAccess(scope, infra, business))
  }

  async insert(scope: TenantScope, p: RecipientProfile): Promise<RecipientProfile> {
    if (!scope.canAccessInfrastructure(p.infrastructureId))
      throw new TenantScopeViolationError(p.infrastructureId)
    if (!scope.hasRole('infra_admin'))
      throw new ForbiddenRoleError('profile.insert', ['infra_admin'], scope.role)
    try {
      const written = await insertChecked(
        this.db,
        'messaging_profiles',
        profileRow(p),
        canAccess(scope, sql.val(p.infrastructureId), sql.val(p.businessId)),
      )
      if (written === 0) throw new TenantScopeViolationError(p.infrastructureId, p.businessId)
    } catch (e) {
      if (isUniqueViolation(e)) throw new ConflictError('profile', p.userId)
      throw e
    }
    return structuredClone(p)
  }

  async update(
    scope: TenantScope,
    infrastructureId: string,
    userId: string,
    patch: ProfilePatch,
  ): Promise<RecipientProfile | null> {
    if (!scope.hasRole('member', 'infra_admin')) return null
    const current = await this.find(scope, infrastructureId, userId)
    if (!current || !recipientAccess.changeProfile(scope, infrastructureId, userId, current.businessId))
      return null
    const moves = patch.businessId !== undefined && patch.businessId !== current.businessId
    const reProperties =
      patch.properties !== undefined &&
      JSON.stringify(patch.properties) !== JSON.stringify(current.properties)
    if (!scope.hasRole('infra_admin') && (moves || reProperties)) {
      throw new ForbiddenRoleError('profile.update of businessId or properties', ['infra_admin'], scope.role)
    }
    const nextBusiness = patch.businessId === undefined ? current.businessId : patch.businessId
    if (!recipientAccess.changeProfile(scope, infrastructureId, userId, nextBusiness)) {
      throw new TenantScopeViolationError(infrastructureId, nextBusiness)
    }
    const set: Partial<ProfilesTable> = { updated_at: patch.updatedAt.getTime(), updated_by: patch.updatedBy }
    if (patch.businessId !== undefined) set.business_id = patch.businessId
    if (patch.email !== undefined) set.email = patch.email
    if (patch.phone !== undefined) set.phone = patch.phone
    if (patch.locale !== undefined) set.locale = patch.locale
    if (patch.timeZone !== undefined) set.time_zone = patch.timeZone
    if (patch.quietHours !== undefined)
      set.quiet_hours = patch.quietHours === null ? null : JSON.stringify(patch.quietHours)
    if (patch.properties !== undefined) set.properties = JSON.stringify(patch.properties)
    let q = this.db
      .updateTable('messaging_profiles')
      .set(set)
      .where('infrastructure_id', '=', infrastructureId)
      .where('user_id', '=', userId)
    q = scope.hasRole('member')
      ? q.where(canAccessInfrastructure(scope, infra)).where('user_id', '=', scope.userId)
      : q.where(canAccess(scope, infra, business))
    const row = await q.returningAll().executeTakeFirst()
    return row ? toProfile(row) : null
  }

  async find(scope: TenantScope, infrastructureId: string, userId: string): Promise<RecipientProfile | null> {
    const row = await this.visible(
      scope,
      this.db
        .selectFrom('messaging_profiles')
        .selectAll()
        .where('infrastructure_id', '=', infrastructureId)
        .where('user_id', '=', userId),
    ).executeTakeFirst()
    return row ? toProfile(row) : null
  }

  async findMany(
    scope: TenantScope,
    infrastructureId: string,
    userIds: readonly string[],
  ): Promise<RecipientProfile[]> {
    if (userIds.length === 0) return []
    const rows = await this.visible(
      scope,
      this.db
        .selectFrom('messaging_profiles')
        .selectAll()
        .where('infrastructure_id', '=', infrastructureId)
        .where(
          sql<boolean>`user_id in (select u.value from json_each(${JSON.stringify([...new Set(userIds)])}) as u)`,
        ),
    ).execute()
    return rows.map(toProfile)
  }

  async list(
    scope: TenantScope,
    filter: { infrastructureId: string; businessId?: string | null; after?: string; limit: number },
  ): Promise<RecipientProfile[]> {
    let q = this.db
      .selectFrom('messaging_profiles')
      .selectAll()
      .where('infrastructure_id', '=', filter.infrastructureId)
    if (filter.businessId === null) q = q.where('business_id', 'is', null)
    else if (filter.businessId !== undefined) q = q.where('business_id', '=', filter.businessId)
    if (filter.after !== undefined) q = q.where('user_id', '>', filter.after)
    const rows = await this.visible(scope, q).orderBy('user_id').limit(filter.limit).execute()
    return rows.map(toProfile)
  }

  async delete(scope: TenantScope, infrastructureId: string, userId: string): Promise<boolean> {
    if (!scope.hasRole('infra_admin')) return false
    const result = await this.db
      .deleteFrom('messaging_profiles')
      .where('infrastructure_id', '=', infrastructureId)
      .where('user_id', '=', userId)
      .where(canAccess(scope, infra, business))
      .executeTakeFirst()
    return Number(result.numDeletedRows) > 0
  }
}
