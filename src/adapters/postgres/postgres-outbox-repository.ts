import { type Kysely, sql } from 'kysely'
import type { ChannelStats, DeliveryAttempt } from '../../domain/delivery.js'
import { NotFoundError, TenantScopeViolationError, ValidationError } from '../../domain/errors.js'
import type { ClaimedMessage, OutboxMessage } from '../../domain/outbox-message.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type {
  ClaimOptions,
  CompleteCommand,
  EnqueueCommand,
  EnqueueOutcome,
  LeaseCommand,
  OutboxDeliveryRepository,
  OutboxListFilter,
  OutboxRepository,
  SettleCommand,
} from '../../ports/outbox-repository.js'
import { advanceFleetCursor, claimBatch, fleetCursor } from './claim.js'
import { classify } from './errors.js'
import { enqueueManyStatement } from './postgres-enqueue.js'
import { json, type MessagingDatabase, type OutboxRow, toAttempt, toMessage } from './schema.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * The outbox on PostgreSQL. Scope and role are enforced by the policies (the repository
 * only shapes the statements); a refused write matches no row or raises 42501.
 */
export class PostgresOutboxRepository implements OutboxRepository, OutboxDeliveryRepository {
  constructor(private readonly db: Kysely<MessagingDatabase>) {}

  /** One statement (`messaging_enqueue`, sql/0008_enqueue.sql): see postgres-enqueue.ts. */
  enqueueMany(scope: TenantScope, commands: readonly EnqueueCommand[]): Promise<EnqueueOutcome[]> {
    return enqueueManyStatement(this.db, scope, commands)
  }

  async enqueue(
    _scope: TenantScope,
    message: OutboxMessage,
  ): Promise<{ message: OutboxMessage; created: boolean }> {
    // The insert policy admits only undelivered rows; say so in the domain's terms.
    if (
      message.status !== 'pending' ||
      message.attempts !== 0 ||
      message.leaseToken !== null ||
      message.leasedUntil !== null ||
      message.settledAt !== null
    ) {
      throw ValidationError.single('status', 'must_be_pending', 'a new message starts pending, unclaimed')
    }
    const refused = () => new TenantScopeViolationError(message.infrastructureId, message.businessId)
    let inserted: OutboxRow | undefined
    try {
      const q = this.db.insertInto('messaging_outbox').values({
        infrastructure_id: message.infrastructureId,
        id: message.id,
        business_id: message.businessId,
        channel_id: message.channelId,
        payload: sql`${json(message.payload)}::jsonb`,
        recipients: message.recipients === null ? null : sql`${json(message.recipients)}::jsonb`,
        idempotency_key: message.idempotencyKey,
        max_attempts: message.maxAttempts,
        created_by: message.createdBy,
        created_at: message.createdAt,
        status: message.status,
        attempts: message.attempts,
        available_at: message.availableAt,
        lease_token: null,
        leased_until: null,
        last_error: message.lastError,
        settled_at: null,
      })
      // A repeated key inserts nothing and returns no row; a concurrent first insert of the
      // same key is waited for (unique index), so exactly one enqueue creates the message.
      inserted = await (message.idempotencyKey === null
        ? q
        : q.onConflict((oc) =>
            oc
              .columns(['infrastructure_id', 'business_id', 'idempotency_key'])
              .where('idempotency_key', 'is not', null)
              .doNothing(),
          )
      )
        .returningAll()
        .executeTakeFirst()
    } catch (e) {
      throw classify(e, {
        conflict: { entity: 'message', key: message.id },
        missing: { entity: 'channel', id: message.channelId },
        refused,
      })
    }
    if (inserted) return { message: toMessage(inserted), created: true }

    // The key was taken. As in the memory adapter, a channel that is not in the message's
    // infrastructure is reported before the idempotent answer.
    const [channel, first] = await Promise.all([
      this.db
        .selectFrom('messaging_channels')
        .select('id')
        .where('infrastructure_id', '=', message.infrastructureId)
        .where('id', '=', message.channelId)
        .executeTakeFirst(),
      this.db
        .selectFrom('messaging_outbox')
        .selectAll()
        .where('infrastructure_id', '=', message.infrastructureId)
        .where((eb) =>
          message.businessId === null
            ? eb('business_id', 'is', null)
            : eb('business_id', '=', message.businessId),
        )
        .where('idempotency_key', '=', message.idempotencyKey)
        .executeTakeFirst(),
    ]).catch((e) => Promise.reject(classify(e)))
    if (!channel) throw new NotFoundError('channel', message.channelId)
    if (!first) throw classify(new Error('idempotency key taken but its message is not visible'))
    return { message: toMessage(first), created: false }
  }

  async findById(_scope: TenantScope, infrastructureId: string, id: string): Promise<OutboxMessage | null> {
    const row = await this.db
      .selectFrom('messaging_outbox')
      .selectAll()
      .where('infrastructure_id', '=', infrastructureId)
      .where('id', '=', id)
      .executeTakeFirst()
      .catch((e) => Promise.reject(classify(e)))
    return row ? toMessage(row) : null
  }

