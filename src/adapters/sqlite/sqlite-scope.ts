import { type Expression, type Kysely, type RawBuilder, type SqlBool, sql } from 'kysely'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { SqliteDatabase } from './sqlite-tables.js'

/**
 * The scope's grants as JSON arrays, bound as one parameter each and read back with
 * `json_each`: the statement text stays the same whatever the number of grants (up to
 * the 10,000 a principal may hold), and SQLite's variable limit never comes into play.
 */
interface GrantParams {
  /** Every infrastructure the scope reaches: `tenant_can_access_infrastructure`. */
  readonly infrastructures: string
  /** Infrastructures granted whole (businessId null). */
  readonly wholeInfrastructures: string
  /** [infrastructureId, businessId] of business grants. */
  readonly businesses: string
}

const cache = new WeakMap<TenantScope, GrantParams>()

function grantParams(scope: TenantScope): GrantParams {
  let p = cache.get(scope)
  if (!p) {
    const grants = scope.principal.grants
    p = {
      infrastructures: JSON.stringify(scope.infrastructureIds()),
      wholeInfrastructures: JSON.stringify([
        ...new Set(grants.filter((g) => g.businessId === null).map((g) => g.infrastructureId)),
      ]),
      businesses: JSON.stringify(
        grants.filter((g) => g.businessId !== null).map((g) => [g.infrastructureId, g.businessId]),
      ),
    }
    cache.set(scope, p)
  }
  return p
}

/**
 * `tenant_can_access_infrastructure(infrastructure)` as SQL: some grant in the
 * infrastructure. `infrastructure` is a column reference, or a bound value for the
 * INSERT ... SELECT ... WHERE form that plays the part of a `WITH CHECK` policy.
 * An empty scope matches nothing (fail closed).
 */
export function canAccessInfrastructure(
  scope: TenantScope,
  infrastructure: Expression<unknown>,
): RawBuilder<SqlBool> {
  if (scope.isFleet) return fleet(infrastructure)
  return sql<SqlBool>`${infrastructure} in (select value from json_each(${grantParams(scope).infrastructures}))`
}

/**
 * `tenant_can_access(infrastructure, business)` as SQL: an infrastructure-wide grant, or a
 * grant of exactly that business. A null business matches only the infrastructure-wide
 * grant (a row-value comparison with null is never true).
 */
export function canAccess(
  scope: TenantScope,
  infrastructure: Expression<unknown>,
  business: Expression<unknown>,
): RawBuilder<SqlBool> {
  if (scope.isFleet) return fleet(infrastructure)
  const p = grantParams(scope)
  return sql<SqlBool>`(${infrastructure} in (select value from json_each(${p.wholeInfrastructures})) or (${infrastructure}, ${business}) in (select value ->> 0, value ->> 1 from json_each(${p.businesses})))`
}

/**
 * The fleet delivery worker's scope reaches every tenant (PostgreSQL's messaging_worker
 * role): the predicate says so in the statement itself, always true as the column is NOT NULL.
 */
const fleet = (infrastructure: Expression<unknown>) =>
  sql<SqlBool>`${infrastructure} is not null /* fleet scope: every tenant */`

/**
 * `INSERT INTO table (cols) SELECT values WHERE check`: the row lands only when `check`
 * (a scope predicate over the row's own values) holds, the part a `WITH CHECK` policy
 * plays on PostgreSQL. Returns the number of rows written (0 or 1).
 */
export async function insertChecked(
  db: Kysely<SqliteDatabase>,
  table: keyof SqliteDatabase,
  row: object,
  check: RawBuilder<SqlBool>,
  onConflict?: RawBuilder<unknown>,
): Promise<number> {
  const entries = Object.entries(row)
  const result =
    await sql`insert into ${sql.table(table)} (${sql.join(entries.map(([c]) => sql.ref(c)))}) select ${sql.join(entries.map(([, v]) => sql.val(v)))} where ${check}${onConflict ?? sql``}`.execute(
      db,
    )
  return Number(result.numAffectedRows ?? 0n)
}
