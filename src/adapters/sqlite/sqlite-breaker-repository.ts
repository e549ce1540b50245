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
import type { Clock } from '../../ports/clock.js'
import { breakerViewOf } from '../shared/breaker-view.js'
import { assertBucketScope } from '../shared/bucket-scope.js'
import { canAccessInfrastructure, insertChecked } from './sqlite-scope.js'
import type { BreakersTable, SqliteDatabase } from './sqlite-tables.js'

const stateOf = (r: BreakersTable): BreakerState => ({
  status: r.status as BreakerStatus,
  failures: r.failures,
  windowStartedAt: r.window_started_at,
  openedAt: r.opened_at,
  retryAt: r.retry_at,
})

/**
 * Channels' circuit breakers in the shared file. A unit of work is one write transaction
 * that holds the file's write lock, so a `lock` needs nothing more: no other process decides
 * a transition on the same breaker until this unit commits. Time is the store's clock.
 */
export class SqliteBreakerRepository implements BreakerRepository {
  constructor(
    private readonly db: Kysely<SqliteDatabase>,
    private readonly clock: Clock,
  ) {}

  async read(scope: TenantScope, key: BreakerKey): Promise<BreakerReading> {
    assertBucketScope(scope, key)
    const now = this.clock.now().getTime()
    const row = await this.db
      .selectFrom('messaging_breakers')
      .selectAll()
      .where(canAccessInfrastructure(scope, sql.ref('messaging_breakers.infrastructure_id')))
      .where('infrastructure_id', '=', key.infrastructureId)
      .where('channel_id', '=', key.channelId)
      .executeTakeFirst()
    return { state: row ? stateOf(row) : null, now }
  }

  lock(scope: TenantScope, key: BreakerKey): Promise<BreakerReading> {
    return this.read(scope, key)
  }

  async save(scope: TenantScope, key: BreakerKey, state: BreakerState): Promise<void> {
    assertBucketScope(scope, key)
    await insertChecked(
      this.db,
      'messaging_breakers',
      {
        infrastructure_id: key.infrastructureId,
        channel_id: key.channelId,
        status: state.status,
        failures: state.failures,
        window_started_at: state.windowStartedAt,
        opened_at: state.openedAt,
        retry_at: state.retryAt,
        updated_at: this.clock.now().getTime(),
      },
      canAccessInfrastructure(scope, sql.val(key.infrastructureId)),
      sql` on conflict (infrastructure_id, channel_id) do update set
        status = excluded.status, failures = excluded.failures,
        window_started_at = excluded.window_started_at, opened_at = excluded.opened_at,
        retry_at = excluded.retry_at, updated_at = excluded.updated_at`,
    )
  }

  async listOpen(scope: TenantScope, infrastructureId: string): Promise<BreakerView[]> {
    if (!scope.canAccessInfrastructure(infrastructureId))
      throw new TenantScopeViolationError(infrastructureId)
    const rows = await this.db
      .selectFrom('messaging_breakers')
      .selectAll()
      .where(canAccessInfrastructure(scope, sql.ref('messaging_breakers.infrastructure_id')))
      .where('infrastructure_id', '=', infrastructureId)
      .where('status', '<>', 'closed')
      .orderBy('opened_at')
      .orderBy('channel_id')
      .execute()
    return rows.map((r) => breakerViewOf({ infrastructureId, channelId: r.channel_id }, stateOf(r)))
  }
}
