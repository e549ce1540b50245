import type { Category, CategoryChannel, CategoryDigest, CategoryThrottle } from '../domain/category.js'
import type { TenantScope } from '../domain/tenant-scope.js'

export interface CategoryPatch {
  readonly name?: string
  readonly description?: string | null
  readonly critical?: boolean
  readonly channels?: Readonly<Record<string, CategoryChannel>>
  /** null removes the throttle. */
  readonly throttle?: CategoryThrottle | null
  /** null removes the digest. */
  readonly digest?: CategoryDigest | null
  readonly updatedAt: Date
}

/**
 * Notification categories. Readable where the scope reaches the infrastructure; written by
 * its `infra_admin` (the same rule as the channels').
 */
export interface CategoryRepository {
  /**
   * Throws TenantScopeViolationError outside the scope, ForbiddenRoleError for a role other
   * than `infra_admin`, ConflictError when the infrastructure already has the key.
   */
  insert(scope: TenantScope, category: Category): Promise<Category>
  /** null when absent, outside the scope or not writable by the scope's role: nothing changes then. */
  update(
    scope: TenantScope,
    infrastructureId: string,
    key: string,
    patch: CategoryPatch,
  ): Promise<Category | null>
  /** null when absent or outside the scope. */
  find(scope: TenantScope, infrastructureId: string, key: string): Promise<Category | null>
  /** Ordered by key. */
  list(scope: TenantScope, infrastructureId: string): Promise<Category[]>
}
