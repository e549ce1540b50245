import { type Kysely, type RawBuilder, type SqlBool, sql } from 'kysely'
import type { ChannelStats, DeliveryAttempt } from '../../domain/delivery.js'
import { NotFoundError, TenantScopeViolationError } from '../../domain/errors.js'
import { assertTransition, type ClaimedMessage, type OutboxMessage } from '../../domain/outbox-message.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { Clock } from '../../ports/clock.js'
import type { IdGenerator } from '../../ports/id-generator.js'
import type {
  CancelCommand,
  CancelResult,
  CancelTarget,
  ClaimOptions,
  CompleteCommand,
  EnqueueCommand,
  EnqueueOutcome,
  LeaseCommand,
  OutboxListFilter,
  OutboxRepository,
  RescheduleCommand,
  RetainCommand,
  SettleCommand,
} from '../../ports/outbox-repository.js'
import { enqueueBatch } from '../shared/enqueue-batch.js'
import { outboxFilter } from '../shared/rows/keys.js'
import { toChannelStats } from '../shared/rows/outbox-rows.js'
import { storableAttempt, storableSettlement } from '../shared/storable-text.js'
import { SqliteAuditLog } from './sqlite-audit-log.js'
import { SqliteChannelRepository } from './sqlite-channel-repository.js'
import { isForeignKeyViolation } from './sqlite-errors.js'
import { outboxRow, toAttempt, toMessage } from './sqlite-rows.js'
import { canAccess, canAccessInfrastructure, insertChecked } from './sqlite-scope.js'
import type { SqliteDatabase } from './sqlite-tables.js'

const infra = sql.ref('messaging_outbox.infrastructure_id')
const business = sql.ref('messaging_outbox.business_id')
const inScope = (scope: TenantScope) => canAccess(scope, infra, business)

/** Rows in the open-rows index (`messaging_outbox_ready_idx`): a literal, so the planner can use it. */
const OPEN = sql<SqlBool>`${sql.ref('messaging_outbox.status')} in ('pending', 'processing')`

/** Pending and due, or holding a lease that lapsed: `isClaimable` of the domain, as SQL. */
const claimable = (now: number): RawBuilder<SqlBool> =>
  sql<SqlBool>`((${sql.ref('status')} = 'pending' and ${sql.ref('available_at')} <= ${now}) or (${sql.ref('status')} = 'processing' and ${sql.ref('leased_until')} <= ${now}))`

/**
 * A keyed row's turn, as PostgreSQL's claim (src/adapters/postgres/claim.ts) decides it: no
 * earlier row of its tenant (infrastructure and business) and key is pending or processing, or failed or dead on a channel
 * whose config does not say `orderingOnDead: 'skip'`; no row of the key held under a live
 * lease. Blockers are read within the scope, as PostgreSQL's policies read them. A row
 * without a key is not probed.
 */
const ordered = (scope: TenantScope, now: number): RawBuilder<SqlBool> => {
  const o = (c: string) => sql.ref(`messaging_outbox.${c}`)
  const b = (c: string) => sql.ref(`b.${c}`)
  const sameKey = sql`${b('infrastructure_id')} = ${o('infrastructure_id')} and ${b('business_id')} is ${o('business_id')} and ${b('ordering_key')} = ${o('ordering_key')} and ${canAccess(scope, b('infrastructure_id'), b('business_id'))}`
  return sql<SqlBool>`(${o('ordering_key')} is null or (not exists (select 1 from ${sql.table('messaging_outbox')} as ${sql.ref('b')} where ${sameKey} and ${b('ordering_seq')} < ${o('ordering_seq')} and (${b('status')} in ('pending', 'processing') or (${b('status')} in ('failed', 'dead') and not exists (select 1 from ${sql.table('messaging_channels')} as ${sql.ref('k')} where ${sql.ref('k.infrastructure_id')} = ${b('infrastructure_id')} and ${sql.ref('k.id')} = ${b('channel_id')} and json_extract(${sql.ref('k.config')}, '$.orderingOnDead') = 'skip' and ${canAccessInfrastructure(scope, sql.ref('k.infrastructure_id'))})))) and not exists (select 1 from ${sql.table('messaging_outbox')} as ${sql.ref('b')} where ${sameKey} and ${b('status')} = 'processing' and ${b('leased_until')} > ${now})))`
}