  async list(_scope: TenantScope, filter: OutboxListFilter): Promise<OutboxMessage[]> {
    let q = this.db
      .selectFrom('messaging_outbox as o')
      .selectAll('o')
      .where('o.infrastructure_id', '=', filter.infrastructureId)
    if (filter.businessId !== undefined) {
      const b = filter.businessId
      q = q.where((eb) => (b === null ? eb('o.business_id', 'is', null) : eb('o.business_id', '=', b)))
    }
    if (filter.channelId !== undefined) q = q.where('o.channel_id', '=', filter.channelId)
    if (filter.status !== undefined) q = q.where('o.status', '=', filter.status)
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
    const rows = await q
      .orderBy('o.created_at')
      .orderBy('o.id')
      .limit(filter.limit)
      .execute()
      .catch((e) => Promise.reject(classify(e)))
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
      now: options.now,
      leasedUntil: new Date(options.now.getTime() + options.leaseMs),
      after,
    }).catch((e) => Promise.reject(classify(e)))
    if (worker !== null) advanceFleetCursor(worker, after, rows)
    return rows.map((r) => toMessage(r) as ClaimedMessage)
  }

  async settle(_scope: TenantScope, cmd: SettleCommand): Promise<boolean> {
    // A token that is no uuid was never handed out: it fences like a stale one.
    if (!UUID.test(cmd.leaseToken)) return false
    // Fenced: only the holder of the current lease matches. A stale or repeated ack, a
    // foreign scope or a role other than service (the update policy) matches no row.
    const rows = await this.db
      .updateTable('messaging_outbox')
      .set({
        status: cmd.settlement.status,
        available_at: cmd.settlement.availableAt,
        last_error: cmd.settlement.lastError,
        settled_at: cmd.settlement.settledAt,
        lease_token: null,
        leased_until: null,
      })
      .where('infrastructure_id', '=', cmd.infrastructureId)
      .where('id', '=', cmd.id)
      .where('status', '=', 'processing')
      .where('lease_token', '=', cmd.leaseToken)
      .returning('id')
      .execute()
      .catch((e) => Promise.reject(classify(e)))
    return rows.length > 0
  }

  async renew(_scope: TenantScope, cmd: LeaseCommand & { leasedUntil: Date }): Promise<boolean> {
    if (!UUID.test(cmd.leaseToken)) return false
    const r = await this.db
      .updateTable('messaging_outbox')
      .set({ leased_until: cmd.leasedUntil })
      .where('infrastructure_id', '=', cmd.infrastructureId)
      .where('id', '=', cmd.id)
      .where('status', '=', 'processing')
      .where('lease_token', '=', cmd.leaseToken)
      .executeTakeFirst()
      .catch((e) => Promise.reject(classify(e)))
    return Number(r.numUpdatedRows) > 0
  }

  async release(_scope: TenantScope, cmd: LeaseCommand & { availableAt: Date }): Promise<boolean> {
    if (!UUID.test(cmd.leaseToken)) return false
    const r = await this.db
      .updateTable('messaging_outbox')
      .set({
        status: 'pending',
        attempts: sql`greatest(attempts - 1, 0)`,
        available_at: cmd.availableAt,
        lease_token: null,
        leased_until: null,
      })
      .where('infrastructure_id', '=', cmd.infrastructureId)
      .where('id', '=', cmd.id)
      .where('status', '=', 'processing')
      .where('lease_token', '=', cmd.leaseToken)
      .executeTakeFirst()
      .catch((e) => Promise.reject(classify(e)))
    return Number(r.numUpdatedRows) > 0
  }

  async recordAttempt(scope: TenantScope, attempt: DeliveryAttempt): Promise<void> {
    const refused = () => new TenantScopeViolationError(attempt.infrastructureId)
    if (!scope.hasRole('service')) throw refused()
    // The message's business is copied from the row itself (the policy checks it again): a
    // message the caller cannot see inserts nothing.
    const r = await sql`
      INSERT INTO messaging_delivery_attempts
        (infrastructure_id, message_id, id, business_id, attempt, worker_id, started_at, finished_at,
         duration_ms, outcome, error_code, error, provider_message_id)
      SELECT o.infrastructure_id, o.id, ${attempt.id}, o.business_id, ${attempt.attempt}, ${attempt.workerId},
             ${attempt.startedAt}, ${attempt.finishedAt}, ${attempt.durationMs}, ${attempt.outcome},
             ${attempt.errorCode}, ${attempt.error}, ${attempt.providerMessageId}
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
    const input = sent.map(({ i, item: { settle: c, attempt: a } }) => ({
      n: i,
      infrastructure_id: c.infrastructureId,
      id: c.id,
      lease_token: c.leaseToken,
      status: c.settlement.status,
      available_at: c.settlement.availableAt,
      last_error: c.settlement.lastError,
      settled_at: c.settlement.settledAt,
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
    }))
    // One statement for the batch (graphile-worker completes a batch the same way): each row
    // is fenced by its own token exactly as in `settle`, and only the rows that were settled
    // get their attempt, with the business copied from the row (the insert policy checks it).
    // A per-message unit of work costs 4 round trips and a commit; this costs one of each.
    const refused = () => new TenantScopeViolationError(sent[0]!.item.settle.infrastructureId)
    const { rows } = await sql<{ n: number }>`
      WITH input AS (
        SELECT * FROM jsonb_to_recordset(${json(input)}::jsonb) AS i (
          n int, infrastructure_id uuid, id uuid, lease_token uuid, status text,
          available_at timestamptz, last_error text, settled_at timestamptz, attempt_id uuid,
          attempt int, worker_id uuid, started_at timestamptz, finished_at timestamptz,
          duration_ms int, outcome text, error_code text, error text, provider_message_id text,
          worker_host text)
      ),
      settled AS (
        UPDATE messaging_outbox AS o
           SET status = i.status, available_at = i.available_at, last_error = i.last_error,
               settled_at = i.settled_at, lease_token = NULL, leased_until = NULL
          FROM input AS i
         WHERE o.infrastructure_id = i.infrastructure_id AND o.id = i.id
           AND o.status = 'processing' AND o.lease_token = i.lease_token
        RETURNING i.n, o.business_id
      ),
      recorded AS (
        INSERT INTO messaging_delivery_attempts
          (infrastructure_id, message_id, id, business_id, attempt, worker_id, started_at, finished_at,
           duration_ms, outcome, error_code, error, provider_message_id, worker_host)
        SELECT i.infrastructure_id, i.id, i.attempt_id, s.business_id, i.attempt, i.worker_id,
               i.started_at, i.finished_at, i.duration_ms, i.outcome, i.error_code, i.error,
               i.provider_message_id, i.worker_host
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
      ])
      .where('infrastructure_id', '=', infrastructureId)
      .where('message_id', '=', messageId)
      .orderBy(sql`seq`)
      .execute()
      .catch((e) => Promise.reject(classify(e)))
    return rows.map(toAttempt)
  }

  async redrive(
    scope: TenantScope,
    cmd: { infrastructureId: string; id: string; now: Date },
  ): Promise<OutboxMessage | null> {
    if (!scope.hasRole('service', 'infra_admin')) return null
    // Policies: service may change delivery state; infra_admin only failed | dead -> pending
    // with fresh attempts (0006). The last error stays, for the record.
    const row = await this.db
      .updateTable('messaging_outbox')
      .set({ status: 'pending', attempts: 0, available_at: cmd.now, settled_at: null })
      .where('infrastructure_id', '=', cmd.infrastructureId)
      .where('id', '=', cmd.id)
      .where('status', 'in', ['failed', 'dead'])
      .returningAll()
      .executeTakeFirst()
      .catch((e) => Promise.reject(classify(e)))
    return row ? toMessage(row) : null
  }

  async stats(
    _scope: TenantScope,
    filter: { infrastructureId?: string; now: Date },
  ): Promise<ChannelStats[]> {
    // An operator's query, not the hot path: it counts the tenant's rows by status (prune
    // keeps the settled part bounded). The oldest due pending message comes from the
    // ready index's order.
    const { rows } = await sql<{
      infrastructure_id: string
      channel_id: string
      pending: number
      in_flight: number
      processed: number
      failed: number
      dead: number
      oldest: Date | null
    }>`
      SELECT o.infrastructure_id, o.channel_id,
             count(*) FILTER (WHERE o.status = 'pending')::int AS pending,
             count(*) FILTER (WHERE o.status = 'processing')::int AS in_flight,
             count(*) FILTER (WHERE o.status = 'processed')::int AS processed,
             count(*) FILTER (WHERE o.status = 'failed')::int AS failed,
             count(*) FILTER (WHERE o.status = 'dead')::int AS dead,
             min(o.available_at) FILTER (WHERE o.status = 'pending' AND o.available_at <= ${filter.now}) AS oldest
        FROM messaging_outbox AS o
       WHERE ${filter.infrastructureId === undefined ? sql`true` : sql`o.infrastructure_id = ${filter.infrastructureId}`}
       GROUP BY o.infrastructure_id, o.channel_id
       ORDER BY o.infrastructure_id, o.channel_id`
      .execute(this.db)
      .catch((e) => Promise.reject(classify(e)))
    return rows.map((r) => ({
      infrastructureId: r.infrastructure_id,
      channelId: r.channel_id,
      pending: r.pending,
      inFlight: r.in_flight,
      processed: r.processed,
      failed: r.failed,
      dead: r.dead,
      oldestPendingAgeMs: r.oldest === null ? null : Math.max(0, filter.now.getTime() - r.oldest.getTime()),
    }))
  }
}
