import { type Kysely, sql } from 'kysely'
import type { BreakerState, BreakerStatus } from '../../domain/breaker.js'
import { TenantScopeViolationError } from '../../domain/errors.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type {
  BreakerKey,
  BreakerReading,
  BreakerRepository,
  BreakerView,
} from '../../ports/breaker-repository.js'
import { breakerViewOf } from '../shared/breaker-view.js'
import { classify } from './errors.js'
import type { MessagingDatabase } from './schema.js'

interface Row {
  now_ms: number
  status: string | null
  failures: number | null
  window_started_ms: number | null
  opened_ms: number | null
  retry_ms: number | null
}

interface ListRow {
  channel_id: string
  status: string
  failures: number
  opened_ms: number | null
  retry_ms: number | null
}

const ms = (column: string) => sql.raw(`(extract(epoch from b.${column}) * 1000)::float8`)
const at = (value: number | null) =>
  value === null ? sql`null::timestamptz` : sql`to_timestamp(${value / 1000}::float8)`

const NOW_MS = sql.raw('(extract(epoch from messaging_now()) * 1000)::float8')
const COLUMNS = sql.join([
  sql.raw('b.status'),
  sql.raw('b.failures'),
  sql`${ms('window_started_at')} as window_started_ms`,
  sql`${ms('opened_at')} as opened_ms`,
  sql`${ms('retry_at')} as retry_ms`,
])

const stateOf = (r: Row): BreakerState | null =>
  r.status === null
    ? null
    : {
        status: r.status as BreakerStatus,
        failures: r.failures ?? 0,
        windowStartedAt: r.window_started_ms,
        openedAt: r.opened_ms,
        retryAt: r.retry_ms,
      }

/**
 * Channels' circuit breakers (sql/0056), on the database's clock: every reading carries
 * messaging_now() as epoch ms, and the times a caller decides from it are written back as
 * they were computed. A lock is SELECT ... FOR UPDATE on the row (created closed first when
 * absent), held until the unit of work commits.
 */
export class PostgresBreakerRepository implements BreakerRepository {
  constructor(private readonly db: Kysely<MessagingDatabase>) {}

  /** The scope is the unit of work's: its claims (and role) are what the policies check. */
  async read(_scope: TenantScope, key: BreakerKey): Promise<BreakerReading> {
    const { rows } = await sql<Row>`
      select ${NOW_MS} as now_ms, ${COLUMNS}
        from (select) as one
        left join messaging_breakers as b
          on b.infrastructure_id = ${key.infrastructureId}::uuid and b.channel_id = ${key.channelId}::uuid`
      .execute(this.db)
      .catch((e) => Promise.reject(classify(e, refused(key))))
    const row = rows[0]!
    return { state: stateOf(row), now: row.now_ms }
  }

  async lock(_scope: TenantScope, key: BreakerKey): Promise<BreakerReading> {
    await sql`
      insert into messaging_breakers (infrastructure_id, channel_id, status, failures, updated_at)
      values (${key.infrastructureId}::uuid, ${key.channelId}::uuid, 'closed', 0, messaging_now())
      on conflict on constraint messaging_breakers_pkey do nothing`
      .execute(this.db)
      .catch((e) => Promise.reject(classify(e, refused(key))))
    // FOR UPDATE cannot lock the nullable side of an outer join: the row exists by now.
    const { rows } = await sql<Row>`
      select ${NOW_MS} as now_ms, ${COLUMNS}
        from messaging_breakers as b
       where b.infrastructure_id = ${key.infrastructureId}::uuid and b.channel_id = ${key.channelId}::uuid
         for update`
      .execute(this.db)
      .catch((e) => Promise.reject(classify(e, refused(key))))
    const row = rows[0]
    const state = row ? stateOf(row) : null
    // Policies that let the insert pass but hide the row would be a misconfigured database.
    if (!row || state === null) throw new TenantScopeViolationError(key.infrastructureId)
    return { state, now: row.now_ms }
  }

  async save(_scope: TenantScope, key: BreakerKey, state: BreakerState): Promise<void> {
    await sql`
      insert into messaging_breakers as b (infrastructure_id, channel_id, status, failures,
        window_started_at, opened_at, retry_at, updated_at)
      values (${key.infrastructureId}::uuid, ${key.channelId}::uuid, ${state.status}, ${state.failures},
        ${at(state.windowStartedAt)}, ${at(state.openedAt)}, ${at(state.retryAt)}, messaging_now())
      on conflict on constraint messaging_breakers_pkey do update set
        status = excluded.status, failures = excluded.failures,
        window_started_at = excluded.window_started_at, opened_at = excluded.opened_at,
        retry_at = excluded.retry_at, updated_at = excluded.updated_at`
      .execute(this.db)
      .catch((e) => Promise.reject(classify(e, refused(key))))
  }

  async listOpen(scope: TenantScope, infrastructureId: string): Promise<BreakerView[]> {
    if (!scope.canAccessInfrastructure(infrastructureId))
      throw new TenantScopeViolationError(infrastructureId)
    const { rows } = await sql<ListRow>`
      select b.channel_id, b.status, b.failures, ${ms('opened_at')} as opened_ms, ${ms('retry_at')} as retry_ms
        from messaging_breakers as b
       where b.infrastructure_id = ${infrastructureId}::uuid and b.status <> 'closed'
       order by b.opened_at, b.channel_id`.execute(this.db)
    return rows.map((r) =>
      breakerViewOf(
        { infrastructureId, channelId: r.channel_id },
        {
          status: r.status as BreakerStatus,
          failures: r.failures,
          windowStartedAt: null,
          openedAt: r.opened_ms,
          retryAt: r.retry_ms,
        },
      ),
    )
  }
}

/** A policy refusal (42501): the breaker's infrastructure is not the scope's (or its role is not `service`). */
const refused = (key: BreakerKey) => ({
  refused: () => new TenantScopeViolationError(key.infrastructureId),
})
