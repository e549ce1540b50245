import { type Kysely, sql } from 'kysely'
import type { Category } from '../../domain/category.js'
import { ForbiddenRoleError, TenantScopeViolationError } from '../../domain/errors.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { CategoryPatch, CategoryRepository } from '../../ports/category-repository.js'
import { classify } from './errors.js'
import type { CategoryRow } from './recipient-schema.js'
import { categoryRow, json, type MessagingDatabase, toCategory } from './schema.js'

/** Notification categories. Scope and role are the policies' to decide. */
export class PostgresCategoryRepository implements CategoryRepository {
  constructor(private readonly db: Kysely<MessagingDatabase>) {}

  async insert(scope: TenantScope, c: Category): Promise<Category> {
    try {
      const row = await this.db
        .insertInto('messaging_categories')
        .values(categoryRow(c))
        .returningAll()
        .executeTakeFirstOrThrow()
      return toCategory(row)
    } catch (e) {
      throw classify(e, {
        conflict: { entity: 'category', key: c.key },
        refused: () =>
          scope.canAccessInfrastructure(c.infrastructureId)
            ? new ForbiddenRoleError('category.insert', ['infra_admin'], scope.role)
            : new TenantScopeViolationError(c.infrastructureId),
      })
    }
  }

  async update(
    _scope: TenantScope,
    infrastructureId: string,
    key: string,
    patch: CategoryPatch,
  ): Promise<Category | null> {
    const set: Partial<Record<keyof CategoryRow, unknown>> = { updated_at: patch.updatedAt }
    if (patch.name !== undefined) set.name = patch.name
    if (patch.description !== undefined) set.description = patch.description
    if (patch.critical !== undefined) set.critical = patch.critical
    if (patch.channels !== undefined) set.channels = sql`${json(patch.channels)}::jsonb`
    if (patch.throttle !== undefined)
      set.throttle = patch.throttle === null ? null : sql`${json(patch.throttle)}::jsonb`
    if (patch.digest !== undefined)
      set.digest = patch.digest === null ? null : sql`${json(patch.digest)}::jsonb`
    const row = await this.db
      .updateTable('messaging_categories')
      .set(set as never)
      .where('infrastructure_id', '=', infrastructureId)
      .where('category_key', '=', key)
      .returningAll()
      .executeTakeFirst()
    return row ? toCategory(row) : null
  }

  async find(_scope: TenantScope, infrastructureId: string, key: string): Promise<Category | null> {
    const row = await this.db
      .selectFrom('messaging_categories')
      .selectAll()
      .where('infrastructure_id', '=', infrastructureId)
      .where('category_key', '=', key)
      .executeTakeFirst()
    return row ? toCategory(row) : null
  }

  async list(_scope: TenantScope, infrastructureId: string): Promise<Category[]> {
    const rows = await this.db
      .selectFrom('messaging_categories')
      .selectAll()
      .where('infrastructure_id', '=', infrastructureId)
      .orderBy('category_key')
      .execute()
    return rows.map(toCategory)
  }
}
