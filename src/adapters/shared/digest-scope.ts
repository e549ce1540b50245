import type { TenantScope } from '../../domain/tenant-scope.js'

/**
 * The PostgreSQL policy's rule (sql/0100), for the stores without one: role `infra_admin`
 * or `service` (the fleet worker's scope is `service` of every tenant), in a tenant the
 * scope reaches. Outside it a digest is neither read nor changed.
 */
export function inDigestScope(
  scope: TenantScope,
  infrastructureId: string,
  businessId: string | null,
): boolean {
  return scope.hasRole('infra_admin', 'service') && scope.canAccess(infrastructureId, businessId)
}

/** A group's key: the open digest of each is unique. */
export const digestGroupKey = (g: {
  readonly infrastructureId: string
  readonly businessId: string | null
  readonly userId: string | null
  readonly categoryKey: string | null
  readonly destination: string | null
  readonly channelId: string
  readonly digestKey: string
}) =>
  JSON.stringify([
    g.infrastructureId,
    g.businessId,
    g.userId,
    g.categoryKey,
    g.destination,
    g.channelId,
    g.digestKey,
  ])
