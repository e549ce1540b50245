import { type Kysely, type RawBuilder, type Selectable, type SqlBool, sql } from 'kysely'
import type { DeliveryAttempt, QueueCounts } from '../../domain/delivery.js'
import { NotFoundError, TenantScopeViolationError } from '../../domain/errors.js'
import { assertTransition, type ClaimedMessage, type OutboxMessage } from '../../domain/outbox-message.js'
import { minuteOf, transitionDelta } from '../../domain/queue-history.js'
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
  ProviderMessageRef,
  ReceiptCommand,
  RescheduleCommand,
  RetainCommand,
  SettleCommand,
} from '../../ports/outbox-repository.js'
import { enqueueBatch } from '../shared/enqueue-batch.js'
import { FAILED_ATTEMPT, MinuteTally } from '../shared/minute-tally.js'
import { outboxFilter } from '../shared/rows/keys.js'
import { toChannelStats } from '../shared/rows/outbox-rows.js'
import { storableAttempt, storableSettlement } from '../shared/storable-text.js'
import { SqliteAuditLog } from './sqlite-audit-log.js'
import { SqliteChannelRepository } from './sqlite-channel-repository.js'
import { isForeignKeyViolation } from './sqlite-errors.js'
import { outboxRow, toAttempt, toMessage } from './sqlite-rows.js'
import { canAccess, canAccessInfrastructure, insertChecked } from './sqlite-scope.js'
import { perRow } from './sqlite-statement.js'
import type { OutboxTable, SqliteDatabase } from './sqlite-tables.js'

const infra = sql.ref('messaging_outbox.infrastructure_id')
const business = sql.ref('messaging_outbox.business_id')
const inScope = (scope: TenantScope) => canAccess(scope, infra, business)

/** The values an attempt row takes from its report (the rest come from the message's row). */
const ATTEMPT_SLOTS = [
  'id',
  'attempt',
  'workerId',
  'workerHost',
  'startedAt',
  'finishedAt',
  'durationMs',
  'outcome',
  'errorCode',
  'error',
  'providerMessageId',
  'provider',
  'infrastructureId',
  'messageId',
] as const

type DueRow = { infrastructure_id: string; id: string; status: string }

