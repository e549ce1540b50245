import type { Category } from '../../domain/category.js'
import { ConflictError, ForbiddenRoleError, TenantScopeViolationError } from '../../domain/errors.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { CategoryPatch, CategoryRepository } from '../../ports/category-repository.js'
import { categoryKeyOf, copy, type Journal, type MemoryState } from './memory-state.js'

export class MemoryCategoryRepository implements CategoryRepository {
  constructor(
    private readonly state: MemoryState,
    private readonly journal: Journal,
  ) {}

  async insert(scope: TenantScope, category: Category): Promise<Category> {
    if (!scope.canAccessInfrastructure(category.infrastructureId))
      throw new TenantScopeViolationError(category.infrastructureId)
    if (!scope.hasRole('infra_admin'))
      throw new ForbiddenRoleError('category.insert', ['infra_admin'], scope.role)
    const key = categoryKeyOf(category.infrastructureId, category.key)
    if (this.state.categories.has(key)) throw new ConflictError('category', category.key)
    this.journal.setIn(this.state.categories, key, copy(category))
    return copy(category)
  }

  async update(
    scope: TenantScope,
    infrastructureId: string,
    key: string,
    patch: CategoryPatch,
  ): Promise<Category | null> {
    if (!scope.canAccessInfrastructure(infrastructureId) || !scope.hasRole('infra_admin')) return null
    const k = categoryKeyOf(infrastructureId, key)
    const current = this.state.categories.get(k)
    if (!current) return null
    const next: Category = {
      ...current,
      ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)),
    }
    this.journal.setIn(this.state.categories, k, copy(next))
    return copy(next)
  }

  async find(scope: TenantScope, infrastructureId: string, key: string): Promise<Category | null> {
    if (!scope.canAccessInfrastructure(infrastructureId)) return null
    const c = this.state.categories.get(categoryKeyOf(infrastructureId, key))
    return c ? copy(c) : null
  }

  async list(scope: TenantScope, infrastructureId: string): Promise<Category[]> {
    if (!scope.canAccessInfrastructure(infrastructureId)) return []
    return [...this.state.categories.values()]
      .filter((c) => c.infrastructureId === infrastructureId)
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map(copy)
  }
}
