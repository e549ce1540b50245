import { type Kysely, sql } from 'kysely'
import {
  ChannelDisabledError,
  NotFoundError,
  StorageError,
  TenantScopeViolationError,
} from '../../domain/errors.js'
import { type OutboxMessage, priorityRank } from '../../domain/outbox-message.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { EnqueueCommand, EnqueueOutcome } from '../../ports/outbox-repository.js'
import { checkCommands } from '../shared/enqueue-batch.js'
import { claimsOf } from './claims.js'
import { classify } from './errors.js'
import type { MessagingDatabase, OutboxRow } from './schema.js'
import { toMessage } from './schema.js'

interface EnqueueResultRow {
  ord: number
  outcome: 'created' | 'existing' | 'channel_missing' | 'channel_disabled'
  channel_id: string | null
  max_attempts: number | null
  available_at: Date | null
  existing: Record<string, unknown> | null
}

const date = (v: unknown): Date | null => (v === null || v === undefined ? null : new Date(v as string))

/** An outbox row read back as JSON (`to_jsonb`): timestamps are strings there. */
const fromJson = (j: Record<string, unknown>): OutboxMessage =>
  toMessage({
    ...(j as unknown as OutboxRow),
    created_at: date(j.created_at)!,
    available_at: date(j.available_at)!,
    leased_until: date(j.leased_until),
    settled_at: date(j.settled_at),
  })

/**
 * `enqueueMany` on PostgreSQL: one call of `messaging_enqueue` (sql/0010_database_clock.sql, the notification columns from sql/0021),
 * which sets the claims, resolves the channels, inserts the messages (a relative due time
 * resolved by the database's clock) and their audit entries in one statement. It carries
 * the claims itself, so it is correct inside a unit of work (the same claims again) and
 * alone in autocommit (one round trip, when it is all its unit does: see UnitSession).
 * The rules are those of the other stores (adapters/shared/enqueue-batch.ts), held to
 * them by the repository conformance suite; the scope is checked here first, as there.
 */
export async function enqueueManyStatement(
  db: Kysely<MessagingDatabase>,
  scope: TenantScope,
  commands: readonly EnqueueCommand[],
): Promise<EnqueueOutcome[]> {
  if (commands.length === 0) return []
  checkCommands(scope, commands)
  const claims = claimsOf(scope)
  const call = async (ords: readonly number[]) => {
    const rows = ords.map((ord) => {
      const { message: m, channel, audit, due } = commands[ord]!
      return {
        ord,
        infrastructure_id: m.infrastructureId,
        id: m.id,
        business_id: m.businessId,
        channel_id: 'id' in channel ? channel.id : null,
        channel_key: 'key' in channel ? channel.key : null,
        payload: m.payload,
        recipients: m.recipients,
        idempotency_key: m.idempotencyKey,
        default_max_attempts: commands[ord]!.defaultMaxAttempts,
        created_by: m.createdBy,
        created_at: m.createdAt,
        available_at: 'at' in due ? due.at : null,
        available_after_ms: 'at' in due ? null : Math.max(0, Math.round(due.afterMs)),
        notification_id: m.notification?.id ?? null,
        recipient_user_id: m.notification?.userId ?? null,
        category_key: m.notification?.categoryKey ?? null,
        template_id: m.notification?.templateId ?? null,
        priority: priorityRank(m.priority ?? 'normal'),
        // A null audit_id: the message has no entry of its own (a notification's fan-out).
        audit_id: audit?.id ?? null,
        audit_actor_id: audit?.actorId ?? null,
        audit_actor_role: audit?.actorRole ?? null,
        audit_action: audit?.action ?? null,
        audit_details: audit?.details ?? null,
        audit_at: audit?.at ?? null,
      }
    })
    try {
      const r =
        await sql<EnqueueResultRow>`select * from messaging_enqueue(${claims}, ${JSON.stringify(rows)}::jsonb)`.execute(
          db,
        )
      return r.rows
    } catch (e) {
      const first = commands[ords[0]!]!.message
      throw classify(e, {
        conflict: { entity: 'message', key: first.id },
        refused: () => new TenantScopeViolationError(first.infrastructureId, first.businessId),
      })
    }
  }
  const all = commands.map((_, i) => i)
  const rows = await call(all)
  for (const r of rows) {
    const c = commands[r.ord]!
    if (r.outcome === 'channel_missing') {
      throw new NotFoundError('channel', 'id' in c.channel ? c.channel.id : c.channel.key)
    }
    if (r.outcome === 'channel_disabled') throw new ChannelDisabledError(r.channel_id!)
  }
  const out: (EnqueueOutcome | undefined)[] = new Array(commands.length)
  const firstOfKey = new Map<string, OutboxMessage>()
  const keyOf = (m: EnqueueCommand['message']) =>
    m.idempotencyKey === null
      ? null
      : `${m.infrastructureId}\u0000${m.businessId ?? ''}\u0000${m.idempotencyKey}`
  for (const r of rows) {
    if (r.outcome !== 'created') continue
    const c = commands[r.ord]!
    const message: OutboxMessage = {
      ...c.message,
      notification: c.message.notification ?? null,
      priority: c.message.priority ?? 'normal',
      channelId: r.channel_id!,
      maxAttempts: r.max_attempts!,
      status: 'pending',
      attempts: 0,
      availableAt: r.available_at!,
      leaseToken: null,
      leasedUntil: null,
      lastError: null,
      settledAt: null,
    }
    out[r.ord] = { message, created: true }
    const k = keyOf(c.message)
    if (k !== null) firstOfKey.set(k, message)
  }
  const unseen: number[] = []
  for (const r of rows) {
    if (r.outcome !== 'existing') continue
    if (r.existing) {
      out[r.ord] = { message: fromJson(r.existing), created: false }
      continue
    }
    const k = keyOf(commands[r.ord]!.message)
    const first = k === null ? undefined : firstOfKey.get(k)
    if (first) out[r.ord] = { message: first, created: false }
    else unseen.push(r.ord)
  }
  if (unseen.length > 0) {
    // Taken by a transaction that committed after this statement's snapshot: a new
    // statement sees it (its insert conflicts again and writes nothing).
    for (const r of await call(unseen)) {
      if (r.outcome !== 'existing' || !r.existing) {
        throw new StorageError('idempotency key taken but its message is not visible')
      }
      out[r.ord] = { message: fromJson(r.existing), created: false }
    }
  }
  return out as EnqueueOutcome[]
}
