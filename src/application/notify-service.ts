import { trace } from '@opentelemetry/api'
import type { Category } from '../domain/category.js'
import type { Channel } from '../domain/channel.js'
import { digestItemsOf } from '../domain/digest.js'
import { NotFoundError, PayloadTooLargeError } from '../domain/errors.js'
import {
  type Notification,
  type NotificationSkip,
  type NotificationStatus,
  type NotifyTarget,
  type PlannedMessage,
  type PlannedRecipient,
  planNotification,
  type ThrottledCount,
} from '../domain/notification.js'
import {
  type ListNotificationsInput,
  listNotificationsInput,
  type NotificationRefInput,
  type NotifyInput,
  notificationRefInput,
  notifyInput,
  type ThrottledCountsInput,
  throttledCountsInput,
} from '../domain/notify-inputs.js'
import { payloadBytes } from '../domain/outbox-message.js'
import { PreferenceBook } from '../domain/preference.js'
import { QUIET_HOURS_PASS_THROUGH_DEFAULT, quietHoursEnd } from '../domain/quiet-hours.js'
import { assertRole, assertTenantScope, type TenantScope } from '../domain/tenant-scope.js'
import { parseInput } from '../domain/validation.js'
import type { EnqueueCommand } from '../ports/outbox-repository.js'
import type { Repositories } from '../ports/unit-of-work.js'
import { traceContextOf } from '../telemetry/tracing.js'
import { auditEntry, audited, type ServiceContext } from './context.js'
import { skippedEvent } from './delivery-events.js'
import { foldIntoDigests } from './digest-fold.js'
import { loadTemplateChoice } from './template-lookup.js'

export interface NotifyResult {
  readonly notification: Notification
  /** false when the idempotency key was seen before: `notification` is the first one, and nothing was written. */
  readonly created: boolean
}

type Input = ReturnType<typeof notifyInput.parse>

/**
 * Serialised payload per enqueue statement: a fan-out of 20,000 messages of a few KiB each
 * goes in several statements of one unit of work rather than one of hundreds of MiB.
 */
const MAX_CHUNK_BYTES = 8 * 1024 * 1024
const MAX_CHUNK_MESSAGES = 5000

const DAY_MS = 86_400_000

const DEFAULT_PASS_THROUGH: ReadonlySet<string> = new Set(QUIET_HOURS_PASS_THROUGH_DEFAULT)

/**
 * One notify call: the recipients within the caller's scope, each one's channel types by
 * preference, the tenant's channel for each type from the category, the address from the
 * profile; then, in one unit of work, the notification, one outbox message per recipient
 * and channel (through the outbox's one enqueue contract) and one skip per recipient and
 * channel type left out. On PostgreSQL that unit joins the host's transaction like an enqueue.
 */
export class NotifyService {
  constructor(private readonly ctx: ServiceContext) {}

  async notify(scope: TenantScope, raw: NotifyInput): Promise<NotifyResult> {
    const input = parseInput(notifyInput, raw)
    const bytes = payloadBytes(input.data)
    if (bytes > this.ctx.limits.maxPayloadBytes) {
      throw new PayloadTooLargeError('data', bytes, this.ctx.limits.maxPayloadBytes)
    }
    const id = this.ctx.ids.next()
    const target = {
      infrastructureId: input.infrastructureId,
      businessId: input.businessId,
      action: 'notification.create',
      targetType: 'notification' as const,
      targetId: id,
    }
    const result = await audited(this.ctx, scope, target, async () => {
      assertTenantScope(scope, input.infrastructureId, input.businessId)
      assertRole(scope, 'notify', 'infra_admin', 'service')
      return this.ctx.uow.run(scope, (r) => this.write(scope, r, input, id))
    })
    if (result.created && (result.notification.messageCount > 0 || result.wake)) {
      this.ctx.wake?.notify(input.infrastructureId)
    }
    // Skipped recipients are events: the tenant's streams read them.
    if (result.created) this.ctx.eventFeed.publish([input.infrastructureId])
    return { notification: result.notification, created: result.created }
  }

