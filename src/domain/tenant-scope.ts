import { z } from 'zod'
import { ForbiddenRoleError, TenantScopeViolationError } from './errors.js'
import { tenantIdSchema } from './ids.js'
import { parseInput } from './validation.js'

export const ROLES = ['member', 'infra_admin', 'service'] as const
/** `member`: a user of a tenant; `infra_admin`: configures its channels; `service`: a delivery worker. */
export type Role = (typeof ROLES)[number]

/** Access to one infrastructure, or to one business inside it when `businessId` is set. */
export interface Grant {
  readonly infrastructureId: string
  /** null: the whole infrastructure. */
  readonly businessId: string | null
}

/** Who is calling. The host authenticates; the module enforces everything after that. */
export interface Principal {
  readonly userId: string
  readonly role: Role
  readonly grants: readonly Grant[]
}

/** Ids are lower-cased (a grant spelt in upper case reaches the same tenant) and never the nil UUID. */
export const grantSchema = z.object({
  infrastructureId: tenantIdSchema,
  businessId: tenantIdSchema.nullable(),
})

export const principalSchema = z.object({
  userId: tenantIdSchema,
  role: z.enum(ROLES),
  grants: z.array(grantSchema).max(10_000),
})

/**
 * The principal plus the blueprint's two predicates, with exactly the meaning of the
 * SQL functions `tenant_can_access_infrastructure` and `tenant_can_access`.
 *
 * @example
 * const scope = TenantScope.of({ userId, role: 'member', grants: [{ infrastructureId: i, businessId: null }] })
 * scope.canAccess(i, anyBusiness) // true: an infrastructure-wide grant covers every business
 */
export class TenantScope {
  private constructor(
    readonly principal: Principal,
    /** The fleet delivery worker's scope: every tenant, role `service` (on PostgreSQL, role messaging_worker). */
    readonly isFleet = false,
  ) {}

  /**
   * The scope of a fleet delivery worker that serves every tenant. Only host code can make
   * one (no principal parsed from a request ever becomes one).
   */
  static fleet(workerId: string): TenantScope {
    const parsed = parseInput(principalSchema.shape.userId, workerId, 'workerId')
    return new TenantScope(
      Object.freeze({ userId: parsed, role: 'service' as const, grants: Object.freeze([]) }),
      true,
    )
  }

  /** Validates the principal; a malformed one is a ValidationError naming `principal.<field>`. */
  static of(principal: Principal): TenantScope {
    const parsed = parseInput(principalSchema, principal, 'principal')
    return new TenantScope(
      Object.freeze({ ...parsed, grants: Object.freeze(parsed.grants.map((g) => Object.freeze(g))) }),
    )
  }

  get userId(): string {
    return this.principal.userId
  }

  get role(): Role {
    return this.principal.role
  }

  /** Some grant in `infrastructureId`, whatever its business. */
  canAccessInfrastructure(infrastructureId: string): boolean {
    if (this.isFleet) return true
    return this.principal.grants.some((g) => g.infrastructureId === infrastructureId)
  }

  /** Some grant in `infrastructureId` whose businessId is null or equals `businessId`. A null `businessId` needs an infrastructure-wide grant. */
  canAccess(infrastructureId: string, businessId: string | null): boolean {
    if (this.isFleet) return true
    return this.principal.grants.some(
      (g) =>
        g.infrastructureId === infrastructureId && (g.businessId === null || g.businessId === businessId),
    )
  }

  /** The infrastructures this scope reaches. */
  infrastructureIds(): string[] {
    return [...new Set(this.principal.grants.map((g) => g.infrastructureId))]
  }

  hasRole(...roles: Role[]): boolean {
    return roles.includes(this.principal.role)
  }
}

/**
 * Throws before any repository is touched when the scope does not reach the tenant.
 * With `businessId` undefined, only the infrastructure is checked.
 */
export function assertTenantScope(
  scope: TenantScope,
  infrastructureId: string,
  businessId?: string | null,
): void {
  const ok =
    businessId === undefined
      ? scope.canAccessInfrastructure(infrastructureId)
      : scope.canAccess(infrastructureId, businessId)
  if (!ok) throw new TenantScopeViolationError(infrastructureId, businessId ?? null)
}

/** Throws ForbiddenRoleError unless the principal holds one of `roles`. */
export function assertRole(scope: TenantScope, action: string, ...roles: Role[]): void {
  if (!scope.hasRole(...roles)) throw new ForbiddenRoleError(action, roles, scope.role)
}
