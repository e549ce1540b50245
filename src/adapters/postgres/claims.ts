import type { TenantScope } from '../../domain/tenant-scope.js'

/** The claims JSON the policies read: `{"sub","role","grants":[{"infrastructure_id","business_id"}]}`. */
export function claimsOf(scope: TenantScope): string {
  return JSON.stringify({
    sub: scope.principal.userId,
    role: scope.principal.role,
    grants: scope.principal.grants.map((g) => ({
      infrastructure_id: g.infrastructureId,
      business_id: g.businessId,
    })),
  })
}

/** A string as an SQL literal, whatever `standard_conforming_strings` says (as pg's escapeLiteral). */
export function quoteLiteral(s: string): string {
  const quoted = `'${s.replace(/'/g, "''").replace(/\\/g, '\\\\')}'`
  return s.includes('\\') ? ` E${quoted}` : quoted
}