  private async write(
    scope: TenantScope,
    r: Repositories,
    input: Input,
    id: string,
  ): Promise<NotifyResult & { readonly wake?: boolean }> {
    const infra = input.infrastructureId
    if (input.idempotencyKey !== null) {
      const first = await r.notifications.findByIdempotencyKey(scope, {
        infrastructureId: infra,
        businessId: input.businessId,
        idempotencyKey: input.idempotencyKey,
      })
      if (first) return { notification: first, created: false }
    }
    const category = await r.categories.find(scope, infra, input.category)
    if (!category) throw new NotFoundError('category', input.category)
    const { recipients, optedOutMembers, notifyTarget } = await this.recipients(scope, r, input)
    const users = recipients.map((x) => x.userId)
    const serving = await this.servingChannels(scope, r, infra, category)
    const [choices, defaults, optedOut, templates] = await Promise.all([
      r.preferences.listForUsers(scope, infra, users, category.key),
      r.preferences.listDefaults(scope, { infrastructureId: infra, categoryKey: category.key }),
      this.channelOptOuts(scope, r, infra, serving),
      // Two reads whatever the number of recipients: each one's template is picked from them in memory.
      loadTemplateChoice(r, scope, infra, category.key),
    ])
    const book = new PreferenceBook(choices, defaults, input.businessId, optedOut)
    const plan = planNotification({
      category,
      recipients,
      channels: serving,
      book,
      template: (channelType, locale) => templates.pick(channelType, locale)?.id ?? null,
    })
    const { messages, throttled, granted, overflow } = await this.throttle(
      scope,
      r,
      infra,
      category,
      plan.messages,
    )
    // A digest collects every message of the category, or, under a throttle that folds its
    // excess, only the messages beyond the limit: the first `limit` go out on their own.
    const digestAll = category.digest !== null && category.throttle?.onExceed !== 'digest'
    const direct = digestAll ? [] : messages
    const digested = digestAll ? messages : overflow
    const held = await this.quietHours(scope, r, infra, category, recipients, input.availableAt)
    const now = this.ctx.clock.now()
    const skips: NotificationSkip[] = [
      ...optedOutMembers.map((userId) => ({ userId, channelType: '*', reason: 'opted_out' as const })),
      ...plan.skips,
      ...throttled,
    ].map((s) => ({
      ...s,
      infrastructureId: infra,
      notificationId: id,
      businessId: input.businessId,
      createdAt: now,
    }))
    const inserted = await r.notifications.insert(scope, {
      id,
      infrastructureId: infra,
      businessId: input.businessId,
      categoryKey: category.key,
      target: notifyTarget,
      data: input.data,
      idempotencyKey: input.idempotencyKey,
      createdBy: scope.userId,
      createdAt: now,
      availableAt: input.availableAt,
      recipientCount: recipients.length + optedOutMembers.length,
      messageCount: direct.length,
      skippedCount: skips.length,
    })
    // A concurrent notify took the key first: its fan-out is the one, and the throttle
    // slots this one took go back (an idempotent retry never counts twice).
    if (!inserted.created) {
      if (granted.length > 0) {
        await r.throttles.giveBack(scope, { infrastructureId: infra, categoryKey: category.key }, granted)
      }
      return inserted
    }
    // The notify's own span, when the host traces it: each delivery joins that trace.
    const active = trace.getActiveSpan()
    const traceContext = active ? traceContextOf(active) : null
    const commands: EnqueueCommand[] = direct.map((m) => ({
      message: {
        id: this.ctx.ids.next(),
        infrastructureId: infra,
        businessId: input.businessId,
        payload: input.data,
        recipients: [m.address],
        idempotencyKey: null,
        createdBy: scope.userId,
        createdAt: now,
        notification: { id, userId: m.userId, categoryKey: category.key, templateId: m.templateId },
        priority: input.priority,
        traceContext,
      },
      due: this.dueOf(m, held, input.availableAt),
      channel: { id: m.channel.id },
      defaultMaxAttempts: this.ctx.limits.defaultMaxAttempts,
      // One audit entry for the notification, not one per message: a fan-out of 20,000 would double its writes.
      audit: null,
    }))
    const perChunk = Math.max(
      1,
      Math.min(MAX_CHUNK_MESSAGES, Math.floor(MAX_CHUNK_BYTES / Math.max(1, payloadBytes(input.data)))),
    )
    for (let i = 0; i < commands.length; i += perChunk) {
      await r.outbox.enqueueMany(scope, commands.slice(i, i + perChunk))
    }
    const digests =
      category.digest !== null && digested.length > 0
        ? await foldIntoDigests(this.ctx, scope, r, {
            infrastructureId: infra,
            businessId: input.businessId,
            notificationId: id,
            category: { ...category, digest: category.digest },
            data: input.data,
            messages: digested,
            priority: input.priority,
            traceContext,
            notBefore: (m) => this.dueOf(m, held, input.availableAt).at ?? null,
          })
        : null
    if (skips.length > 0) {
      await r.notifications.insertSkips(scope, skips)
      await r.events.append(
        scope,
        skips.map((s) => skippedEvent(this.ctx, s)),
      )
    }
    await r.audit.append(
      scope,
      auditEntry(this.ctx, scope, {
        infrastructureId: infra,
        businessId: input.businessId,
        action: 'notification.create',
        targetType: 'notification',
        targetId: id,
        details: {
          category: category.key,
          recipients: inserted.notification.recipientCount,
          messages: direct.length,
          skipped: skips.length,
          ...(digests && { digested: digests.folded, digestsOpened: digests.opened }),
        },
      }),
    )
    return digests && digests.filled > 0 ? { ...inserted, wake: true } : inserted
  }

