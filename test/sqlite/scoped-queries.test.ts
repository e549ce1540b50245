import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import type { Clock, MessagingStorage, TenantScope } from '../../src/index.js'
import { TenantScope as Scope } from '../../src/index.js'
import { describeDeliveryConformance } from '../conformance/delivery-conformance.js'
import { describeInboxConformance } from '../conformance/inbox-conformance.js'
import { describeRecipientsConformance } from '../conformance/recipients-conformance.js'
import { describeRepositoryConformance } from '../conformance/repository-conformance.js'
import { describeTemplateConformance } from '../conformance/template-conformance.js'
import { describeIsolationProperties } from '../properties/tenant-isolation.js'
import { scopeOf, tenant, uuid } from '../support/fixtures.js'
import { manualStoreClock } from '../support/store-clock.js'
import { type RecordedStatement, scopeProblems } from './statement-scope.js'

/**
 * SQLite has no row-level security: the adapter must scope every statement itself. This
 * file runs the repository conformance suite, the facade's isolation properties, and the
 * delivery, inbox and template conformance suites over a store that records every statement kysely
 * sends (with the scope of the unit of work it ran in), then checks each one.
 */
// The delivery suite's channels carry credentials: a store on disk keeps them only sealed.
process.env.MESSAGING_SECRET_KEYS = `k1:${randomBytes(32).toString('base64')}`

const statements: RecordedStatement[] = []
let current: TenantScope | null = null

function recordingStorage(clock?: Clock): MessagingStorage {
  const inner = createSqliteStorage({
    path: ':memory:',
    onQuery: (q) => statements.push({ sql: q.sql, parameters: q.parameters, scope: current }),
    ...(clock && { clock }),
  })
  return {
    name: inner.name,
    persistent: inner.persistent,
    wakeSignal: inner.wakeSignal,
    inboxFeed: inner.inboxFeed,
    close: () => inner.close(),
    prune: (options) => inner.prune(options),
    listSecurityEvents: (filter) => inner.listSecurityEvents(filter),
    unitOfWork: {
      // Units run one at a time, so the scope set inside `work` is the one of every
      // statement logged until it returns.
      run: (scope, work) =>
        inner.unitOfWork.run(scope, async (repos) => {
          current = scope
          try {
            return await work(repos)
          } finally {
            current = null
          }
        }),
    },
  }
}

/** The recording store on a clock the suites move. */
const clockedRecordingStorage = () => {
  const { clock, control } = manualStoreClock()
  return { storage: recordingStorage(clock), clock: control }
}

describeRepositoryConformance('sqlite (every statement recorded)', clockedRecordingStorage)
describeIsolationProperties('sqlite (every statement recorded)', clockedRecordingStorage, { defaultRuns: 40 })
describeDeliveryConformance('sqlite (every statement recorded)', () => recordingStorage())
describeInboxConformance('sqlite (every statement recorded)', () => recordingStorage())
describeTemplateConformance('sqlite (every statement recorded)', () => recordingStorage())
describeRecipientsConformance('sqlite (every statement recorded)', () => recordingStorage())

