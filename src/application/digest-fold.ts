import type { Category, CategoryDigest } from '../domain/category.js'
import { type Digest, type DigestGroup, digestKeyOf } from '../domain/digest.js'
import { StorageError } from '../domain/errors.js'
import type { PlannedMessage } from '../domain/notification.js'
import type { JsonValue, MessagePriority } from '../domain/outbox-message.js'
import type { TenantScope } from '../domain/tenant-scope.js'
import type { TraceContext } from '../domain/trace-context.js'
import type { NewDigestItem } from '../ports/digest-repository.js'
import type { Due, EnqueueCommand } from '../ports/outbox-repository.js'
import type { Repositories } from '../ports/unit-of-work.js'
import type { ServiceContext } from './context.js'

/** What a notify folds into its recipients' digests. */
export interface FoldRequest {
  readonly infrastructureId: string
  readonly businessId: string | null
  readonly notificationId: string
  readonly category: Category & { readonly digest: CategoryDigest }
  readonly data: { readonly [key: string]: JsonValue }
  readonly messages: readonly PlannedMessage[]
  readonly priority: MessagePriority
  readonly traceContext: TraceContext | null
  /** When a message of the recipient may go at the earliest (quiet hours, the notify's `availableAt`). */
  readonly notBefore: (m: PlannedMessage) => Date | null
}

export interface FoldResult {
  /** Items folded (one per message planned). */
  readonly folded: number
  /** Digests this notify opened: one delivery message each. */
  readonly opened: number
  /** Digests this notify filled up: their deliveries are due now. */
  readonly filled: number
}

/**
 * An opener that lost the race for a group's digest appends to the winner's; one that then
 * finds it closed (filled by a third) opens again. Three rounds cover any interleaving of
 * two racers per round; more means the group is filling faster than it can be read.
 */
const ROUNDS = 3

/** One item into its group's open digest, or a new one with its delivery. */
export interface FoldOne {
  readonly group: DigestGroup
  readonly settings: CategoryDigest
  readonly item: NewDigestItem
  /** The delivery message of a digest this fold opens, with the digest's id and due time. */
  readonly delivery: (id: string, due: Due) => EnqueueCommand
  /** When the delivery may go at the earliest (quiet hours, the enqueue's `availableAt`). */
  readonly notBefore: Date | null
}

/**
 * Folds one item in the caller's unit of work: appended to the group's open digest, or
 * opening one with its delivery message, due when the window ends (or at `notBefore`, if
 * later). The item that fills a digest closes it and makes its delivery due at once.
 */
export async function foldOne(
  ctx: ServiceContext,
  scope: TenantScope,
  r: Repositories,
  f: FoldOne,
): Promise<{ readonly digest: Digest; readonly opened: boolean; readonly filled: boolean }> {
  let digest: Digest | null = null
  let opened = false
  for (let round = 0; round < ROUNDS && digest === null; round++) {
    digest = await r.digests.append(scope, f.group, f.item)
    if (digest !== null) break
    const id = ctx.ids.next()
    digest = await r.digests.open(scope, f.group, { id, settings: f.settings }, f.item)
    if (digest === null) continue
    opened = true
    await r.outbox.enqueueMany(scope, [f.delivery(id, dueOf(digest.closesAt, f.notBefore))])
  }
  if (digest === null) {
    throw new StorageError(`a digest of channel ${f.group.channelId} kept closing under this enqueue`)
  }
  const filled = digest.closedAt !== null && digest.items.length >= digest.maxItems
  if (filled) {
    await r.outbox.reschedule(scope, {
      infrastructureId: f.group.infrastructureId,
      id: digest.id,
      due: f.notBefore ? { at: f.notBefore } : { afterMs: 0 },
    })
  }
  return { digest, opened, filled }
}

/**
 * Folds each planned message of a notify into its recipient's open digest of the category
 * over the message's channel (and the digest key's value), in the notify's unit of work
 * (see foldOne).
 */
export async function foldIntoDigests(
  ctx: ServiceContext,
  scope: TenantScope,
  r: Repositories,
  req: FoldRequest,
): Promise<FoldResult> {
  let opened = 0
  let filled = 0
  const digestKey = digestKeyOf(req.data, req.category.digest.key)
  for (const m of req.messages) {
    const folded = await foldOne(ctx, scope, r, {
      group: {
        infrastructureId: req.infrastructureId,
        businessId: req.businessId,
        userId: m.userId,
        categoryKey: req.category.key,
        destination: null,
        channelId: m.channel.id,
        digestKey,
      },
      settings: req.category.digest,
      item: { notificationId: req.notificationId, data: req.data },
      notBefore: req.notBefore(m),
      delivery: (id, due) => ({
        message: {
          id,
          infrastructureId: req.infrastructureId,
          businessId: req.businessId,
          payload: { digestId: id },
          recipients: [m.address],
          idempotencyKey: null,
          createdBy: scope.userId,
          createdAt: ctx.clock.now(),
          // The digest stands for its notifications: a cancel of the one that opened it must not
          // take the others' items with it (docs/notify.md, "Digests").
          notification: {
            id,
            userId: m.userId,
            categoryKey: req.category.key,
            templateId: m.templateId,
          },
          priority: req.priority,
          traceContext: req.traceContext,
        },
        due,
        channel: { id: m.channel.id },
        defaultMaxAttempts: ctx.limits.defaultMaxAttempts,
        audit: null,
      }),
    })
    if (folded.opened) opened++
    if (folded.filled) filled++
  }
  return { folded: req.messages.length, opened, filled }
}

/** The later of the window's end and the recipient's own earliest time. */
function dueOf(closesAt: Date, notBefore: Date | null): Due {
  return { at: notBefore && notBefore.getTime() > closesAt.getTime() ? notBefore : closesAt }
}
