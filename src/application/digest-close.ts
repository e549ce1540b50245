import { type Digest, digestEmptied } from '../domain/digest.js'
import type { ClaimedMessage } from '../domain/outbox-message.js'
import type { TenantScope } from '../domain/tenant-scope.js'
import type { Repositories } from '../ports/unit-of-work.js'
import { auditEntry, type ServiceContext } from './context.js'
import { cancelledEvent, completedEvents } from './delivery-events.js'

/** What closing a held digest delivery came to: its items to send, or nothing left to send. */
export type DigestClose =
  | { readonly action: 'send'; readonly digest: Digest }
  | { readonly action: 'cancelled' }
  | { readonly action: 'missing' }

/**
 * Closes the digest a held message delivers, in the caller's unit of work: from here on its
 * items are fixed. A digest whose every item was cancelled while this worker held its
 * delivery (a cancel keeps a held message: the holder decides) is not sent empty: in the
 * same unit of work the lease is given back and the message cancelled, audited
 * (`outbox.cancel`, `details.digestEmptied`) and reported by its events as any cancel is. A
 * lease already lost changes nothing here: its new holder closes the same digest and
 * decides the same.
 */
export async function closeHeldDigest(
  ctx: ServiceContext,
  scope: TenantScope,
  r: Repositories,
  held: ClaimedMessage,
  digestId: string,
): Promise<DigestClose> {
  const infrastructureId = held.infrastructureId
  const digest = await r.digests.close(scope, infrastructureId, digestId)
  if (!digest) return { action: 'missing' }
  if (!digestEmptied(digest)) return { action: 'send', digest }
  const lease = { infrastructureId, id: held.id, leaseToken: held.leaseToken }
  if (!(await r.outbox.release(scope, { ...lease, delayMs: 0 }))) return { action: 'cancelled' }
  const { cancelled } = await r.outbox.cancel(scope, { infrastructureId, target: { messageId: held.id } })
  for (const m of cancelled) {
    await r.audit.append(
      scope,
      auditEntry(ctx, scope, {
        infrastructureId,
        businessId: m.businessId,
        action: 'outbox.cancel',
        targetType: 'message',
        targetId: m.id,
        details: { channelId: m.channelId, digestEmptied: digestId },
      }),
    )
  }
  await r.events.append(scope, [
    ...cancelled.map((m) => cancelledEvent(ctx, m)),
    ...(await completedEvents(
      ctx,
      r,
      scope,
      cancelled.map((message) => ({ message, status: 'cancelled' as const })),
    )),
  ])
  return { action: 'cancelled' }
}