  /**
   * Per recipient inside their quiet hours (their own, else the infrastructure's default) when
   * the notification becomes due (its `availableAt`, else the store's now): when they end, in
   * the recipient's time zone (UTC without one). Critical categories ignore quiet hours; the
   * store's clock is read only when some recipient has quiet hours.
   */
  private async quietHours(
    scope: TenantScope,
    r: Repositories,
    infrastructureId: string,
    category: Category,
    recipients: readonly PlannedRecipient[],
    availableAt: Date | null,
  ): Promise<Map<string, Date>> {
    const held = new Map<string, Date>()
    if (category.critical) return held
    const reached = recipients.filter((x) => x.inScope)
    if (reached.length === 0) return held
    // The tenant's default only when someone has none of their own: one read per notify at most.
    const tenantDefault = reached.some((x) => !x.profile?.quietHours)
      ? ((await r.quietHours.findDefault(scope, infrastructureId))?.quietHours ?? null)
      : null
    const quiet = reached.filter((x) => x.profile?.quietHours || tenantDefault)
    if (quiet.length === 0) return held
    const at = availableAt ?? (await r.time.now())
    for (const { userId, profile } of quiet) {
      const hours = profile?.quietHours ?? tenantDefault
      if (!hours) continue
      const end = quietHoursEnd(at, hours, profile?.timeZone ?? 'UTC')
      if (end) held.set(userId, end)
    }
    return held
  }

  /** A message's due time: the end of its recipient's quiet hours for a type they hold, else the notify's. */
  private dueOf(m: PlannedMessage, held: ReadonlyMap<string, Date>, availableAt: Date | null) {
    const end = held.get(m.userId)
    const passes = this.ctx.quietHoursPassThrough ?? DEFAULT_PASS_THROUGH
    if (end && !passes.has(m.channelType)) return { at: end }
    return availableAt ? { at: availableAt } : { afterMs: 0 }
  }

