import { type Kysely, sql } from 'kysely'
import type { DeliveryAttempt, QueueCounts } from '../../domain/delivery.js'
import { TenantScopeViolationError } from '../../domain/errors.js'
import { type ClaimedMessage, type OutboxMessage, retryDelayOf } from '../../domain/outbox-message.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
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
import { outboxFilter } from '../shared/rows/keys.js'
import { type StatsRow, toChannelStats } from '../shared/rows/outbox-rows.js'
import { storableAttempt, storableSettlement } from '../shared/storable-text.js'
import { advanceFleetCursor, claimBatch, fleetCursor } from './claim.js'
import { classify } from './errors.js'
import { notificationInstant } from './notification-instant.js'
import { enqueueManyStatement } from './postgres-enqueue.js'
import { json, type MessagingDatabase, type OutboxRow, toAttempt, toMessage } from './schema.js'
import type { SelfContainedStatements } from './unit-session.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** `n` milliseconds after the database's now. */
const fromNow = (ms: number) =>
  sql<Date>`messaging_now() + ${Math.max(0, Math.round(ms))} * interval '1 millisecond'`

/** The rows of `infrastructureId` that `target` names, as a condition over `o`. */
const namedBy = (infrastructureId: string, target: CancelTarget) =>
  sql<boolean>`o.infrastructure_id = ${infrastructureId} AND ${
    'messageId' in target
      ? sql`o.id = ${target.messageId}`
      : 'notificationId' in target
        ? sql`o.created_at = ${notificationInstant(infrastructureId, target.notificationId)}
              AND o.notification_id = ${target.notificationId}`
        : sql`o.idempotency_key = ${target.idempotencyKey}
              AND o.business_id IS NOT DISTINCT FROM ${target.businessId}::uuid`
  }`

/**
 * The outbox on PostgreSQL. Scope and role are enforced by the policies (the repository
 * only shapes the statements); a refused write matches no row or raises 42501. Every time
 * is the database's (messaging_now(), sql/0010): the callers pass durations. Statement
 * errors are classified once, by the unit of work.
 */
export class PostgresOutboxRepository implements OutboxRepository {
  constructor(
    private readonly db: Kysely<MessagingDatabase>,
    private readonly statements: SelfContainedStatements,
  ) {}

  /**
   * One statement (`messaging_enqueue_arrays`): see postgres-enqueue.ts. Not `async`: when the
   * unit's work is this call alone, the promise it returns is the statement's own, which
   * is how the unit of work knows it may run it in autocommit.
   */
  enqueueMany(scope: TenantScope, commands: readonly EnqueueCommand[]): Promise<EnqueueOutcome[]> {
    return this.statements.selfContained((db) => enqueueManyStatement(db, scope, commands))
  }

  async findById(_scope: TenantScope, infrastructureId: string, id: string): Promise<OutboxMessage | null> {
    const row = await this.db
      .selectFrom('messaging_outbox')
      .selectAll()
      .where('infrastructure_id', '=', infrastructureId)
      .where('id', '=', id)
      .executeTakeFirst()
    return row ? toMessage(row) : null
  }

  async list(_scope: TenantScope, filter: OutboxListFilter): Promise<OutboxMessage[]> {
    let q = this.db.selectFrom('messaging_outbox as o').selectAll('o').where(outboxFilter(filter))
    if (filter.recipient !== undefined) {
      // Compared as text: a recipient that is an address, not a user id, is no cast error.
      const r = filter.recipient
      q = q.where(
        sql<boolean>`(o.recipient_user_id::text = ${r} OR o.recipients @> jsonb_build_array(${r}::text))`,
      )
    }
    if (filter.after !== undefined) {
      // Keyset: rows after the cursor in (created_at, id) order. A cursor the caller cannot
      // see yields no row, so the comparison is null and the page is empty.
      const after = filter.after
      q = q.where(
        sql<boolean>`(o.created_at, o.id) > (
          SELECT a.created_at, a.id FROM messaging_outbox AS a
           WHERE a.infrastructure_id = ${filter.infrastructureId} AND a.id = ${after})`,
      )
    }
    const rows = await q.orderBy('o.created_at').orderBy('o.id').limit(filter.limit).execute()
    return rows.map(toMessage)
  }

