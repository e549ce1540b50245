import type { Category, CategoryDigest } from '../domain/category.js'
import { type Digest, type DigestGroup, digestKeyOf } from '../domain/digest.js'
import { StorageError } from '../domain/errors.js'
import type { PlannedMessage } from '../domain/notification.js'
import type { JsonValue, MessagePriority } from '../domain/outbox-message.js'
import type { TenantScope } from '../domain/tenant-scope.js'
import type { TraceContext } from '../domain/trace-context.js'
import type { Due } from '../ports/outbox-repository.js'
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

/**
 * Folds each planned message of a notify into its recipient's open digest of the category
 * over the message's channel (and the digest key's value), in the notify's unit of work:
 * appended to the open digest, or opening one with its delivery message, due when the window
 * ends. The item that fills a digest closes it and makes its delivery due at once.
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
    const group: DigestGroup = {
      infrastructureId: req.infrastructureId,
      businessId: req.businessId,
      userId: m.userId,
      categoryKey: req.category.key,
      channelId: m.channel.id,
      digestKey,
    }
    const item = { notificationId: req.notificationId, data: req.data }
    let digest: Digest | null = null
    for (let round = 0; round < ROUNDS && digest === null; round++) {
      digest = await r.digests.append(scope, group, item)
      if (digest !== null) break
      const id = ctx.ids.next()
      digest = await r.digests.open(scope, group, { id, settings: req.category.digest }, item)
      if (digest === null) continue
      opened++
      await r.outbox.enqueueMany(scope, [
        {
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
          due: dueOf(digest.closesAt, req.notBefore(m)),
          channel: { id: m.channel.id },
          defaultMaxAttempts: ctx.limits.defaultMaxAttempts,
          audit: null,
        },
      ])
    }
    if (digest === null) {
      throw new StorageError(
        `the digest of ${group.categoryKey} for a recipient kept closing under this notify`,
      )
    }
    if (digest.closedAt !== null && digest.items.length >= digest.maxItems) {
      filled++
      const notBefore = req.notBefore(m)
      await r.outbox.reschedule(scope, {
        infrastructureId: req.infrastructureId,
        id: digest.id,
        due: notBefore ? { at: notBefore } : { afterMs: 0 },
      })
    }
  }
  return { folded: req.messages.length, opened, filled }
}

/** The later of the window's end and the recipient's own earliest time. */
function dueOf(closesAt: Date, notBefore: Date | null): Due {
  return { at: notBefore && notBefore.getTime() > closesAt.getTime() ? notBefore : closesAt }
}
