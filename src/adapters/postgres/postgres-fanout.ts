import { CompiledQuery, type Kysely } from 'kysely'
import { ChannelDisabledError, NotFoundError, TenantScopeViolationError } from '../../domain/errors.js'
import { type OutboxMessage, priorityRank } from '../../domain/outbox-message.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { EnqueueCommand, EnqueueOutcome } from '../../ports/outbox-repository.js'
import { claimsOf } from './claims.js'
import { classify } from './errors.js'
import { namedStatement } from './named-statements.js'
import type { MessagingDatabase } from './schema.js'

interface FanOutResultRow {
  channel_id: string
  outcome: 'created' | 'channel_missing' | 'channel_disabled' | 'not_written'
  max_attempts: number
  available_at: Date
}

/** sql/0072_enqueue_fanout.sql, as a named prepared statement (parsed and planned once per connection). */
const FAN_OUT = namedStatement(
  'messaging_enqueue_fanout_1',
  `select channel_id, outcome, max_attempts, available_at from messaging_enqueue_fanout(
    $1, $2::uuid, $3::uuid, $4::jsonb, $5::uuid, $6::timestamptz, $7::timestamptz, $8::bigint, $9::int,
    $10::smallint, $11::text, $12::text, $13::uuid, $14::text, $15::uuid[], $16::uuid[], $17::uuid[],
    $18::text[], $19::uuid[])`,
)

const sameDue = (a: EnqueueCommand['due'], b: EnqueueCommand['due']): boolean =>
  'at' in a ? 'at' in b && a.at.getTime() === b.at.getTime() : 'afterMs' in b && a.afterMs === b.afterMs

/**
 * The message fields `messaging_enqueue_fanout` writes. A message with any other field set
 * (one added to NewOutboxMessage later) is not taken for a fan-out, so nothing of it is lost.
 */
const FAN_OUT_FIELDS = new Set([
  'id',
  'infrastructureId',
  'businessId',
  'payload',
  'recipients',
  'idempotencyKey',
  'createdBy',
  'createdAt',
  'notification',
  'priority',
  'traceContext',
])

