import { type Kysely, type RawBuilder, type SqlBool, sql } from 'kysely'
import { NotFoundError, TenantScopeViolationError } from '../../domain/errors.js'
import { assertTransition, type ClaimedMessage, type OutboxMessage } from '../../domain/outbox-message.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { IdGenerator } from '../../ports/id-generator.js'
import type {
  ClaimOptions,
  OutboxListFilter,
  OutboxRepository,
  SettleCommand,
} from '../../ports/outbox-repository.js'
import { isForeignKeyViolation } from './sqlite-errors.js'
import { outboxRow, toMessage } from './sqlite-rows.js'
import { canAccess, canAccessInfrastructure, insertChecked } from './sqlite-scope.js'
import type { SqliteDatabase } from './sqlite-tables.js'

const infra = sql.ref('messaging_outbox.infrastructure_id')
const business = sql.ref('messaging_outbox.business_id')
const inScope = (scope: TenantScope) => canAccess(scope, infra, business)

/** Pending and due, or holding a lease that lapsed: `isClaimable` of the domain, as SQL. */
const claimable = (now: number): RawBuilder<SqlBool> =>
  sql<SqlBool>`((${sql.ref('status')} = 'pending' and ${sql.ref('available_at')} <= ${now}) or (${sql.ref('status')} = 'processing' and ${sql.ref('leased_until')} <= ${now}))`

/**
 * The outbox. Every statement carries `tenant_can_access(infrastructure_id, business_id)`;
 * claims rely on the unit of work being one `BEGIN IMMEDIATE` transaction: SQLite has one
 * writer, so the rows a claim selects cannot be leased by anyone else before it updates
 * them, in this process or another (the role SKIP LOCKED plays on PostgreSQL).
 */
export class SqliteOutboxRepository implements OutboxRepository {
  constructor(
    private readonly db: Kysely<SqliteDatabase>,
    private readonly ids: IdGenerator,
  ) {}

  async enqueue(
    scope: TenantScope,
    message: OutboxMessage,
  ): Promise<{ message: OutboxMessage; created: boolean }> {
    if (!scope.canAccess(message.infrastructureId, message.businessId)) {
      throw new TenantScopeViolationError(message.infrastructureId, message.businessId)
    }
    if (message.idempotencyKey !== null) {
      // Inside the unit's write transaction nobody else can insert between this read and
      // the insert below, so the unique index is a backstop, not the mechanism.
      const existing = await this.db
        .selectFrom('messaging_outbox')
        .selectAll()
        .where('infrastructure_id', '=', message.infrastructureId)
        .where(sql<string>`coalesce(${business}, '')`, '=', message.businessId ?? '')
        .where('idempotency_key', '=', message.idempotencyKey)
        .where(inScope(scope))
        .executeTakeFirst()
      if (existing) {
        await this.assertChannel(scope, message)
        return { message: toMessage(existing), created: false }
      }
    }
    try {
      const written = await insertChecked(
        this.db,
        'messaging_outbox',
        outboxRow(message),
        canAccess(scope, sql.val(message.infrastructureId), sql.val(message.businessId)),
      )
      if (written === 0) throw new TenantScopeViolationError(message.infrastructureId, message.businessId)
    } catch (e) {
      // The composite foreign key: the channel must be in the message's own infrastructure.
      if (isForeignKeyViolation(e)) throw new NotFoundError('channel', message.channelId)
      throw e
    }
    return { message: structuredClone(message), created: true }
  }

  /** A repeated key still names a channel of the message's infrastructure (the memory adapter checks it first). */
  private async assertChannel(scope: TenantScope, message: OutboxMessage): Promise<void> {
    const found = await this.db
      .selectFrom('messaging_channels')
      .select('id')
      .where('infrastructure_id', '=', message.infrastructureId)
      .where('id', '=', message.channelId)
      .where(canAccessInfrastructure(scope, sql.ref('messaging_channels.infrastructure_id')))
      .executeTakeFirst()
    if (!found) throw new NotFoundError('channel', message.channelId)
  }