  async claim(scope: TenantScope, options: ClaimOptions): Promise<ClaimedMessage[]> {
    if (options.limit <= 0 || !scope.hasRole('service')) return []
    // The fleet worker has no grants: it finds the tenants with open messages itself.
    const infrastructureIds =
      options.infrastructureId !== undefined
        ? [options.infrastructureId]
        : scope.isFleet
          ? null
          : scope.infrastructureIds()
    if (infrastructureIds !== null && infrastructureIds.length === 0) return []
    // The fleet rotates over the tenants from where its previous claim stopped.
    const worker = infrastructureIds === null ? scope.principal.userId : null
    const after = worker === null ? null : fleetCursor(worker)
    const rows = await claimBatch(this.db, {
      infrastructureIds,
      excludeInfrastructureIds: options.excludeInfrastructureIds ?? [],
      limit: options.limit,
      perTenantLimit: options.perTenantLimit ?? options.limit,
      leaseMs: options.leaseMs,
      after,
    })
    if (worker !== null) advanceFleetCursor(worker, after, rows)
    return rows.map((r) => toMessage(r) as ClaimedMessage)
  }

  async settle(_scope: TenantScope, cmd: SettleCommand): Promise<boolean> {
    // A token that is no uuid was never handed out: it fences like a stale one.
    if (!UUID.test(cmd.leaseToken)) return false
    const s = storableSettlement(cmd.settlement)
    const retry = retryDelayOf(s)
    // Fenced: only the holder of the current lease matches. A stale or repeated ack, a
    // foreign scope or a role other than service (the update policy) matches no row.
    const rows = await this.db
      .updateTable('messaging_outbox')
      .set({
        status: s.status,
        ...(retry !== null && { available_at: fromNow(retry) }),
        last_error: s.lastError,
        settled_at: retry === null ? sql<Date>`messaging_now()` : null,
        lease_token: null,
        leased_until: null,
      })
      .where('infrastructure_id', '=', cmd.infrastructureId)
      .where('id', '=', cmd.id)
      .where('status', '=', 'processing')
      .where('lease_token', '=', cmd.leaseToken)
      .returning('id')
      .execute()
    return rows.length > 0
  }

  /** A held message's fence: still `processing` under this token. */
  private held(cmd: LeaseCommand) {
    return this.db
      .updateTable('messaging_outbox')
      .where('infrastructure_id', '=', cmd.infrastructureId)
      .where('id', '=', cmd.id)
      .where('status', '=', 'processing')
      .where('lease_token', '=', cmd.leaseToken)
  }

  async renew(_scope: TenantScope, cmd: LeaseCommand & { leaseMs: number }): Promise<boolean> {
    if (!UUID.test(cmd.leaseToken)) return false
    const r = await this.held(cmd)
      .set({ leased_until: fromNow(cmd.leaseMs) })
      .executeTakeFirst()
    return Number(r.numUpdatedRows) > 0
  }

  async release(_scope: TenantScope, cmd: LeaseCommand & { delayMs: number }): Promise<boolean> {
    if (!UUID.test(cmd.leaseToken)) return false
    const r = await this.held(cmd)
      .set({
        status: 'pending',
        attempts: sql`greatest(attempts - 1, 0)`,
        available_at: fromNow(cmd.delayMs),
        lease_token: null,
        leased_until: null,
      })
      .executeTakeFirst()
    return Number(r.numUpdatedRows) > 0
  }

  async retainMany(scope: TenantScope, items: readonly RetainCommand[]): Promise<boolean[]> {
    const held: boolean[] = []
    for (const item of items) {
      const ok = scope.hasRole('service') && (await this.renew(scope, item.lease))
      if (ok) await this.recordAttempt(item.attempt)
      held.push(ok)
    }
    return held
  }

