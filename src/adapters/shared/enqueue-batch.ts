import { type Channel, channelDigestOf } from '../../domain/channel.js'
import { ChannelDigestsSignal, foldsIntoChannelDigest } from '../../domain/digest.js'
import {
  ChannelDisabledError,
  ForbiddenRoleError,
  NotFoundError,
  TenantScopeViolationError,
  ValidationError,
} from '../../domain/errors.js'
import type { OutboxMessage } from '../../domain/outbox-message.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import { storableTraceContext } from '../../domain/trace-context.js'
import type { AuditLog } from '../../ports/audit-log.js'
import type { ChannelRepository } from '../../ports/channel-repository.js'
import type { Due, EnqueueCommand, EnqueueOutcome } from '../../ports/outbox-repository.js'

/** What a store lends the enqueue rules: its clock, its channel reads, its audit log and its one-row insert. */
export interface EnqueueStore {
  /** The store's own now: a relative due time is resolved against it. */
  now(): Date
  readonly channels: Pick<ChannelRepository, 'findById' | 'findByKey'>
  readonly audit: Pick<AuditLog, 'append'>
  /**
   * Appends one resolved message, or, when its idempotency key is taken, returns the first
   * message with `created: false` and writes nothing. Within the scope (the rules checked it).
   */
  insert(scope: TenantScope, message: OutboxMessage): Promise<EnqueueOutcome>
}

/** The due time of a new message, by the store's clock where it is relative. */
export const dueAt = (due: Due, now: () => Date): Date =>
  'at' in due ? due.at : new Date(now().getTime() + Math.max(0, due.afterMs))

/**
 * `OutboxRepository.enqueueMany`, the rules written once for the stores whose calls cost no
 * round trip (memory, SQLite); PostgreSQL's `messaging_enqueue_arrays` (sql/) keeps the same rules
 * in one statement, and the repository conformance suite holds all three to them:
 *
 * 1. every message lies in the scope (before any channel is looked up, so an outsider
 *    learns nothing of the tenant's channels);
 * 2. every channel is found by id or key in the message's own infrastructure, and enabled,
 *    before the first write;
 * 3. a message takes its channel's id and max attempts (else the command's default);
 * 4. a message created appends its audit entry (if it has one), details gaining `channelId`;
 * 5. a message of a notification carries no idempotency key of its own and is written by an
 *    `infra_admin` or `service` only (it holds a recipient's address);
 * 6. a plain message on a channel with a digest writes nothing: ChannelDigestsSignal, before
 *    the first write (the caller folds it into the channel's digest).
 *
 * The caller's unit of work makes it all or nothing.
 */
export async function enqueueBatch(
  store: EnqueueStore,
  scope: TenantScope,
  commands: readonly EnqueueCommand[],
): Promise<EnqueueOutcome[]> {
  checkCommands(scope, commands)
  const channels = await resolveChannels(store, scope, commands)
  for (const [i, c] of commands.entries()) {
    const channel = channels[i]!
    if (foldsIntoChannelDigest(c.message) && channelDigestOf(channel) !== null) {
      throw new ChannelDigestsSignal(channel.id)
    }
  }
  const out: EnqueueOutcome[] = []
  for (const [i, c] of commands.entries()) {
    const channel = channels[i]!
    const r = await store.insert(scope, {
      ...c.message,
      notification: c.message.notification ?? null,
      priority: c.message.priority ?? 'normal',
      orderingKey: c.message.orderingKey ?? null,
      traceContext: c.message.traceContext ?? null,
      channelId: channel.id,
      maxAttempts: channel.maxAttempts ?? c.defaultMaxAttempts,
      status: 'pending',
      attempts: 0,
      availableAt: dueAt(c.due, () => store.now()),
      leaseToken: null,
      leasedUntil: null,
      lastError: null,
      settledAt: null,
    })
    if (r.created && c.audit !== null) {
      await store.audit.append(scope, {
        ...c.audit,
        details: { channelId: channel.id, ...(c.audit.details ?? {}) },
      })
    }
    out.push(r)
  }
  return out
}

/** Rules 1 and 5 and the trace context's shape, before any channel is looked up: every store checks them the same way. */
export function checkCommands(scope: TenantScope, commands: readonly EnqueueCommand[]): void {
  for (const [i, { message: m }] of commands.entries()) {
    if (!scope.canAccess(m.infrastructureId, m.businessId)) {
      throw new TenantScopeViolationError(m.infrastructureId, m.businessId)
    }
    if (m.traceContext && storableTraceContext(m.traceContext) === null) {
      throw ValidationError.single(
        `items.${i}.traceContext`,
        'trace_context',
        'a W3C traceparent (version-traceid-parentid-flags) and a tracestate of at most 512 characters',
      )
    }
    if (m.notification) {
      if (m.idempotencyKey !== null) {
        throw ValidationError.single(
          `items.${i}.idempotencyKey`,
          'notification_message_key',
          "a notification's message has no idempotency key of its own",
        )
      }
      if (!scope.hasRole('infra_admin', 'service')) {
        throw new ForbiddenRoleError(
          'outbox.enqueue of a notification message',
          ['infra_admin', 'service'],
          scope.role,
        )
      }
    }
  }
}

/** Each command's channel, looked up once per distinct reference; throws before anything is written. */
async function resolveChannels(
  store: EnqueueStore,
  scope: TenantScope,
  commands: readonly EnqueueCommand[],
): Promise<Channel[]> {
  const found = new Map<string, Channel>()
  const channels: Channel[] = []
  for (const c of commands) {
    const infra = c.message.infrastructureId
    const ref = 'id' in c.channel ? c.channel.id : c.channel.key
    const cacheKey = `${infra}\u0000${'id' in c.channel ? 'id' : 'key'}\u0000${ref}`
    let channel = found.get(cacheKey)
    if (channel === undefined) {
      const hit =
        'id' in c.channel
          ? await store.channels.findById(scope, infra, c.channel.id)
          : await store.channels.findByKey(scope, infra, c.channel.key)
      if (!hit) throw new NotFoundError('channel', ref)
      channel = hit
      found.set(cacheKey, channel)
    }
    if (!channel.enabled) throw new ChannelDisabledError(channel.id)
    channels.push(channel)
  }
  return channels
}