/** Without Object.entries: its arrays of pairs, a dozen per message, were garbage for the collector. */
function onlyFanOutFields(m: object): boolean {
  for (const k in m) {
    if ((m as Record<string, unknown>)[k] != null && !FAN_OUT_FIELDS.has(k)) return false
  }
  return true
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * A uuid[] parameter as its array literal, `{a,b,...}`, or null when an element is not a
 * uuid (or, where `nulls` allows, null). pg would quote and escape each element (three
 * strings per element, 100,000 elements a fan-out of 20,000: about a tenth of the notify's
 * client CPU in a profile of G14); a uuid needs neither. The caller passes the array as
 * it is when this answers null, so a malformed id still meets the cast's own error.
 */
function uuidArrayLiteral(xs: readonly (string | null)[], nulls = false): string | null {
  for (const x of xs) {
    if (x === null ? !nulls : !UUID.test(x)) return null
  }
  return `{${xs.map((x) => x ?? 'NULL').join(',')}}`
}

/**
 * Whether `commands` are one notification's fan-out: every message of one notification,
 * tenant, author, instant, due time, priority and trace context, sharing one payload (the
 * same value: notify passes its `data` to every message), its channel named by id, one
 * address, no idempotency key and no audit entry of its own. Such a batch is written by
 * `messaging_enqueue_fanout`, which takes the shared values once; any other goes through
 * `messaging_enqueue_arrays`. Both keep the rules of adapters/shared/enqueue-batch.ts.
 */
export function isFanOut(commands: readonly EnqueueCommand[]): boolean {
  const first = commands[0]
  if (commands.length < 2 || !first?.message.notification) return false
  const f = first.message
  return commands.every(({ message: m, channel, audit, due, defaultMaxAttempts }) => {
    const n = m.notification
    return (
      n != null &&
      n.id === f.notification!.id &&
      n.categoryKey === f.notification!.categoryKey &&
      audit === null &&
      'id' in channel &&
      onlyFanOutFields(m) &&
      m.idempotencyKey === null &&
      m.recipients?.length === 1 &&
      m.payload === f.payload &&
      m.infrastructureId === f.infrastructureId &&
      m.businessId === f.businessId &&
      m.createdBy === f.createdBy &&
      m.createdAt.getTime() === f.createdAt.getTime() &&
      (m.priority ?? 'normal') === (f.priority ?? 'normal') &&
      m.traceContext?.traceparent === f.traceContext?.traceparent &&
      m.traceContext?.tracestate === f.traceContext?.tracestate &&
      defaultMaxAttempts === first.defaultMaxAttempts &&
      sameDue(due, first.due)
    )
  })
}

/** The call's parameters: the shared values once, then five arrays of one element per message. */
function paramsOf(scope: TenantScope, commands: readonly EnqueueCommand[]): unknown[] {
  const { message: f, due, defaultMaxAttempts } = commands[0]!
  const n = commands.length
  const ids = new Array<string>(n)
  const channels = new Array<string>(n)
  const users = new Array<string>(n)
  const addresses = new Array<string>(n)
  const templates = new Array<string | null>(n)
  commands.forEach(({ message: m, channel }, i) => {
    ids[i] = m.id
    channels[i] = (channel as { id: string }).id
    users[i] = m.notification!.userId
    addresses[i] = m.recipients![0]!
    templates[i] = m.notification!.templateId
  })
  return [
    claimsOf(scope),
    f.infrastructureId,
    f.businessId,
    JSON.stringify(f.payload ?? null),
    f.createdBy,
    f.createdAt,
    'at' in due ? due.at : null,
    'at' in due ? null : Math.max(0, Math.round(due.afterMs)),
    defaultMaxAttempts,
    priorityRank(f.priority ?? 'normal'),
    f.traceContext?.traceparent ?? null,
    f.traceContext?.tracestate ?? null,
    f.notification!.id,
    f.notification!.categoryKey,
    uuidArrayLiteral(ids) ?? ids,
    uuidArrayLiteral(channels) ?? channels,
    uuidArrayLiteral(users) ?? users,
    addresses,
    uuidArrayLiteral(templates, true) ?? templates,
  ]
}

/**
 * `enqueueMany` of a fan-out (see `isFanOut`): one call of `messaging_enqueue_fanout`, all or
 * nothing, answered per distinct channel. The scope and the commands were checked by the caller.
 */
export async function enqueueFanOut(
  db: Kysely<MessagingDatabase>,
  scope: TenantScope,
  commands: readonly EnqueueCommand[],
): Promise<EnqueueOutcome[]> {
  const first = commands[0]!.message
  let rows: FanOutResultRow[]
  try {
    rows = (await db.executeQuery<FanOutResultRow>(CompiledQuery.raw(FAN_OUT, paramsOf(scope, commands))))
      .rows
  } catch (e) {
    throw classify(e, {
      conflict: { entity: 'message', key: first.id },
      refused: () => new TenantScopeViolationError(first.infrastructureId, first.businessId),
    })
  }
  const byChannel = new Map(rows.map((r) => [r.channel_id, r]))
  // The first message (in order) whose channel is missing or disabled names the error, as enqueue_arrays does.
  for (const { channel } of commands) {
    const r = byChannel.get((channel as { id: string }).id)!
    if (r.outcome === 'channel_missing') throw new NotFoundError('channel', r.channel_id)
    if (r.outcome === 'channel_disabled') throw new ChannelDisabledError(r.channel_id)
  }
  // Field by field, not by spreading the command's message: 20,000 spreads took about 250 ms
  // of client CPU a fan-out in G14 (2 cores), more than the rest of the call.
  return commands.map(({ message: m, channel }) => {
    const r = byChannel.get((channel as { id: string }).id)!
    const message: OutboxMessage = {
      id: m.id,
      infrastructureId: m.infrastructureId,
      businessId: m.businessId,
      channelId: r.channel_id,
      payload: m.payload,
      recipients: m.recipients,
      idempotencyKey: null,
      maxAttempts: r.max_attempts,
      createdBy: m.createdBy,
      createdAt: m.createdAt,
      notification: m.notification ?? null,
      priority: m.priority ?? 'normal',
      // A keyed message is never a fan-out's (onlyFanOutFields): the enqueue writes it.
      orderingKey: null,
      traceContext: m.traceContext ?? null,
      status: 'pending',
      attempts: 0,
      availableAt: r.available_at,
      leaseToken: null,
      leasedUntil: null,
      lastError: null,
      settledAt: null,
    }
    return { message, created: true }
  })
}