  /** Appends one attempt of a message whose lease was just extended under the scope. */
  private async recordAttempt(given: DeliveryAttempt): Promise<void> {
    const attempt = storableAttempt(given)
    const refused = () => new TenantScopeViolationError(attempt.infrastructureId)
    // The message's business is copied from the row itself (the policy checks it again): a
    // message the caller cannot see inserts nothing.
    const r = await sql`
      INSERT INTO messaging_delivery_attempts
        (infrastructure_id, message_id, id, business_id, attempt, worker_id, started_at, finished_at,
         duration_ms, outcome, error_code, error, provider_message_id, worker_host, provider)
      SELECT o.infrastructure_id, o.id, ${attempt.id}, o.business_id, ${attempt.attempt}, ${attempt.workerId},
             ${attempt.startedAt}, ${attempt.finishedAt}, ${attempt.durationMs}, ${attempt.outcome},
             ${attempt.errorCode}, ${attempt.error}, ${attempt.providerMessageId}, ${attempt.workerHost},
             ${attempt.provider ?? null}
        FROM messaging_outbox AS o
       WHERE o.infrastructure_id = ${attempt.infrastructureId} AND o.id = ${attempt.messageId}`
      .execute(this.db)
      .catch((e) => Promise.reject(classify(e, { refused })))
    if (Number(r.numAffectedRows ?? 0) === 0) throw refused()
  }

  async completeMany(scope: TenantScope, items: readonly CompleteCommand[]): Promise<boolean[]> {
    const done = items.map(() => false)
    if (items.length === 0 || !scope.hasRole('service')) return done
    // A token that is no uuid was never handed out; a message named twice is settled by its
    // first item only (as two acks in a row would be).
    const seen = new Set<string>()
    const sent: Array<{ i: number; item: CompleteCommand }> = []
    items.forEach((item, i) => {
      const key = `${item.settle.infrastructureId}/${item.settle.id}`
      if (!UUID.test(item.settle.leaseToken) || seen.has(key)) return
      seen.add(key)
      sent.push({ i, item })
    })
    if (sent.length === 0) return done
    const input = sent.map(({ i, item: { settle: c, attempt } }) => {
      const s = storableSettlement(c.settlement)
      const a = storableAttempt(attempt)
      return {
        n: i,
        infrastructure_id: c.infrastructureId,
        id: c.id,
        lease_token: c.leaseToken,
        status: s.status,
        retry_after_ms: retryDelayOf(s),
        last_error: s.lastError,
        attempt_id: a.id,
        attempt: a.attempt,
        worker_id: a.workerId,
        worker_host: a.workerHost,
        started_at: a.startedAt,
        finished_at: a.finishedAt,
        duration_ms: a.durationMs,
        outcome: a.outcome,
        error_code: a.errorCode,
        error: a.error,
        provider_message_id: a.providerMessageId,
        provider: a.provider ?? null,
      }
    })
    // One statement for the batch (graphile-worker completes a batch the same way): each row
    // is fenced by its own token exactly as in `settle`, and only the rows that were settled
    // get their attempt, with the business copied from the row (the insert policy checks it).
    // A per-message unit of work costs 4 round trips and a commit; this costs one of each.
    const refused = () => new TenantScopeViolationError(sent[0]!.item.settle.infrastructureId)
    const { rows } = await sql<{ n: number }>`
      WITH input AS (
        SELECT * FROM jsonb_to_recordset(${json(input)}::jsonb) AS i (
          n int, infrastructure_id uuid, id uuid, lease_token uuid, status text, retry_after_ms bigint,
          last_error text, attempt_id uuid, attempt int, worker_id uuid, started_at timestamptz,
          finished_at timestamptz, duration_ms int, outcome text, error_code text, error text,
          provider_message_id text, worker_host text, provider text)
      ),
      settled AS (
        UPDATE messaging_outbox AS o
           SET status = i.status,
               available_at = CASE WHEN i.retry_after_ms IS NULL THEN o.available_at
                                   ELSE messaging_now() + i.retry_after_ms * interval '1 millisecond' END,
               last_error = i.last_error,
               settled_at = CASE WHEN i.retry_after_ms IS NULL THEN messaging_now() END,
               lease_token = NULL, leased_until = NULL
          FROM input AS i
         WHERE o.infrastructure_id = i.infrastructure_id AND o.id = i.id
           AND o.status = 'processing' AND o.lease_token = i.lease_token
        RETURNING i.n, o.business_id
      ),
      recorded AS (
        INSERT INTO messaging_delivery_attempts
          (infrastructure_id, message_id, id, business_id, attempt, worker_id, started_at, finished_at,
           duration_ms, outcome, error_code, error, provider_message_id, worker_host, provider)
        SELECT i.infrastructure_id, i.id, i.attempt_id, s.business_id, i.attempt, i.worker_id,
               i.started_at, i.finished_at, i.duration_ms, i.outcome, i.error_code, i.error,
               i.provider_message_id, i.worker_host, i.provider
          FROM settled AS s JOIN input AS i ON i.n = s.n
         ORDER BY i.n
      )
      SELECT s.n FROM settled AS s`
      .execute(this.db)
      .catch((e) => Promise.reject(classify(e, { refused })))
    for (const r of rows) done[r.n] = true
    return done
  }

