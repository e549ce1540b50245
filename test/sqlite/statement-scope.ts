import type { TenantScope } from '../../src/index.js'

/** One statement the adapter ran, with the scope of the unit of work it ran in (null: outside any). */
export interface RecordedStatement {
  readonly sql: string
  readonly parameters: readonly unknown[]
  readonly scope: TenantScope | null
}

const TRANSACTION_CONTROL = /^(begin immediate|commit|rollback)$/
const ALIAS = /"(messaging_[a-z_]+)" as "([a-z])"/g
const TABLE_REF = /\b(?:from|join|update|into)\s+"(messaging_[a-z_]+)"/g
/** `tenant_can_access(infrastructure, business)` as the adapter writes it. */
const TENANT_PREDICATE =
  /\((\S+) in \(select value from json_each\(\?\)\) or \((\S+), (\S+)\) in \(select value ->> 0, value ->> 1 from json_each\(\?\)\)\)/g
/** `tenant_can_access_infrastructure(infrastructure)` as the adapter writes it. */
const INFRA_PREDICATE = /(\S+) in \(select value from json_each\(\?\)\)/g
const INSERT = /^insert into "(messaging_[a-z_]+)" \(([^)]*)\) select /
/** The fleet worker's scope (every tenant), as the adapter writes it. */
const FLEET_PREDICATE = /(\S+) is not null \/\* fleet scope: every tenant \*\//g
/** Retention (prune): the store owner's maintenance, outside any unit of work, marked as such. */
const RETENTION = /\/\* retention: store owner, every tenant \*\/$/
const ACTOR_CHECK = / where \? = \?$/
const SECURITY_INSERT = /^insert into "messaging_security_log" \(([^)]*)\) values \(/

const sorted = (xs: readonly unknown[]) => xs.map((x) => JSON.stringify(x)).sort()
const sameSet = (a: readonly unknown[], b: readonly unknown[]) =>
  JSON.stringify(sorted([...new Set(a.map((x) => JSON.stringify(x)))])) ===
  JSON.stringify(sorted([...new Set(b.map((x) => JSON.stringify(x)))]))

/** The index into `parameters` of every `?` between `from` and `to` (the adapter's SQL has no `?` in literals). */
function placeholders(sql: string, from: number, to: number): number[] {
  let before = 0
  for (let i = 0; i < from; i++) if (sql[i] === '?') before++
  const out: number[] = []
  for (let i = from; i < to; i++) if (sql[i] === '?') out.push(before + out.length)
  return out
}

const parseJsonParam = (p: unknown): unknown[] | null => {
  if (typeof p !== 'string') return null
  try {
    const v = JSON.parse(p) as unknown
    return Array.isArray(v) ? v : null
  } catch {
    return null
  }
}

/**
 * Why a statement is not scoped, or [] when it is. A statement is scoped when every
 * reference to a messaging_ table or view is covered by a predicate that
 * - is a conjunct of a WHERE clause (follows `where` or `and`),
 * - reads the grants of the unit's own scope (the JSON parameters are compared with it),
 * - applies to that table's `infrastructure_id` column, or, for INSERT ... SELECT, to the
 *   inserted row's own infrastructure_id (and business_id) values,
 * - for the outbox, is the business-level predicate, not the infrastructure-level one.
 * The one exception is the security log's insert, scoped to its caller (the row's actor is
 * the unit's user and role): it counts refusals outside the caller's scope, which no
 * tenant's table ever holds.
 */
export function scopeProblems(stmt: RecordedStatement): string[] {
  const { sql, parameters, scope } = stmt
  if (TRANSACTION_CONTROL.test(sql)) return []
  const refs = [...sql.matchAll(TABLE_REF)].map((m) => m[1]!)
  if (refs.length === 0) return ['touches no messaging_ table and is not transaction control']
  if (scope === null) {
    return RETENTION.test(sql) ? [] : ['ran outside a unit of work']
  }
  if (RETENTION.test(sql)) return ['retention statement inside a tenant unit of work']
  const problems: string[] = []
  const grants = scope.principal.grants
  const allInfra = grants.map((g) => g.infrastructureId)
  const wholeInfra = grants.filter((g) => g.businessId === null).map((g) => g.infrastructureId)
  const businesses = grants
    .filter((g) => g.businessId !== null)
    .map((g) => [g.infrastructureId, g.businessId])

  const insert = INSERT.exec(sql)
  const insertCols = insert ? insert[2]!.split(',').map((c) => c.trim().replace(/"/g, '')) : []
  const insertedValue = (col: string) => parameters[insertCols.indexOf(col)]

  const covered = new Map<string, { tenant: number; infra: number }>()
  const cover = (table: string, kind: 'tenant' | 'infra') => {
    const c = covered.get(table) ?? { tenant: 0, infra: 0 }
    c[kind]++
    covered.set(table, c)
  }
  const isConjunct = (start: number) => /(?:\bwhere|\band)\s*$/.test(sql.slice(0, start))
  /** `"messaging_outbox" as "b"`: a correlated subquery's name for a table. */
  const aliases = new Map([...sql.matchAll(ALIAS)].map((m) => [m[2]!, m[1]!]))
  /** The table whose infrastructure the subject names, or null. */
  const subjectTable = (subject: string, subjectParam: number | undefined, column: string) => {
    const col = /^"(messaging_[a-z_]+)"\."([a-z_]+)"$/.exec(subject)
    if (col) return col[2] === column ? col[1]! : null
    const aliased = /^"([a-z])"\."([a-z_]+)"$/.exec(subject)
    if (aliased) return aliased[2] === column ? (aliases.get(aliased[1]!) ?? null) : null
    if (subject === '?' && insert && subjectParam !== undefined) {
      return parameters[subjectParam] === insertedValue(column) ? insert[1]! : null
    }
    return null
  }

  let masked = sql
  for (const m of sql.matchAll(TENANT_PREDICATE)) {
    const start = m.index
    const end = start + m[0].length
    masked = masked.slice(0, start) + ' '.repeat(m[0].length) + masked.slice(end)
    const qs = placeholders(sql, start, end)
    // With column subjects the placeholders are the two grant lists; with value subjects
    // (an insert's check) they are infra, whole, infra, business, pairs.
    const [wholeIdx, pairsIdx] = m[1] === '?' ? [qs[1]!, qs[4]!] : [qs[0]!, qs[1]!]
    const whole = parseJsonParam(parameters[wholeIdx])
    const pairs = parseJsonParam(parameters[pairsIdx])
    if (!isConjunct(start)) problems.push(`tenant predicate at ${start} is not a WHERE conjunct`)
    if (!whole || !sameSet(whole, wholeInfra))
      problems.push('tenant predicate: whole-infrastructure grants differ')
    if (!pairs || !sameSet(pairs, businesses)) problems.push('tenant predicate: business grants differ')
    const twice = m[1] === '?' ? parameters[qs[0]!] === parameters[qs[2]!] : m[1] === m[2]
    if (!twice) problems.push('tenant predicate: two different infrastructure subjects')
    const table = subjectTable(m[1]!, m[1] === '?' ? qs[0] : undefined, 'infrastructure_id')
    const bizTable = subjectTable(m[3]!, m[3] === '?' ? qs[3] : undefined, 'business_id')
    if (table === null || table !== bizTable) problems.push(`tenant predicate on ${m[1]}, ${m[3]}`)
    else cover(table, 'tenant')
  }
  for (const m of masked.matchAll(INFRA_PREDICATE)) {
    const start = m.index
    const qs = placeholders(sql, start, start + m[0].length)
    const list = parseJsonParam(parameters[qs[qs.length - 1]!])
    if (!isConjunct(start)) problems.push(`infrastructure predicate at ${start} is not a WHERE conjunct`)
    if (!list || !sameSet(list, allInfra)) problems.push('infrastructure predicate: grants differ')
    const table = subjectTable(m[1]!, m[1] === '?' ? qs[0] : undefined, 'infrastructure_id')
    if (table === null) problems.push(`infrastructure predicate on ${m[1]}`)
    else cover(table, 'infra')
  }
  const security = SECURITY_INSERT.exec(sql)
  if (security) {
    const cols = security[1]!.split(',').map((c) => c.trim().replace(/"/g, ''))
    if (
      parameters[cols.indexOf('actor_id')] === scope.userId &&
      parameters[cols.indexOf('actor_role')] === scope.role
    )
      cover('messaging_security_log', 'infra')
    else problems.push('security log insert: the row does not name the caller')
  }
  if (insert?.[1] === 'messaging_audit_log' && ACTOR_CHECK.test(sql)) {
    const n = parameters.length
    if (parameters[n - 2] === insertedValue('actor_id') && parameters[n - 1] === scope.userId) {
      cover('messaging_audit_log', 'infra')
    } else problems.push('audit insert: actor check does not name the caller')
  }

  for (const m of masked.matchAll(FLEET_PREDICATE)) {
    if (!scope.isFleet) problems.push('fleet predicate in a unit whose scope is not the fleet')
    if (!isConjunct(m.index)) problems.push(`fleet predicate at ${m.index} is not a WHERE conjunct`)
    // An insert's check names the inserted row's own infrastructure as a bound value.
    const qs = placeholders(sql, m.index, m.index + m[0].length)
    const table = subjectTable(m[1]!, m[1] === '?' ? qs[0] : undefined, 'infrastructure_id')
    if (table === null) problems.push(`fleet predicate on ${m[1]}`)
    else cover(table, 'tenant')
  }
  // INSERT ... SELECT from a scoped outbox row: the tenant columns are the row's own.
  if (insert && /\bfrom "messaging_outbox" where /.test(sql)) {
    const selectList = sql.slice(insert[0].length, sql.indexOf(' from "messaging_outbox"')).split(', ')
    const from = (col: string) => selectList[insertCols.indexOf(col)]
    if (
      from('infrastructure_id') === '"messaging_outbox"."infrastructure_id"' &&
      (!insertCols.includes('business_id') || from('business_id') === '"messaging_outbox"."business_id"') &&
      (covered.get('messaging_outbox')?.tenant ?? 0) > 0
    ) {
      cover(insert[1]!, 'tenant')
    }
  }

  const counts = new Map<string, number>()
  for (const t of refs) counts.set(t, (counts.get(t) ?? 0) + 1)
  for (const [table, n] of counts) {
    const c = covered.get(table) ?? { tenant: 0, infra: 0 }
    const have = table === 'messaging_outbox' ? c.tenant : c.tenant + c.infra
    if (have < n) problems.push(`${n} reference(s) to ${table}, ${have} scoped`)
  }
  return problems
}