/** Round robin over the tenants' queues (each already in its own order), at most `limit` rows and `perTenant` rounds. */
function roundRobin(queues: readonly DueRow[][], limit: number, perTenant: number): DueRow[] {
  const rows: DueRow[] = []
  for (let round = 0; round < perTenant && rows.length < limit; round++) {
    let took = false
    for (const q of queues) {
      const r = q[round]
      if (r && rows.length < limit) {
        rows.push(r)
        took = true
      }
    }
    if (!took) break
  }
  return rows
}

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
  async enqueueMany(scope: TenantScope, commands: readonly EnqueueCommand[]): Promise<EnqueueOutcome[]> {
    const tally = new MinuteTally()
    const out = await enqueueBatch(
      {
        now: () => this.clock.now(),
        channels: new SqliteChannelRepository(this.db),
        audit: new SqliteAuditLog(this.db),
        insert: async (s, message) => {
          const r = await this.insert(s, message)
          if (r.created) tally.add(message.infrastructureId, transitionDelta(null, 'pending'))
          return r
        },
      },
      scope,
      commands,
    )
    await this.count(scope, tally)
    return out
  }

  /**
   * Adds a batch's changes to the queue's per-minute rollup (domain/queue-history.ts): one
   * upsert per infrastructure of the batch, in the unit's transaction, at the store's minute.
   */
  private async count(scope: TenantScope, tally: MinuteTally): Promise<void> {
    const minute = minuteOf(this.clock.now())
    for (const [infrastructureId, d] of tally.entries()) {
      await insertChecked(
        this.db,
        'messaging_queue_minutes',
        {
          infrastructure_id: infrastructureId,
          minute,
          enqueued: d.enqueued,
          delivered: d.delivered,
          failed_attempts: d.failedAttempts,
          dead: d.dead,
          closed: d.closed,
          reopened: d.reopened,
        },
        canAccessInfrastructure(scope, sql.val(infrastructureId)),
        sql` on conflict (infrastructure_id, minute) do update set
          enqueued = enqueued + excluded.enqueued, delivered = delivered + excluded.delivered,
          failed_attempts = failed_attempts + excluded.failed_attempts, dead = dead + excluded.dead,
          closed = closed + excluded.closed, reopened = reopened + excluded.reopened`,
      )
    }
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
    if (filter.recipient !== undefined) {
      const r = filter.recipient
      q = q.where(
        sql<SqlBool>`(${sql.ref('messaging_outbox.recipient_user_id')} = ${r} or exists (select 1 from json_each(${sql.ref('messaging_outbox.recipients')}) as ${sql.ref('r')} where ${sql.ref('r.value')} = ${r}))`,
      )
    }
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
    if (heads.length === 0) return []
    const dueOf = perRow(
      this.db,
      ['infrastructureId', 'limit'],
      (v) =>
        sql<DueRow>`select ${sql.ref('infrastructure_id')}, ${sql.ref('id')}, ${sql.ref('status')} from ${sql.table('messaging_outbox')} where ${infra} = ${v.infrastructureId} and ${OPEN} and ${claimable(now)} and ${ordered(scope, now)} and ${inScope(scope)} order by ${sql.ref('priority')}, ${sql.ref('available_at')}, ${sql.ref('id')} limit ${v.limit}`,
    )
    // Each tenant's first rows, only as many as the round robin can take from it while every
    // head has that many: reading `perTenant` rows of each of 20 tenants for a claim of 100
    // read 2,000 rows to lease 100 (BENCHMARKS.md, G11). A tenant cut short is read further
    // only when the round robin went past what was read of it, so the claim is the same.
    let fetch = Math.min(perTenant, Math.ceil(options.limit / heads.length))
    const queues: DueRow[][] = []
    for (const h of heads)
      queues.push((await dueOf({ infrastructureId: h.infrastructure_id, limit: fetch })).rows)
    for (;;) {
      const rows = roundRobin(queues, options.limit, perTenant)
      const cut = queues.flatMap((q, i) => (q.length === fetch && fetch < perTenant ? [i] : []))
      // Every queue holds at most `fetch` rows, so a claim that filled up never looked past
      // them; one that did not would have gone on into a cut tenant's next rows.
      if (rows.length === options.limit || cut.length === 0) return this.lease(scope, rows, now, leasedUntil)
      fetch = Math.min(perTenant, fetch * 2)
      for (const i of cut)
        queues[i] = (await dueOf({ infrastructureId: heads[i]!.infrastructure_id, limit: fetch })).rows
    }
  }

  /**
   * Leases the chosen rows, each with its own token (a stale holder's ack can never match
   * the new one), in the claim's order: one statement compiled once and run per row.
   */
  private async lease(
    scope: TenantScope,
    rows: readonly DueRow[],
    now: number,
    leasedUntil: number,
  ): Promise<ClaimedMessage[]> {
    if (rows.length === 0) return []
    const leaseOne = perRow(
      this.db,
      ['infrastructureId', 'id', 'token'],
      (v) =>
        sql<
          Selectable<OutboxTable>
        >`update ${sql.table('messaging_outbox')} set ${sql.ref('status')} = 'processing', ${sql.ref('attempts')} = ${sql.ref('attempts')} + 1, ${sql.ref('lease_token')} = ${v.token}, ${sql.ref('leased_until')} = ${leasedUntil} where ${infra} = ${v.infrastructureId} and ${sql.ref('messaging_outbox.id')} = ${v.id} and ${claimable(now)} and ${inScope(scope)} returning *`,
    )
    const claimed: ClaimedMessage[] = []
    for (const r of rows) {
      assertTransition(r.status as OutboxMessage['status'], 'processing')
      const result = await leaseOne({
        infrastructureId: r.infrastructure_id,
        id: r.id,
        token: this.ids.next(),
      })
      const row = result.rows[0]
      if (row) claimed.push(toMessage(row) as ClaimedMessage)
    }
    return claimed
  }

  async settle(scope: TenantScope, cmd: SettleCommand): Promise<boolean> {
    if (!scope.hasRole('service')) return false
    const ok = await this.settleStatement(scope)(cmd)
    if (ok) {
      const tally = new MinuteTally()
      tally.add(cmd.infrastructureId, transitionDelta('processing', cmd.settlement.status))
      await this.count(scope, tally)
    }
    return ok
  }

  /** Settles one held message; the fence: only the holder of the current lease settles, and only once. */
  private settleStatement(scope: TenantScope): (cmd: SettleCommand) => Promise<boolean> {
    const now = this.clock.now().getTime()
    const run = perRow(
      this.db,
      ['status', 'availableAt', 'lastError', 'settledAt', 'infrastructureId', 'id', 'token'],
      (v) =>
        sql`update ${sql.table('messaging_outbox')} set ${sql.ref('status')} = ${v.status}, ${sql.ref('available_at')} = coalesce(${v.availableAt}, ${sql.ref('available_at')}), ${sql.ref('last_error')} = ${v.lastError}, ${sql.ref('settled_at')} = ${v.settledAt}, ${sql.ref('lease_token')} = null, ${sql.ref('leased_until')} = null where ${infra} = ${v.infrastructureId} and ${sql.ref('messaging_outbox.id')} = ${v.id} and ${sql.ref('status')} = 'processing' and ${sql.ref('lease_token')} = ${v.token} and ${inScope(scope)}`,
    )
    return async (cmd) => {
      const s = storableSettlement(cmd.settlement)
      assertTransition('processing', s.status)
      const result = await run({
        status: s.status,
        availableAt: s.status === 'pending' ? now + s.retryAfterMs : null,
        lastError: s.lastError,
        settledAt: s.status === 'pending' ? null : now,
        infrastructureId: cmd.infrastructureId,
        id: cmd.id,
        token: cmd.leaseToken,
      })
      return (result.numAffectedRows ?? 0n) > 0n
    }
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
    const tally = new MinuteTally()
    for (const item of items) {
      const ok = scope.hasRole('service') && (await this.renew(scope, item.lease))
      if (ok) {
        await this.recordAttempt(scope, item.attempt)
        if (item.attempt.outcome !== 'delivered') tally.add(item.attempt.infrastructureId, FAILED_ATTEMPT)
      }
      held.push(ok)
    }
    await this.count(scope, tally)
    return held
  }

  async completeMany(scope: TenantScope, items: readonly CompleteCommand[]): Promise<boolean[]> {
    if (!scope.hasRole('service')) return items.map(() => false)
    // One unit of work holds them all; each is fenced on its own, as `settle`.
    const settleOne = this.settleStatement(scope)
    const recordOne = this.attemptStatement(scope)
    const done: boolean[] = []
    const tally = new MinuteTally()
    for (const item of items) {
      const ok = await settleOne(item.settle)
      if (ok) {
        await recordOne(item.attempt)
        const infrastructureId = item.settle.infrastructureId
        tally.add(infrastructureId, transitionDelta('processing', item.settle.settlement.status))
        if (item.attempt.outcome !== 'delivered') tally.add(infrastructureId, FAILED_ATTEMPT)
      }
      done.push(ok)
    }
    await this.count(scope, tally)
    return done
  }

  /** Appends one attempt, copied onto the message's own row read under the scope. */
  private recordAttempt(scope: TenantScope, given: DeliveryAttempt): Promise<void> {
    return this.attemptStatement(scope)(given)
  }

  /**
   * INSERT ... SELECT from the message's own row, read under the scope: no row in scope, no
   * attempt; the tenant columns come from the message, not from the caller.
   */
  private attemptStatement(scope: TenantScope): (given: DeliveryAttempt) => Promise<void> {
    const o = (c: string) => sql.ref(`messaging_outbox.${c}`)
    const run = perRow(this.db, ATTEMPT_SLOTS, (v) => {
      const values = [
        ['infrastructure_id', o('infrastructure_id')],
        ['message_id', o('id')],
        ['id', v.id],
        ['business_id', o('business_id')],
        ['attempt', v.attempt],
        ['worker_id', v.workerId],
        ['worker_host', v.workerHost],
        ['started_at', v.startedAt],
        ['finished_at', v.finishedAt],
        ['duration_ms', v.durationMs],
        ['outcome', v.outcome],
        ['error_code', v.errorCode],
        ['error', v.error],
        ['provider_message_id', v.providerMessageId],
        ['provider', v.provider],
      ] as const
      return sql`insert into ${sql.table('messaging_delivery_attempts')} (${sql.join(values.map(([c]) => sql.ref(c)))}) select ${sql.join(values.map(([, x]) => x))} from ${sql.table('messaging_outbox')} where ${o('infrastructure_id')} = ${v.infrastructureId} and ${o('id')} = ${v.messageId} and ${inScope(scope)}`
    })
    return async (given) => {
      const a = storableAttempt(given)
      if (!scope.hasRole('service')) throw new TenantScopeViolationError(a.infrastructureId)
      const result = await run({
        ...a,
        workerHost: a.workerHost ?? null,
        provider: a.provider ?? null,
        startedAt: a.startedAt.getTime(),
        finishedAt: a.finishedAt.getTime(),
      })
      if (Number(result.numAffectedRows ?? 0n) === 0) throw new TenantScopeViolationError(a.infrastructureId)
    }
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
    if (!row) return null
    const tally = new MinuteTally()
    tally.add(row.infrastructure_id, transitionDelta('dead', 'pending'))
    await this.count(scope, tally)
    return toMessage(row)
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
    const tally = new MinuteTally()
    for (const _ of done) tally.add(cmd.infrastructureId, transitionDelta('pending', 'cancelled'))
    await this.count(scope, tally)
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

  async findByProviderMessageId(scope: TenantScope, ref: ProviderMessageRef): Promise<OutboxMessage | null> {
    if (!scope.hasRole('service')) return null
    // The attempts' provider index (v26) finds the few attempts with this id in the tenant.
    const delivered = this.db
      .selectFrom('messaging_delivery_attempts')
      .select('message_id')
      .where('infrastructure_id', '=', ref.infrastructureId)
      .where('provider_message_id', '=', ref.providerMessageId)
      .where('outcome', '=', 'delivered')
    const row = await this.db
      .selectFrom('messaging_outbox')
      .selectAll()
      .where('infrastructure_id', '=', ref.infrastructureId)
      .where('channel_id', '=', ref.channelId)
      .where('id', 'in', delivered)
      .where(inScope(scope))
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst()
    return row ? toMessage(row) : null
  }

  async applyReceipt(scope: TenantScope, cmd: ReceiptCommand): Promise<OutboxMessage | null> {
    if (!scope.hasRole('service')) return null
    const row = await this.db
      .updateTable('messaging_outbox')
      .set({ status: cmd.status })
      .where('infrastructure_id', '=', cmd.infrastructureId)
      .where('id', '=', cmd.id)
      .where('status', '=', 'processed')
      .where(inScope(scope))
      .returningAll()
      .executeTakeFirst()
    return row ? toMessage(row) : null
  }

  async stats(scope: TenantScope, filter: { infrastructureId?: string }): Promise<QueueCounts[]> {
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
      .select(count('confirmed').as('confirmed'))
      .select(count('bounced').as('bounced'))
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
