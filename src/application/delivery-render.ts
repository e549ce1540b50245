import { digestIdOf, digestPayload } from '../domain/digest.js'
import type { ClaimedMessage, JsonValue } from '../domain/outbox-message.js'
import type { RecipientProfile } from '../domain/recipient-profile.js'
import type { TenantScope } from '../domain/tenant-scope.js'
import type { ServiceContext } from './context.js'
import { closeHeldDigest } from './digest-close.js'
import { templateErrorText } from './template-renderer.js'
import type { TemplateService } from './template-service.js'

/**
 * What a held message goes out with: its payload (rendered, for a message of a notification
 * that recorded a template version), or the template's error, which fails it for good.
 */
export type RenderStep =
  | { readonly ok: true; readonly payload: JsonValue }
  | { readonly ok: false; readonly error: string }
  /** A digest whose every item was cancelled: its delivery was cancelled instead (closeHeldDigest). */
  | { readonly ok: 'cancelled' }

/** The recipient a template sees when its profile is gone: every field present, so a strict template fails by name. */
const noProfile = (userId: string) => ({
  userId,
  businessId: null,
  email: null,
  phone: null,
  locale: null,
  timeZone: null,
  properties: {},
})

const recipientOf = (p: RecipientProfile) => ({
  userId: p.userId,
  businessId: p.businessId,
  email: p.email,
  phone: p.phone,
  locale: p.locale,
  timeZone: p.timeZone,
  properties: p.properties,
})

/**
 * Renders a held message of a notification with the template version it recorded at enqueue
 * (picked then for its category, channel type and its recipient's locale, with the fallback
 * to the language and the tenant's default), its recipient's profile as it is now and its
 * payload as `data`. The delivery of a digest closes it first, in one unit of work, and goes
 * out with its items (`data.digest`, see `digestPayload`), a channel's digest of plain enqueues
 * too. A plain enqueue, or a notification message without a template, goes
 * out as it was written (a webhook then carries the notification's `data`).
 */
export async function renderHeld(
  ctx: ServiceContext,
  templates: TemplateService,
  scope: TenantScope,
  held: ClaimedMessage,
  channelType: string,
): Promise<RenderStep> {
  const n = held.notification
  // A category's digest is delivered as a notification's message, a channel's as a plain one.
  const digestId = digestIdOf(held.id, held.payload)
  let payload = held.payload
  if (digestId !== null) {
    // The close: from here on the digest's items are fixed, and they are what goes out.
    const closed = await ctx.uow.run(scope, (r) => closeHeldDigest(ctx, scope, r, held, digestId))
    if (closed.action === 'missing') return { ok: false, error: `digest ${digestId} is not there to close` }
    if (closed.action === 'cancelled') {
      ctx.eventFeed.publish([held.infrastructureId])
      return { ok: 'cancelled' }
    }
    payload = digestPayload(closed.digest)
  }
  if (!n?.templateId) return { ok: true, payload }
  const profile = await ctx.uow.run(scope, (r) => r.profiles.find(scope, held.infrastructureId, n.userId))
  const data = typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? payload : {}
  const outcome = await templates.renderForDelivery(scope, {
    infrastructureId: held.infrastructureId,
    businessId: held.businessId,
    templateId: n.templateId,
    channelType,
    data,
    recipient: profile ? recipientOf(profile) : noProfile(n.userId),
  })
  if (!outcome.ok) return { ok: false, error: templateErrorText(outcome.problem) }
  return { ok: true, payload: outcome.rendered.payload as unknown as JsonValue }
}
