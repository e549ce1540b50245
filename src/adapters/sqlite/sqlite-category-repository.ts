import { type Kysely, sql } from 'kysely'
import type { Category } from '../../domain/category.js'
import { ConflictError, ForbiddenRoleError, TenantScopeViolationError } from '../../domain/errors.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { CategoryPatch, CategoryRepository } from '../../ports/category-repository.js'
import { isUniqueViolation } from './sqlite-errors.js'
import { categoryRow, toCategory } from './sqlite-rows.js'
import { canAccessInfrastructure, insertChecked } from './sqlite-scope.js'
import type { CategoriesTable, SqliteDatabase } from './sqlite-tables.js'

const infra = sql.ref('messaging_categories.infrastructure_id')

/** Categories: read where the scope reaches the infrastructure, written by its `infra_admin`. */
export class SqliteCategoryRepository implements CategoryRepository {
  constructor(private readonly db: Kysely<SqliteDatabase>) {}

  async insert(scope: TenantScope, c: Category): Promise<Category> {
    if (!scope.canAccessInfrastructure(c.infrastructureId))
      throw new TenantScopeViolationError(c.infrastructureId)
    if (!scope.hasRole('infra_admin'))
      throw new ForbiddenRoleError('category.insert', ['infra_admin'], scope.role)
    try {
      const written = await insertChecked(
        this.db,
        'messaging_categories',
        categoryRow(c),
        canAccessInfrastructure(scope, sql.val(c.infrastructureId)),
      )
      if (written === 0) throw new TenantScopeViolationError(c.infrastructureId)
    } catch (e) {
      if (isUniqueViolation(e)) throw new ConflictError('category', c.key)
      throw e
    }
    return structuredClone(c)
  }

  async update(
    scope: TenantScope,
    infrastructureId: string,
    key: string,
    patch: CategoryPatch,
  ): Promise<Category | null> {
    if (!scope.hasRole('infra_admin')) return null
    const set: Partial<CategoriesTable> = { updated_at: patch.updatedAt.getTime() }
    if (patch.name !== undefined) set.name = patch.name
    if (patch.description !== undefined) set.description = patch.description
    if (patch.critical !== undefined) set.critical = patch.critical ? 1 : 0
    if (patch.channels !== undefined) set.channels = JSON.stringify(patch.channels)
    if (patch.throttle !== undefined)
      set.throttle = patch.throttle === null ? null : JSON.stringify(patch.throttle)
    if (patch.digest !== undefined) set.digest = patch.digest === null ? null : JSON.stringify(patch.digest)
    const row = await this.db
      .updateTable('messaging_categories')
      .set(set)
      .where('infrastructure_id', '=', infrastructureId)
      .where('category_key', '=', key)
      .where(canAccessInfrastructure(scope, infra))
      .returningAll()
      .executeTakeFirst()
    return row ? toCategory(row) : null
  }

  async find(scope: TenantScope, infrastructureId: string, key: string): Promise<Category | null> {
    const row = await this.db
      .selectFrom('messaging_categories')
      .selectAll()
      .where('infrastructure_id', '=', infrastructureId)
      .where('category_key', '=', key)
      .where(canAccessInfrastructure(scope, infra))
      .executeTakeFirst()
    return row ? toCategory(row) : null
  }

  async list(scope: TenantScope, infrastructureId: string): Promise<Category[]> {
    const rows = await this.db
      .selectFrom('messaging_categories')
      .selectAll()
      .where('infrastructure_id', '=', infrastructureId)
      .where(canAccessInfrastructure(scope, infra))
      .orderBy('category_key')
      .execute()
    return rows.map(toCategory)
  }
}