  async listAttempts(
    _scope: TenantScope,
    infrastructureId: string,
    messageId: string,
  ): Promise<DeliveryAttempt[]> {
    const rows = await this.db
      .selectFrom('messaging_delivery_attempts')
      .select([
        'infrastructure_id',
        'message_id',
        'id',
        'business_id',
        'attempt',
        'worker_id',
        'started_at',
        'finished_at',
        'duration_ms',
        'outcome',
        'error_code',
        'error',
        'provider_message_id',
        'worker_host',
        'provider',
      ])
      .where('infrastructure_id', '=', infrastructureId)
      .where('message_id', '=', messageId)
      .orderBy(sql`seq`)
      .execute()
    return rows.map(toAttempt)
  }

  async redrive(
    scope: TenantScope,
    cmd: { infrastructureId: string; id: string },
  ): Promise<OutboxMessage | null> {
    if (!scope.hasRole('service', 'infra_admin')) return null
    // Policies: service may change delivery state; infra_admin only failed | dead -> pending
    // with fresh attempts (0006). The last error stays, for the record.
    const row = await this.db
      .updateTable('messaging_outbox')
      .set({ status: 'pending', attempts: 0, available_at: sql<Date>`messaging_now()`, settled_at: null })
      .where('infrastructure_id', '=', cmd.infrastructureId)
      .where('id', '=', cmd.id)
      .where('status', 'in', ['failed', 'dead'])
      .returningAll()
      .executeTakeFirst()
    return row ? toMessage(row) : null
  }

  async cancel(scope: TenantScope, cmd: CancelCommand): Promise<CancelResult> {
    if (!scope.hasRole('service', 'infra_admin')) return { cancelled: [], kept: [] }
    // A malformed id names no row (the column is a uuid: compared as text it would raise).
    const ids = 'messageId' in cmd.target ? [cmd.target.messageId] : []
    if ('notificationId' in cmd.target) ids.push(cmd.target.notificationId)
    if (!UUID.test(cmd.infrastructureId) || ids.some((id) => !UUID.test(id)))
      return { cancelled: [], kept: [] }
    const named = namedBy(cmd.infrastructureId, cmd.target)
    // One row at a time is decided under its row lock: a claim that locked a row first makes
    // this statement wait and re-check it, now held under a live lease, so it is kept; a
    // claim that comes after finds it cancelled. Policies: service may change delivery
    // state; infra_admin only what 0050 admits (the same rows, left cancelled).
    const done = await sql<OutboxRow>`
      UPDATE messaging_outbox AS o
         SET status = 'cancelled', lease_token = NULL, leased_until = NULL, settled_at = messaging_now()
       WHERE ${named}
         AND (o.status = 'pending' OR (o.status = 'processing' AND o.leased_until <= messaging_now()))
      RETURNING o.*`.execute(this.db)
    const cancelledIds = new Set(done.rows.map((r) => r.id))
    const all = await sql<OutboxRow>`
      SELECT o.* FROM messaging_outbox AS o WHERE ${named} ORDER BY o.created_at, o.id`.execute(this.db)
    const result: { cancelled: OutboxMessage[]; kept: OutboxMessage[] } = { cancelled: [], kept: [] }
    for (const row of all.rows)
      (cancelledIds.has(row.id) ? result.cancelled : result.kept).push(toMessage(row))
    return result
  }