  /**
   * The category's throttle over the planned messages: one slot per recipient with at least
   * one message (a notify counts once, whatever number of channel types it fans out to);
   * a recipient refused a slot gets no message, and a `throttled` skip per channel type
   * that would have carried one.
   */
  private async throttle(
    scope: TenantScope,
    r: Repositories,
    infrastructureId: string,
    category: Category,
    planned: readonly PlannedMessage[],
  ) {
    if (category.throttle === null || planned.length === 0) {
      return { messages: planned, throttled: [], granted: [] as string[], overflow: [] as PlannedMessage[] }
    }
    const users = [...new Set(planned.map((m) => m.userId))]
    const key = { infrastructureId, categoryKey: category.key }
    const slots = await r.throttles.take(scope, key, users, category.throttle)
    const beyond = planned.filter((m) => !slots.has(m.userId))
    // Folded into the next digest rather than skipped: nothing is recorded as throttled.
    const folds = category.throttle.onExceed === 'digest' && category.digest !== null
    const throttled = folds
      ? []
      : beyond.map((m) => ({ userId: m.userId, channelType: m.channelType, reason: 'throttled' as const }))
    return {
      messages: planned.filter((m) => slots.has(m.userId)),
      throttled,
      granted: [...slots],
      overflow: folds ? beyond : [],
    }
  }

  /**
   * Who the notification reaches. Named users must have a profile the caller can see in the
   * notification's tenant (its business, or the whole infrastructure); a channel's members
   * are in scope by their membership (of the notification's business, or infrastructure-wide),
   * and those who opted out of it are left out whole.
   */
  private async recipients(scope: TenantScope, r: Repositories, input: Input) {
    const infra = input.infrastructureId
    const inTenant = (businessId: string | null) =>
      input.businessId === null || businessId === null || businessId === input.businessId
    if ('users' in input.to) {
      const users = [...new Set(input.to.users)]
      const profiles = new Map((await r.profiles.findMany(scope, infra, users)).map((p) => [p.userId, p]))
      const recipients: PlannedRecipient[] = users.map((userId) => {
        const profile = profiles.get(userId) ?? null
        return { userId, profile, inScope: profile !== null && inTenant(profile.businessId) }
      })
      const notifyTarget: NotifyTarget = { kind: 'users', count: users.length }
      return { recipients, optedOutMembers: [] as string[], notifyTarget }
    }
    const channel =
      'channelKey' in input.to
        ? await r.channels.findByKey(scope, infra, input.to.channelKey)
        : await r.channels.findById(scope, infra, input.to.channelId)
    if (!channel)
      throw new NotFoundError('channel', 'channelKey' in input.to ? input.to.channelKey : input.to.channelId)
    // The members of the notification's business and the infrastructure-wide ones, as an in-app fan-out reaches.
    const members = (await r.members.listByChannel(scope, infra, channel.id)).filter(
      (m) => m.businessId === null || m.businessId === input.businessId,
    )
    const optedIn = members.filter((m) => m.optedIn).map((m) => m.userId)
    const profiles = new Map((await r.profiles.findMany(scope, infra, optedIn)).map((p) => [p.userId, p]))
    const recipients: PlannedRecipient[] = optedIn.map((userId) => ({
      userId,
      profile: profiles.get(userId) ?? null,
      inScope: true,
    }))
    const notifyTarget: NotifyTarget = {
      kind: 'channel',
      channelId: channel.id,
      channelKey: channel.channelKey,
    }
    return {
      recipients,
      optedOutMembers: members.filter((m) => !m.optedIn).map((m) => m.userId),
      notifyTarget,
    }
  }

  /** The category's channel per type: null where it is missing, disabled, of another type or unserved. */
  private async servingChannels(
    scope: TenantScope,
    r: Repositories,
    infrastructureId: string,
    category: Category,
  ): Promise<Map<string, Channel | null>> {
    const out = new Map<string, Channel | null>()
    for (const [type, { channelKey }] of Object.entries(category.channels)) {
      const channel = await r.channels.findByKey(scope, infrastructureId, channelKey)
      const usable = channel?.enabled && channel.type === type && this.ctx.channelTypes.has(type)
      out.set(type, usable ? channel : null)
    }
    return out
  }