  async findById(scope: TenantScope, infrastructureId: string, id: string): Promise<OutboxMessage | null> {
    const row = await this.db
      .selectFrom('messaging_outbox')
      .selectAll()
      .where('infrastructure_id', '=', infrastructureId)
      .where('id', '=', id)
      .where(inScope(scope))
      .executeTakeFirst()
    return row ? toMessage(row) : null
  }

  async list(scope: TenantScope, filter: OutboxListFilter): Promise<OutboxMessage[]> {
    let q = this.db
      .selectFrom('messaging_outbox')
      .selectAll()
      .where('infrastructure_id', '=', filter.infrastructureId)
      .where(inScope(scope))
    if (filter.businessId === null) q = q.where('business_id', 'is', null)
    else if (filter.businessId !== undefined) q = q.where('business_id', '=', filter.businessId)
    if (filter.channelId !== undefined) q = q.where('channel_id', '=', filter.channelId)
    if (filter.status !== undefined) q = q.where('status', '=', filter.status)
    if (filter.after !== undefined) {
      // Keyset: after a message the scope can see; an unknown or foreign one yields null,
      // and a comparison with null matches nothing.
      const after = this.db
        .selectFrom('messaging_outbox')
        .select(['created_at', 'id'])
        .where('infrastructure_id', '=', filter.infrastructureId)
        .where('id', '=', filter.after)
        .where(inScope(scope))
      q = q.where(
        sql<SqlBool>`(${sql.ref('messaging_outbox.created_at')}, ${sql.ref('messaging_outbox.id')}) > (${after})`,
      )
    }
    const rows = await q.orderBy('created_at').orderBy('id').limit(Math.max(0, filter.limit)).execute()
    return rows.map(toMessage)
  }

  async claim(scope: TenantScope, options: ClaimOptions): Promise<ClaimedMessage[]> {
    if (!scope.hasRole('service') || options.limit <= 0) return []
    const now = options.now.getTime()
    const leasedUntil = now + options.leaseMs
    let due = this.db
      .selectFrom('messaging_outbox')
      .select(['infrastructure_id', 'id', 'status'])
      .where(claimable(now))
      .where(inScope(scope))
    if (options.infrastructureId !== undefined)
      due = due.where('infrastructure_id', '=', options.infrastructureId)
    const rows = await due.orderBy('available_at').orderBy('id').limit(options.limit).execute()
    const claimed: ClaimedMessage[] = []
    for (const r of rows) {
      assertTransition(r.status as OutboxMessage['status'], 'processing')
      // Each lease gets its own token: a stale holder's ack can never match the new one.
      const row = await this.db
        .updateTable('messaging_outbox')
        .set((eb) => ({
          status: 'processing',
          attempts: eb('attempts', '+', 1),
          lease_token: this.ids.next(),
          leased_until: leasedUntil,
        }))
        .where('infrastructure_id', '=', r.infrastructure_id)
        .where('id', '=', r.id)
        .where(claimable(now))
        .where(inScope(scope))
        .returningAll()
        .executeTakeFirst()
      if (row) claimed.push(toMessage(row) as ClaimedMessage)
    }
    return claimed
  }

  async settle(scope: TenantScope, cmd: SettleCommand): Promise<boolean> {
    if (!scope.hasRole('service')) return false
    assertTransition('processing', cmd.settlement.status)
    const result = await this.db
      .updateTable('messaging_outbox')
      .set({
        status: cmd.settlement.status,
        available_at: cmd.settlement.availableAt.getTime(),
        last_error: cmd.settlement.lastError,
        settled_at: cmd.settlement.settledAt?.getTime() ?? null,
        lease_token: null,
        leased_until: null,
      })
      .where('infrastructure_id', '=', cmd.infrastructureId)
      .where('id', '=', cmd.id)
      // The fence: only the holder of the current lease settles, and only once.
      .where('status', '=', 'processing')
      .where('lease_token', '=', cmd.leaseToken)
      .where(inScope(scope))
      .executeTakeFirst()
    return result.numUpdatedRows > 0n
  }
}