/** The rows of `infrastructureId` that `target` names. */
const namedBy = (infrastructureId: string, target: CancelTarget): RawBuilder<SqlBool> =>
  sql<SqlBool>`${infra} = ${infrastructureId} and ${
    'messageId' in target
      ? sql`${sql.ref('messaging_outbox.id')} = ${target.messageId}`
      : 'notificationId' in target
        ? sql`${sql.ref('messaging_outbox.notification_id')} = ${target.notificationId}`
        : sql`${sql.ref('messaging_outbox.idempotency_key')} = ${target.idempotencyKey} and coalesce(${business}, '') = ${target.businessId ?? ''}`
  }`

/** Nobody holds it: pending, or held under a lease that lapsed (`isCancellable`). */
const cancellable = (now: number): RawBuilder<SqlBool> =>
  sql<SqlBool>`(${sql.ref('status')} = 'pending' or (${sql.ref('status')} = 'processing' and ${sql.ref('leased_until')} <= ${now}))`

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
    /** The process clock of the one host the file lives on (docs/sqlite.md). */
    private readonly clock: Clock,
  ) {}

  /** Statements cost no round trip here: the batch is the one-message insert in a loop, in the unit's transaction. */
  enqueueMany(scope: TenantScope, commands: readonly EnqueueCommand[]): Promise<EnqueueOutcome[]> {
    return enqueueBatch(
      {
        now: () => this.clock.now(),
        channels: new SqliteChannelRepository(this.db),
        audit: new SqliteAuditLog(this.db),
        insert: (s, message) => this.insert(s, message),
      },
      scope,
      commands,
    )
  }

  /** One message, idempotent on its key; the scope predicate plays the insert policy's part. */
  private async insert(scope: TenantScope, message: OutboxMessage): Promise<EnqueueOutcome> {
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
      if (existing) return { message: toMessage(existing), created: false }
    }
    try {
      const written = await insertChecked(
        this.db,
        'messaging_outbox',
        { ...outboxRow(message), ordering_seq: await this.nextOrderingSeq(scope, message) },
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

  /**
   * A keyed message's place in its key's order: one past the key's last (an index probe).
   * Inside the unit's write transaction nobody else inserts in between.
   */
  private async nextOrderingSeq(scope: TenantScope, message: OutboxMessage): Promise<number | null> {
    if (message.orderingKey === null) return null
    const last = await this.db
      .selectFrom('messaging_outbox')
      .select(sql<number | null>`max(${sql.ref('ordering_seq')})`.as('seq'))
      .where('infrastructure_id', '=', message.infrastructureId)
      .where(sql<SqlBool>`${business} is ${message.businessId}`)
      .where('ordering_key', '=', message.orderingKey)
      .where(inScope(scope))
      .executeTakeFirst()
    return (last?.seq ?? 0) + 1
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
      .where(outboxFilter(filter))
      .where(inScope(scope))
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
    const now = this.clock.now().getTime()
    const leasedUntil = now + options.leaseMs
    const perTenant = Math.min(options.limit, options.perTenantLimit ?? options.limit)
    if (perTenant <= 0) return []
    // Fair between tenants, as the memory adapter: round robin over the tenants with due
    // messages, tenants ordered by their heads' due times, each tenant's highest priority
    // then oldest first; a
    // backlog in one tenant never starves the others. Only the `limit` tenants with the
    // oldest heads can contribute. So: the head of each candidate tenant (one probe of the
    // open-rows index each), then the first `perTenant` due rows of the chosen tenants (an
    // index walk that stops early), merged below. The cost follows the number of tenants,
    // not the backlog: one window function over every due row cost 20 ms a claim on a
    // 10,000-message backlog.
    const heads = await this.tenantHeads(scope, options, now)
    const queues: Array<Array<{ infrastructure_id: string; id: string; status: string }>> = []
    for (const h of heads) {
      queues.push(
        await this.db
          .selectFrom('messaging_outbox')
          .select(['infrastructure_id', 'id', 'status'])
          .where('infrastructure_id', '=', h.infrastructure_id)
          .where(OPEN)
          .where(claimable(now))
          .where(ordered(scope, now))
          .where(inScope(scope))
          .orderBy('priority')
          .orderBy('available_at')
          .orderBy('id')
          .limit(perTenant)
          .execute(),
      )
    }
    const rows: Array<{ infrastructure_id: string; id: string; status: string }> = []
    for (let round = 0; round < perTenant && rows.length < options.limit; round++) {
      let took = false
      for (const q of queues) {
        const r = q[round]
        if (r && rows.length < options.limit) {
          rows.push(r)
          took = true
        }
      }
      if (!took) break
    }
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
    const s = storableSettlement(cmd.settlement)
    assertTransition('processing', s.status)
    const now = this.clock.now().getTime()
    const result = await this.db
      .updateTable('messaging_outbox')
      .set({
        status: s.status,
        ...(s.status === 'pending' && { available_at: now + s.retryAfterMs }),
        last_error: s.lastError,
        settled_at: s.status === 'pending' ? null : now,
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

  /**
   * The candidate tenants with their oldest due message, oldest first, at most `limit`.
   * Candidates are the scope's own infrastructures; the fleet scope has none listed, so its
   * candidates come from a skip scan of the open-rows index (one seek per tenant).
   */
  private async tenantHeads(
    scope: TenantScope,
    options: ClaimOptions,
    now: number,
  ): Promise<Array<{ infrastructure_id: string; head_at: number; head_id: string }>> {
    const head = (column: 'available_at' | 'id') =>
      sql`(select ${sql.ref(column)} from ${sql.table('messaging_outbox')} where ${sql.ref('messaging_outbox.infrastructure_id')} = ${sql.ref('candidates.value')} and ${OPEN} and ${claimable(now)} and ${ordered(scope, now)} and ${inScope(scope)} order by ${sql.ref('priority')}, ${sql.ref('available_at')}, ${sql.ref('id')} limit 1)`
    const excluded = JSON.stringify(options.excludeInfrastructureIds ?? [])
    const onlyOne = options.infrastructureId
    const candidates =
      scope.isFleet && onlyOne === undefined
        ? sql`with recursive ${sql.ref('candidates')} (${sql.ref('value')}) as (select (select min(${sql.ref('infrastructure_id')}) from ${sql.table('messaging_outbox')} where ${OPEN} and ${inScope(scope)}) union all select (select min(${sql.ref('infrastructure_id')}) from ${sql.table('messaging_outbox')} where ${OPEN} and ${sql.ref('messaging_outbox.infrastructure_id')} > ${sql.ref('candidates.value')} and ${inScope(scope)}) from ${sql.ref('candidates')} where ${sql.ref('candidates.value')} is not null) `
        : sql`with ${sql.ref('candidates')} (${sql.ref('value')}) as (select ${sql.ref('value')} from json_each(${JSON.stringify(onlyOne !== undefined ? [onlyOne] : scope.infrastructureIds())})) `
    const result = await sql<{
      infrastructure_id: string
      head_at: number | null
      head_id: string | null
    }>`${candidates}select * from (select ${sql.ref('candidates.value')} as ${sql.ref('infrastructure_id')}, ${head('available_at')} as ${sql.ref('head_at')}, ${head('id')} as ${sql.ref('head_id')} from ${sql.ref('candidates')} where ${sql.ref('candidates.value')} is not null and not exists (select 1 from json_each(${excluded}) as ${sql.ref('excluded')} where ${sql.ref('excluded.value')} = ${sql.ref('candidates.value')})) where ${sql.ref('head_at')} is not null order by ${sql.ref('head_at')}, ${sql.ref('head_id')} limit ${options.limit}`.execute(
      this.db,
    )
    return result.rows as Array<{ infrastructure_id: string; head_at: number; head_id: string }>
  }

  /** A held message's fence: still `processing` under this token, in the scope, for `service`. */
  private heldBy(cmd: LeaseCommand, scope: TenantScope) {
    return this.db
      .updateTable('messaging_outbox')
      .where('infrastructure_id', '=', cmd.infrastructureId)
      .where('id', '=', cmd.id)
      .where('status', '=', 'processing')
      .where('lease_token', '=', cmd.leaseToken)
      .where(inScope(scope))
  }

  async renew(scope: TenantScope, cmd: LeaseCommand & { leaseMs: number }): Promise<boolean> {
    if (!scope.hasRole('service')) return false
    const result = await this.heldBy(cmd, scope)
      .set({ leased_until: this.clock.now().getTime() + cmd.leaseMs })
      .executeTakeFirst()
    return result.numUpdatedRows > 0n
  }

  async release(scope: TenantScope, cmd: LeaseCommand & { delayMs: number }): Promise<boolean> {
    if (!scope.hasRole('service')) return false
    const result = await this.heldBy(cmd, scope)
      .set((eb) => ({
        status: 'pending',
        // The attempt did not happen: give back the one the claim counted.
        attempts: sql<number>`max(0, ${eb.ref('attempts')} - 1)`,
        available_at: this.clock.now().getTime() + Math.max(0, cmd.delayMs),
        lease_token: null,
        leased_until: null,
      }))
      .executeTakeFirst()
    return result.numUpdatedRows > 0n
  }

  async retainMany(scope: TenantScope, items: readonly RetainCommand[]): Promise<boolean[]> {
    const held: boolean[] = []
    for (const item of items) {
      const ok = scope.hasRole('service') && (await this.renew(scope, item.lease))
      if (ok) await this.recordAttempt(scope, item.attempt)
      held.push(ok)
    }
    return held
  }

  async completeMany(scope: TenantScope, items: readonly CompleteCommand[]): Promise<boolean[]> {
    // One unit of work holds them all; each is fenced on its own, as `settle`.
    const done: boolean[] = []
    for (const item of items) {
      const ok = await this.settle(scope, item.settle)
      if (ok) await this.recordAttempt(scope, item.attempt)
      done.push(ok)
    }
    return done
  }

  /** Appends one attempt, copied onto the message's own row read under the scope. */
  private async recordAttempt(scope: TenantScope, given: DeliveryAttempt): Promise<void> {
    const attempt = storableAttempt(given)
    if (!scope.hasRole('service')) throw new TenantScopeViolationError(attempt.infrastructureId)
    // INSERT ... SELECT from the message's own row, read under the scope: no row in scope,
    // no attempt; the tenant columns come from the message, not from the caller.
    const o = (c: string) => sql.ref(`messaging_outbox.${c}`)
    const values = [
      ['infrastructure_id', o('infrastructure_id')],
      ['message_id', o('id')],
      ['id', sql.val(attempt.id)],
      ['business_id', o('business_id')],
      ['attempt', sql.val(attempt.attempt)],
      ['worker_id', sql.val(attempt.workerId)],
      ['worker_host', sql.val(attempt.workerHost)],
      ['started_at', sql.val(attempt.startedAt.getTime())],
      ['finished_at', sql.val(attempt.finishedAt.getTime())],
      ['duration_ms', sql.val(attempt.durationMs)],
      ['outcome', sql.val(attempt.outcome)],
      ['error_code', sql.val(attempt.errorCode)],
      ['error', sql.val(attempt.error)],
      ['provider_message_id', sql.val(attempt.providerMessageId)],
      ['provider', sql.val(attempt.provider ?? null)],
    ] as const
    const result =
      await sql`insert into ${sql.table('messaging_delivery_attempts')} (${sql.join(values.map(([c]) => sql.ref(c)))}) select ${sql.join(values.map(([, v]) => v))} from ${sql.table('messaging_outbox')} where ${o('infrastructure_id')} = ${attempt.infrastructureId} and ${o('id')} = ${attempt.messageId} and ${inScope(scope)}`.execute(
        this.db,
      )
    if (Number(result.numAffectedRows ?? 0n) === 0)
      throw new TenantScopeViolationError(attempt.infrastructureId)
  }

  async listAttempts(
    scope: TenantScope,
    infrastructureId: string,
    messageId: string,
  ): Promise<DeliveryAttempt[]> {
    const rows = await this.db
      .selectFrom('messaging_delivery_attempts')
      .selectAll()
      .where('infrastructure_id', '=', infrastructureId)
      .where('message_id', '=', messageId)
      .where(
        canAccess(
          scope,
          sql.ref('messaging_delivery_attempts.infrastructure_id'),
          sql.ref('messaging_delivery_attempts.business_id'),
        ),
      )
      // Oldest first: append order (rowid only grows; rows leave only with their message).
      .orderBy(sql`rowid`)
      .execute()
    return rows.map(toAttempt)
  }

  async redrive(
    scope: TenantScope,
    cmd: { infrastructureId: string; id: string },
  ): Promise<OutboxMessage | null> {
    if (!scope.hasRole('service', 'infra_admin')) return null
    const row = await this.db
      .updateTable('messaging_outbox')
      .set({ status: 'pending', attempts: 0, available_at: this.clock.now().getTime(), settled_at: null })
      .where('infrastructure_id', '=', cmd.infrastructureId)
      .where('id', '=', cmd.id)
      .where('status', 'in', ['dead', 'failed'])
      .where(inScope(scope))
      .returningAll()
      .executeTakeFirst()
    return row ? toMessage(row) : null
  }

  async cancel(scope: TenantScope, cmd: CancelCommand): Promise<CancelResult> {
    if (!scope.hasRole('service', 'infra_admin')) return { cancelled: [], kept: [] }
    const now = this.clock.now().getTime()
    const named = namedBy(cmd.infrastructureId, cmd.target)
    // The unit is one write transaction: no claim can lease a row between this update and
    // the read below, in this process or another.
    const done = await this.db
      .updateTable('messaging_outbox')
      .set({ status: 'cancelled', lease_token: null, leased_until: null, settled_at: now })
      .where(named)
      .where(cancellable(now))
      .where(inScope(scope))
      .returning('id')
      .execute()
    const cancelledIds = new Set(done.map((r) => r.id))
    const rows = await this.db
      .selectFrom('messaging_outbox')
      .selectAll()
      .where(named)
      .where(inScope(scope))
      .orderBy('created_at')
      .orderBy('id')
      .execute()
    const result: { cancelled: OutboxMessage[]; kept: OutboxMessage[] } = { cancelled: [], kept: [] }
    for (const row of rows) (cancelledIds.has(row.id) ? result.cancelled : result.kept).push(toMessage(row))
    return result
  }

  async reschedule(scope: TenantScope, cmd: RescheduleCommand): Promise<OutboxMessage | null> {
    if (!scope.hasRole('service', 'infra_admin')) return null
    const availableAt =
      'at' in cmd.due ? cmd.due.at.getTime() : this.clock.now().getTime() + Math.max(0, cmd.due.afterMs)
    const row = await this.db
      .updateTable('messaging_outbox')
      .set({ available_at: availableAt })
      .where('infrastructure_id', '=', cmd.infrastructureId)
      .where('id', '=', cmd.id)
      .where('status', '=', 'pending')
      .where(inScope(scope))
      .returningAll()
      .executeTakeFirst()
    return row ? toMessage(row) : null
  }

  async stats(scope: TenantScope, filter: { infrastructureId?: string }): Promise<ChannelStats[]> {
    const now = this.clock.now().getTime()
    const count = (status: string) => sql<number>`sum(${sql.ref('status')} = ${status})`
    let q = this.db
      .selectFrom('messaging_outbox')
      .select(['infrastructure_id', 'channel_id'])
      .select(count('pending').as('pending'))
      .select(count('processing').as('in_flight'))
      .select(count('processed').as('processed'))
      .select(count('failed').as('failed'))
      .select(count('dead').as('dead'))
      .select(count('cancelled').as('cancelled'))
      .select(
        sql<
          number | null
        >`max(case when ${sql.ref('status')} = 'pending' and ${sql.ref('available_at')} <= ${now} then ${now} - ${sql.ref('available_at')} end)`.as(
          'oldest_pending_age_ms',
        ),
      )
      .where(inScope(scope))
    if (filter.infrastructureId !== undefined) q = q.where('infrastructure_id', '=', filter.infrastructureId)
    const rows = await q
      .groupBy(['infrastructure_id', 'channel_id'])
      .orderBy('infrastructure_id')
      .orderBy('channel_id')
      .execute()
    return rows.map(toChannelStats)
  }
}
