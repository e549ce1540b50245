import { type Kysely, sql } from 'kysely'
import { NotFoundError, TenantScopeViolationError, ValidationError } from '../../domain/errors.js'
import type { ClaimedMessage, OutboxMessage } from '../../domain/outbox-message.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type {
  ClaimOptions,
  OutboxListFilter,
  OutboxRepository,
  SettleCommand,
} from '../../ports/outbox-repository.js'
import { claimBatch } from './claim.js'
import { classify } from './errors.js'
import { json, type MessagingDatabase, type OutboxRow, toMessage } from './schema.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export class PostgresOutboxRepository implements OutboxRepository {
  constructor(private readonly db: Kysely<MessagingDatabase>) {}

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
    const infrastructureIds =
      options.infrastructureId !== undefined ? [options.infrastructureId] : scope.infrastructureIds()
    if (options.limit <= 0 || infrastructureIds.length === 0) return []
    const rows = await claimBatch(this.db, {
      infrastructureIds,
      limit: options.limit,
      now: options.now,
      leasedUntil: new Date(options.now.getTime() + options.leaseMs),
    }).catch((e) => Promise.reject(classify(e)))
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
}