  /** Per user, the serving channels they are a member of and opted out of. */
  private async channelOptOuts(
    scope: TenantScope,
    r: Repositories,
    infrastructureId: string,
    serving: ReadonlyMap<string, Channel | null>,
  ): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>()
    for (const channel of new Set([...serving.values()].filter((c): c is Channel => c !== null))) {
      for (const m of await r.members.listByChannel(scope, infrastructureId, channel.id)) {
        if (m.optedIn) continue
        const set = out.get(m.userId) ?? new Set<string>()
        set.add(channel.channelKey)
        out.set(m.userId, set)
      }
    }
    return out
  }

  /** A notification, its counts per state, and a page of its deliveries (`infra_admin`, `service`). */
  async status(scope: TenantScope, raw: NotificationRefInput): Promise<NotificationStatus> {
    const input = parseInput(notificationRefInput, raw)
    assertTenantScope(scope, input.infrastructureId)
    assertRole(scope, 'notification.get', 'infra_admin', 'service')
    return this.ctx.uow.run(scope, async (r) => {
      const notification = await r.notifications.find(scope, input.infrastructureId, input.notificationId)
      if (!notification) throw new NotFoundError('notification', input.notificationId)
      const [userId, channelType] = input.after?.split('/') ?? []
      const [counts, deliveries, digests] = await Promise.all([
        r.notifications.counts(scope, input.infrastructureId, input.notificationId),
        r.notifications.deliveries(scope, {
          infrastructureId: input.infrastructureId,
          notificationId: input.notificationId,
          limit: input.limit,
          ...(input.state !== undefined && { state: input.state }),
          ...(input.userId !== undefined && { userId: input.userId }),
          ...(userId !== undefined &&
            channelType !== undefined && { after: { userId: userId.toLowerCase(), channelType } }),
        }),
        r.digests.ofNotification(scope, input.infrastructureId, input.notificationId),
      ])
      const digested = digestItemsOf(input.notificationId, digests).filter(
        (d) => input.userId === undefined || d.userId === input.userId.toLowerCase(),
      )
      return { notification, counts, deliveries, digested }
    })
  }

  /**
   * Per category, how many deliveries (recipient x channel type) its throttle skipped since
   * `since` (default: 24 hours before now), for the health view (`infra_admin`, `service`).
   */
  async throttledCounts(scope: TenantScope, raw: ThrottledCountsInput): Promise<ThrottledCount[]> {
    const input = parseInput(throttledCountsInput, raw)
    assertTenantScope(scope, input.infrastructureId)
    assertRole(scope, 'notification.throttled', 'infra_admin', 'service')
    const since = input.since ?? new Date(this.ctx.clock.now().getTime() - DAY_MS)
    return this.ctx.uow.run(scope, (r) =>
      r.notifications.throttledCounts(scope, input.infrastructureId, since),
    )
  }

  /** Notifications newest first, by business, category, recipient and time (`infra_admin`, `service`). */
  async list(scope: TenantScope, raw: ListNotificationsInput): Promise<Notification[]> {
    const input = parseInput(listNotificationsInput, raw)
    assertTenantScope(
      scope,
      input.infrastructureId,
      input.businessId === undefined ? undefined : input.businessId,
    )
    assertRole(scope, 'notification.list', 'infra_admin', 'service')
    return this.ctx.uow.run(scope, (r) =>
      r.notifications.list(scope, {
        infrastructureId: input.infrastructureId,
        limit: input.limit,
        ...(input.businessId !== undefined && { businessId: input.businessId }),
        ...(input.categoryKey !== undefined && { categoryKey: input.categoryKey }),
        ...(input.userId !== undefined && { userId: input.userId }),
        ...(input.since !== undefined && { since: input.since }),
        ...(input.until !== undefined && { until: input.until }),
        ...(input.before !== undefined && { before: input.before }),
      }),
    )
  }
}
