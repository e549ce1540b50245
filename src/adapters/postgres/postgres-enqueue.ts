import { CompiledQuery, type Kysely } from 'kysely'
import { ChannelDigestsSignal } from '../../domain/digest.js'
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
import { namedStatement } from './named-statements.js'
import { enqueueFanOut, isFanOut } from './postgres-fanout.js'
import type { MessagingDatabase, OutboxRow } from './schema.js'
import { toMessage } from './schema.js'

interface EnqueueResultRow {
  ord: number
  outcome: 'created' | 'existing' | 'channel_missing' | 'channel_disabled' | 'channel_digests'
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
 * The enqueue, one typed array per column (sql/0045_enqueue_arrays.sql, the trace context
 * from sql/0060, the priorities from sql/0070), run as a named prepared statement: parsed and planned once per
 * connection, not on every call. $25 and $26 (traceparent, tracestate) are null, not arrays
 * of nulls, when no message of the call was traced (no OpenTelemetry SDK in the host); $27
 * (priorities) is null when every message of the call is `normal`, $28 (ordering keys, sql/0071_enqueue_ordering_keys)
 * null when no message of the call has one.
 */
const ENQUEUE = namedStatement(
  'messaging_enqueue_arrays_2',
  `select ord, outcome, channel_id, max_attempts, available_at, existing from messaging_enqueue_arrays(
    $1, $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::text[], $7::jsonb[], $8::jsonb[], $9::text[],
    $10::int[], $11::uuid[], $12::timestamptz[], $13::timestamptz[], $14::bigint[], $15::uuid[], $16::uuid[],
    $17::text[], $18::uuid[], $19::uuid[], $20::uuid[], $21::text[], $22::text[], $23::jsonb[], $24::timestamptz[],
    $25::text[], $26::text[], $27::smallint[], $28::text[])`,
)

/** A JSON value as node-postgres sends an element of a jsonb[] (an array element would otherwise become a sub-array). */
const json = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v))

/** The columns of the messages at `ords`, in that order, one array each, as ENQUEUE takes them. */
function arraysOf(commands: readonly EnqueueCommand[], ords: readonly number[]): unknown[] {
  const cols: unknown[][] = Array.from({ length: 23 }, () => new Array(ords.length))
  ords.forEach((ord, i) => {
    const { message: m, channel, audit, due, defaultMaxAttempts } = commands[ord]!
    const row = [
      m.infrastructureId,
      m.id,
      m.businessId,
      'id' in channel ? channel.id : null,
      'key' in channel ? channel.key : null,
      JSON.stringify(m.payload ?? null),
      json(m.recipients),
      m.idempotencyKey,
      defaultMaxAttempts,
      m.createdBy,
      m.createdAt,
      'at' in due ? due.at : null,
      'at' in due ? null : Math.max(0, Math.round(due.afterMs)),
      m.notification?.id ?? null,
      m.notification?.userId ?? null,
      m.notification?.categoryKey ?? null,
      m.notification?.templateId ?? null,
      // A null audit id: the message has no entry of its own (a notification's fan-out).
      audit?.id ?? null,
      audit?.actorId ?? null,
      audit?.actorRole ?? null,
      audit?.action ?? null,
      json(audit?.details),
      audit?.at ?? null,
    ]
    for (let c = 0; c < row.length; c++) cols[c]![i] = row[c]
  })
  return [
    ...cols,
    ...traceArraysOf(commands, ords),
    priorityArrayOf(commands, ords),
    orderingKeysOf(commands, ords),
  ]
}

/** The ordering keys when a message of the call has one, else null: nothing drawn, nothing sent. */
function orderingKeysOf(
  commands: readonly EnqueueCommand[],
  ords: readonly number[],
): (string | null)[] | null {
  if (!ords.some((ord) => commands[ord]!.message.orderingKey)) return null
  return ords.map((ord) => commands[ord]!.message.orderingKey ?? null)
}

/** The priorities (ranks) when a message of the call is not `normal`, else null: the column's default. */
function priorityArrayOf(commands: readonly EnqueueCommand[], ords: readonly number[]): number[] | null {
  if (ords.every((ord) => (commands[ord]!.message.priority ?? 'normal') === 'normal')) return null
  return ords.map((ord) => priorityRank(commands[ord]!.message.priority ?? 'normal'))
}

/** The trace context columns: two arrays when a message of the call carries one, else two nulls. */
function traceArraysOf(commands: readonly EnqueueCommand[], ords: readonly number[]): [unknown, unknown] {
  if (!ords.some((ord) => commands[ord]!.message.traceContext)) return [null, null]
  const parents = ords.map((ord) => commands[ord]!.message.traceContext?.traceparent ?? null)
  const states = ords.map((ord) => commands[ord]!.message.traceContext?.tracestate ?? null)
  return [parents, states]
}

/**
 * `enqueueMany` on PostgreSQL: one call of `messaging_enqueue_arrays` (sql/0045_enqueue_arrays.sql),
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
  // A notification's fan-out: its shared values sent once (sql/0072), not once per message.
  if (isFanOut(commands)) return enqueueFanOut(db, scope, commands)
  const claims = claimsOf(scope)
  const call = async (ords: readonly number[]) => {
    const params = arraysOf(commands, ords)
    try {
      const r = await db.executeQuery<EnqueueResultRow>(CompiledQuery.raw(ENQUEUE, [claims, ...params]))
      // The function numbers the messages of this call from 0; `ords` maps them back.
      return r.rows.map((row) => ({ ...row, ord: ords[row.ord]! }))
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
    // Nothing written (sql/0102): the caller folds the message into the channel's digest.
    if (r.outcome === 'channel_digests') throw new ChannelDigestsSignal(r.channel_id!)
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
      orderingKey: c.message.orderingKey ?? null,
      traceContext: c.message.traceContext ?? null,
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
