import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  assertTenantScope,
  type Grant,
  TenantScope,
  TenantScopeViolationError,
  ValidationError,
} from '../../src/index.js'

const ids = [
  '11111111-1111-4111-8111-111111111111',
  '22222222-2222-4222-8222-222222222222',
  '33333333-3333-4333-8333-333333333333',
]
const idArb = fc.constantFrom(...ids)
const grantArb: fc.Arbitrary<Grant> = fc.record({
  infrastructureId: idArb,
  businessId: fc.option(idArb, { nil: null }),
})

/** The SQL predicates, transcribed literally: exists (select 1 from grants g where ...). */
const sqlCanAccessInfrastructure = (grants: Grant[], i: string) =>
  grants.filter((g) => g.infrastructureId === i).length > 0
const sqlCanAccess = (grants: Grant[], i: string, b: string | null) =>
  grants.filter(
    (g) => g.infrastructureId === i && (g.businessId === null || (b !== null && g.businessId === b)),
  ).length > 0

describe('TenantScope', () => {
  it('agrees with the SQL predicates for every grant set and target', () => {
    fc.assert(
      fc.property(
        fc.array(grantArb, { maxLength: 5 }),
        idArb,
        fc.option(idArb, { nil: null }),
        (grants, i, b) => {
          const scope = TenantScope.of({ userId: ids[0]!, role: 'member', grants })
          expect(scope.canAccessInfrastructure(i)).toBe(sqlCanAccessInfrastructure(grants, i))
          expect(scope.canAccess(i, b)).toBe(sqlCanAccess(grants, i, b))
          // A business-level grant never reaches infrastructure-level rows, and an infra grant reaches all.
          if (scope.canAccess(i, b)) expect(scope.canAccessInfrastructure(i)).toBe(true)
        },
      ),
    )
  })

  it('throws a typed error before anything is touched when the scope does not reach the tenant', () => {
    const [i, b, other] = ids as [string, string, string]
    const scope = TenantScope.of({
      userId: i,
      role: 'member',
      grants: [{ infrastructureId: i, businessId: b }],
    })
    expect(() => assertTenantScope(scope, i)).not.toThrow()
    expect(() => assertTenantScope(scope, i, b)).not.toThrow()
    expect(() => assertTenantScope(scope, i, null)).toThrow(TenantScopeViolationError)
    expect(() => assertTenantScope(scope, i, other)).toThrow(TenantScopeViolationError)
    expect(() => assertTenantScope(scope, other)).toThrow(TenantScopeViolationError)
  })

  it('refuses a malformed principal with the field named', () => {
    expect(() => TenantScope.of({ userId: 'x', role: 'member', grants: [] })).toThrow(ValidationError)
    expect(() => TenantScope.of({ userId: ids[0]!, role: 'root' as never, grants: [] })).toThrow(
      /principal.role/,
    )
  })

  it('freezes the principal it holds', () => {
    const grants = [{ infrastructureId: ids[0]!, businessId: null }]
    const scope = TenantScope.of({ userId: ids[0]!, role: 'member', grants })
    grants.push({ infrastructureId: ids[1]!, businessId: null })
    expect(scope.canAccessInfrastructure(ids[1]!)).toBe(false)
    expect(Object.isFrozen(scope.principal.grants)).toBe(true)
  })
})

describe('isMessagingError', () => {
  it('recognises the closed set by code, and nothing else with a code', async () => {
    const { isMessagingError, NotFoundError } = await import('../../src/index.js')
    expect(isMessagingError(new NotFoundError('channel', 'x'))).toBe(true)
    const foreign = Object.assign(new Error('from a duplicated copy'), { code: 'NOT_FOUND' })
    expect(isMessagingError(foreign)).toBe(true)
    expect(isMessagingError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(
      false,
    )
    expect(isMessagingError({ code: 'NOT_FOUND' })).toBe(false)
  })
})
