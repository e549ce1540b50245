import type { AuditEntry } from '../domain/audit.js'
import { type Channel, channelDigestOf } from '../domain/channel.js'
import { destinationOf, digestKeyOf, foldsIntoChannelDigest } from '../domain/digest.js'
import { ForbiddenRoleError, StorageError, ValidationError } from '../domain/errors.js'
import type { OutboxMessage } from '../domain/outbox-message.js'
import type { TenantScope } from '../domain/tenant-scope.js'
import type { EnqueueCommand, EnqueueOutcome } from '../ports/outbox-repository.js'
import type { Repositories } from '../ports/unit-of-work.js'
import type { ServiceContext } from './context.js'
import { foldOne } from './digest-fold.js'

/** One message of an enqueue that met a channel with a digest. */
export interface FoldingCommand {
  readonly command: EnqueueCommand
  /** The entry a folded message appends (its details gain `channelId` and `digestId`); null: none. */
  readonly audit: AuditEntry | null
  /** Where the input's fields are named in errors: '' for one enqueue, `items.<i>.` in a batch. */
  readonly field: string
}

/** What one message became: written on its own, or an item of the digest whose delivery `message` is. */
export interface FoldingOutcome extends EnqueueOutcome {
  /** The digest the message went into (also the id of `message`, its delivery); null: written on its own. */
  readonly digestId: string | null
}

/**
 * An enqueue whose store answered ChannelDigestsSignal, in the caller's unit of work, in
 * order: each plain message on a channel with a digest (`config.digest`) is folded into the
 * channel's open digest for its destination (its recipient list) and digest key (the value
 * at `digest.key` in its payload), as a category's digest folds a notify (foldOne); every
 * other message is written as the store writes it. Only `infra_admin` and `service` fold
 * (a digest holds other enqueues' payloads); an idempotency key or an ordering key on a
 * folded message is refused (the digest's one delivery has neither). The answer for a folded
 * message is its digest's delivery message as it stands, `created: true`.
 */
export async function enqueueFolding(
  ctx: ServiceContext,
  scope: TenantScope,
  r: Repositories,
  items: readonly FoldingCommand[],
): Promise<FoldingOutcome[]> {
  const channels = new Map<string, Channel | null>()
  const out: FoldingOutcome[] = []
  for (const { command: c, audit, field } of items) {
    const channel = await channelOf(scope, r, channels, c)
    const digest = channel?.enabled ? channelDigestOf(channel) : null
    if (channel === null || digest === null || !foldsIntoChannelDigest(c.message)) {
      // The store's own rules (a missing or disabled channel, idempotency) decide.
      const [written] = await r.outbox.enqueueMany(scope, [c])
      out.push({ ...written!, digestId: null })
      continue
    }
    refuseUnfoldable(scope, c, field)
    const m = c.message
    const notBefore = 'at' in c.due ? c.due.at : null
    const { digest: d } = await foldOne(ctx, scope, r, {
      group: {
        infrastructureId: m.infrastructureId,
        businessId: m.businessId,
        userId: null,
        categoryKey: null,
        destination: destinationOf(m.recipients),
        channelId: channel.id,
        digestKey: digestKeyOf(m.payload, digest.key),
      },
      settings: digest,
      item: { notificationId: m.id, data: m.payload },
      notBefore,
      delivery: (id, due) => ({
        message: {
          id,
          infrastructureId: m.infrastructureId,
          businessId: m.businessId,
          payload: { digestId: id },
          recipients: m.recipients,
          idempotencyKey: null,
          createdBy: scope.userId,
          createdAt: ctx.clock.now(),
          notification: null,
          priority: m.priority ?? 'normal',
          traceContext: m.traceContext ?? null,
        },
        due,
        channel: { id: channel.id },
        defaultMaxAttempts: c.defaultMaxAttempts,
        audit: null,
      }),
    })
    if (audit !== null) {
      await r.audit.append(scope, {
        ...audit,
        details: { channelId: channel.id, digestId: d.id, ...(audit.details ?? {}) },
      })
    }
    out.push({ message: await deliveryOf(scope, r, m.infrastructureId, d.id), created: true, digestId: d.id })
  }
  return out
}

/** The command's channel in its infrastructure, looked up once per reference; null when absent. */
async function channelOf(
  scope: TenantScope,
  r: Repositories,
  seen: Map<string, Channel | null>,
  c: EnqueueCommand,
): Promise<Channel | null> {
  const infra = c.message.infrastructureId
  const key = 'id' in c.channel ? `${infra}/id/${c.channel.id}` : `${infra}/key/${c.channel.key}`
  if (!seen.has(key)) {
    const found =
      'id' in c.channel
        ? await r.channels.findById(scope, infra, c.channel.id)
        : await r.channels.findByKey(scope, infra, c.channel.key)
    seen.set(key, found)
  }
  return seen.get(key) ?? null
}

/** What a folded message may not carry, and who may fold. */
function refuseUnfoldable(scope: TenantScope, c: EnqueueCommand, field: string): void {
  if (!scope.hasRole('infra_admin', 'service')) {
    throw new ForbiddenRoleError(
      'outbox.enqueue on a channel with a digest',
      ['infra_admin', 'service'],
      scope.role,
    )
  }
  // The digest's one delivery answers for many enqueues: a key would name the one, not the others.
  if (c.message.idempotencyKey !== null) {
    throw ValidationError.single(
      `${field}idempotencyKey`,
      'channel_digest',
      'a message folded into a channel digest takes no idempotency key',
    )
  }
  if (c.message.orderingKey) {
    throw ValidationError.single(
      `${field}orderingKey`,
      'channel_digest',
      'a message folded into a channel digest takes no ordering key',
    )
  }
}

async function deliveryOf(
  scope: TenantScope,
  r: Repositories,
  infrastructureId: string,
  id: string,
): Promise<OutboxMessage> {
  const found = await r.outbox.findById(scope, infrastructureId, id)
  if (!found) throw new StorageError(`the delivery of digest ${id} is not there`)
  return found
}