  async reschedule(scope: TenantScope, cmd: RescheduleCommand): Promise<OutboxMessage | null> {
    if (!scope.hasRole('service', 'infra_admin')) return null
    if (!UUID.test(cmd.infrastructureId) || !UUID.test(cmd.id)) return null
    const row = await this.db
      .updateTable('messaging_outbox')
      .set({ available_at: 'at' in cmd.due ? cmd.due.at : fromNow(cmd.due.afterMs) })
      .where('infrastructure_id', '=', cmd.infrastructureId)
      .where('id', '=', cmd.id)
      .where('status', '=', 'pending')
      .returningAll()
      .executeTakeFirst()
    return row ? toMessage(row) : null
  }

  async findByProviderMessageId(scope: TenantScope, ref: ProviderMessageRef): Promise<OutboxMessage | null> {
    if (!scope.hasRole('service')) return null
    if (!UUID.test(ref.infrastructureId) || !UUID.test(ref.channelId)) return null
    // The attempts' provider index (sql/0140) finds the few attempts with this id in the
    // tenant; both tables' policies decide what the caller sees, so another tenant's message
    // with the same provider id is never found.
    const { rows } = await sql<OutboxRow>`
      SELECT o.* FROM messaging_outbox AS o
       WHERE o.infrastructure_id = ${ref.infrastructureId} AND o.channel_id = ${ref.channelId}
         AND o.id IN (SELECT a.message_id FROM messaging_delivery_attempts AS a
                       WHERE a.infrastructure_id = ${ref.infrastructureId}
                         AND a.provider_message_id = ${ref.providerMessageId}
                         AND a.outcome = 'delivered')
       ORDER BY o.created_at DESC, o.id DESC
       LIMIT 1`.execute(this.db)
    return rows[0] ? toMessage(rows[0]) : null
  }

  async applyReceipt(scope: TenantScope, cmd: ReceiptCommand): Promise<OutboxMessage | null> {
    if (!scope.hasRole('service')) return null
    if (!UUID.test(cmd.infrastructureId) || !UUID.test(cmd.id)) return null
    // Policies: service may change delivery state; the transition guard (sql/0140) admits
    // processed -> confirmed | bounced only.
    const row = await this.db
      .updateTable('messaging_outbox')
      .set({ status: cmd.status })
      .where('infrastructure_id', '=', cmd.infrastructureId)
      .where('id', '=', cmd.id)
      .where('status', '=', 'processed')
      .returningAll()
      .executeTakeFirst()
    return row ? toMessage(row) : null
  }

  async stats(_scope: TenantScope, filter: { infrastructureId?: string }): Promise<QueueCounts[]> {
    // An operator's query, not the hot path: it counts the tenant's rows by status (prune
    // keeps the settled part bounded). The oldest due pending message's age is the
    // database's now minus its due time.
    const { rows } = await sql<StatsRow>`
      SELECT o.infrastructure_id, o.channel_id,
             count(*) FILTER (WHERE o.status = 'pending')::int AS pending,
             count(*) FILTER (WHERE o.status = 'processing')::int AS in_flight,
             count(*) FILTER (WHERE o.status = 'processed')::int AS processed,
             count(*) FILTER (WHERE o.status = 'failed')::int AS failed,
             count(*) FILTER (WHERE o.status = 'dead')::int AS dead,
             count(*) FILTER (WHERE o.status = 'cancelled')::int AS cancelled,
             count(*) FILTER (WHERE o.status = 'confirmed')::int AS confirmed,
             count(*) FILTER (WHERE o.status = 'bounced')::int AS bounced,
             floor(extract(epoch FROM messaging_now() - min(o.available_at)
                     FILTER (WHERE o.status = 'pending' AND o.available_at <= messaging_now())) * 1000)::float8
               AS oldest_pending_age_ms
        FROM messaging_outbox AS o
       WHERE ${filter.infrastructureId === undefined ? sql`true` : sql`o.infrastructure_id = ${filter.infrastructureId}`}
       GROUP BY o.infrastructure_id, o.channel_id
       ORDER BY o.infrastructure_id, o.channel_id`.execute(this.db)
    return rows.map(toChannelStats)
  }
}