describe('every statement of the sqlite adapter carries the tenant scope', () => {
  it('scopes each statement the five suites ran', () => {
    const touching = statements.filter((s) => /"messaging_/.test(s.sql))
    const byKind = new Map<string, number>()
    for (const s of touching) {
      const kind = /^\s*(\w+)/.exec(s.sql)![1]!
      byKind.set(kind, (byKind.get(kind) ?? 0) + 1)
    }
    const distinct = new Set(touching.map((s) => s.sql.replace(/\s+/g, ' ')))
    console.log(
      `checked ${statements.length} statements (${touching.length} on messaging_ tables, ${distinct.size} distinct texts):`,
      Object.fromEntries(byKind),
    )
    // The workload reached every table, the view, and every kind of statement.
    for (const t of [
      'messaging_channels',
      'messaging_channel_members',
      'messaging_channel_memberships',
      'messaging_outbox',
      'messaging_audit_log',
      'messaging_delivery_attempts',
      'messaging_inbox',
      'messaging_templates',
      'messaging_template_settings',
      'messaging_profiles',
      'messaging_categories',
      'messaging_preferences',
      'messaging_tenant_defaults',
    ]) {
      expect(touching.some((s) => s.sql.includes(`"${t}"`))).toBe(true)
    }
    expect([...byKind.keys()].sort()).toEqual(['delete', 'insert', 'select', 'update', 'with'])
    // The fleet worker and retention ran too.
    expect(touching.some((s) => s.scope?.isFleet)).toBe(true)
    expect(touching.some((s) => s.scope === null && s.sql.startsWith('delete from "messaging_outbox"'))).toBe(
      true,
    )
    const failures = statements
      .map((s) => ({ sql: s.sql, problems: scopeProblems(s) }))
      .filter((f) => f.problems.length > 0)
    expect(failures.slice(0, 5)).toEqual([])
  })

  describe('the check itself rejects unscoped statements', () => {
    const t = tenant()
    const scope = scopeOf('service', [
      [t.infra, null],
      [uuid(), t.bizA],
    ])
    const grants = scope.principal.grants
    const infraJson = JSON.stringify([...new Set(grants.map((g) => g.infrastructureId))])
    const wholeJson = JSON.stringify([t.infra])
    const pairsJson = JSON.stringify([[grants[1]!.infrastructureId, t.bizA]])
    const tenantPred =
      '("messaging_outbox"."infrastructure_id" in (select value from json_each(?)) or ("messaging_outbox"."infrastructure_id", "messaging_outbox"."business_id") in (select value ->> 0, value ->> 1 from json_each(?)))'

    it('accepts a correctly scoped statement (the control)', () => {
      expect(
        scopeProblems({
          sql: `select * from "messaging_outbox" where "id" = ? and ${tenantPred}`,
          parameters: ['x', wholeJson, pairsJson],
          scope,
        }),
      ).toEqual([])
    })

    it('rejects a statement without a predicate', () => {
      expect(
        scopeProblems({ sql: 'select * from "messaging_outbox" where "id" = ?', parameters: ['x'], scope }),
      ).not.toEqual([])
    })

    it("rejects a predicate that reads another scope's grants", () => {
      expect(
        scopeProblems({
          sql: `select * from "messaging_outbox" where "id" = ? and ${tenantPred}`,
          parameters: ['x', JSON.stringify([uuid()]), pairsJson],
          scope,
        }),
      ).not.toEqual([])
    })

    it('rejects an outbox read scoped only by infrastructure, and a predicate that is not a conjunct', () => {
      expect(
        scopeProblems({
          sql: 'select * from "messaging_outbox" where "messaging_outbox"."infrastructure_id" in (select value from json_each(?))',
          parameters: [infraJson],
          scope,
        }),
      ).not.toEqual([])
      expect(
        scopeProblems({
          sql: `select * from "messaging_outbox" where "id" = ? or ${tenantPred}`,
          parameters: ['x', wholeJson, pairsJson],
          scope,
        }),
      ).not.toEqual([])
    })

    it('rejects a join whose second table is unscoped, and an insert without its check', () => {
      expect(
        scopeProblems({
          sql: 'select * from "messaging_channels" join "messaging_channel_members" on 1 where "messaging_channels"."infrastructure_id" in (select value from json_each(?))',
          parameters: [infraJson],
          scope,
        }),
      ).not.toEqual([])
      expect(
        scopeProblems({
          sql: 'insert into "messaging_channels" ("infrastructure_id", "id") select ?, ?',
          parameters: [t.infra, uuid()],
          scope,
        }),
      ).not.toEqual([])
      expect(
        scopeProblems({
          sql: 'insert into "messaging_channels" ("infrastructure_id", "id") select ?, ? where ? in (select value from json_each(?))',
          parameters: [uuid(), uuid(), t.infra, infraJson],
          scope,
        }),
      ).not.toEqual([])
    })

    it('rejects the fleet predicate under a scope that is not the fleet, and accepts it for the fleet', () => {
      const sql =
        'select * from "messaging_outbox" where "id" = ? and "messaging_outbox"."infrastructure_id" is not null /* fleet scope: every tenant */'
      expect(scopeProblems({ sql, parameters: ['x'], scope })).not.toEqual([])
      expect(scopeProblems({ sql, parameters: ['x'], scope: Scope.fleet(uuid()) })).toEqual([])
    })

    it('rejects a statement run outside a unit of work', () => {
      expect(
        scopeProblems({
          sql: `select * from "messaging_outbox" where ${tenantPred}`,
          parameters: [wholeJson, pairsJson],
          scope: null,
        }),
      ).toEqual(['ran outside a unit of work'])
    })
  })
})
