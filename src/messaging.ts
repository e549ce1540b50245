import type { AuditService, Refusal } from './application/audit-service.js'
import type { CategoryService } from './application/category-service.js'
import type { ChannelService } from './application/channel-service.js'
import type { DeadLetterService } from './application/dead-letter-service.js'
import { createDeliveryPort, type DeliveryPort } from './application/delivery-port.js'
import type { DeliveryService } from './application/delivery-service.js'
import {
  createEventDispatchPort,
  type EventDispatchPort,
  type EventEndpointService,
} from './application/event-endpoint-service.js'
import type { EventService } from './application/event-service.js'
import type { EventStreamSink } from './application/event-stream.js'
import type { InboxService } from './application/inbox-service.js'
import type { InboxStreamSink } from './application/inbox-stream.js'
import type { MembershipService } from './application/membership-service.js'
import type { NotifyResult, NotifyService } from './application/notify-service.js'
import type { AckResult, EnqueueResult, OutboxService } from './application/outbox-service.js'
import type { PreferenceService } from './application/preference-service.js'
import type { ProfileService } from './application/profile-service.js'
import type { ReceiptService } from './application/receipt-service.js'
import type { ScheduleService } from './application/schedule-service.js'
import type { TemplatePreview, TemplateService } from './application/template-service.js'
import type { AuditEntry } from './domain/audit.js'
import type { Category } from './domain/category.js'
import type { ChannelTypeRegistry, ChannelView } from './domain/channel.js'
import type { ChannelStats, DeliveryAttempt } from './domain/delivery.js'
import type { DestinationPolicy } from './domain/destinations.js'
import type {
  CreateEventEndpointInput,
  EventEndpointRefInput,
  EventEndpointView,
  EventEndpointWithSecret,
  ListEventEndpointsInput,
  UpdateEventEndpointInput,
} from './domain/event-endpoint.js'
import type { DeliveryEvent } from './domain/events.js'
import type { InboxEntry } from './domain/inbox.js'
import type {
  AckInput,
  AddMemberInput,
  CancelInput,
  ChannelRefInput,
  ClaimInput,
  ConfigureChannelInput,
  CreateChannelInput,
  EnqueueInput,
  EnqueueManyInput,
  FollowEventsInput,
  FollowInboxInput,
  InboxRefInput,
  ListAuditInput,
  ListChannelsInput,
  ListDeadLettersInput,
  ListEventsInput,
  ListInboxInput,
  ListMembershipsInput,
  ListMessagesInput,
  ListSecurityEventsInput,
  MarkInboxInput,
  MemberRefInput,
  MessageRefInput,
  PruneInput,
  QueueHistoryInput,
  RedriveChannelInput,
  RescheduleInput,
  ResealSecretsInput,
  SetOptInInput,
  StatsInput,
} from './domain/inputs.js'
import {
  type ListBreakersInput,
  listBreakersInput,
  listSecurityEventsInput,
  pruneInput,
} from './domain/inputs.js'
import type { Membership, MembershipView } from './domain/membership.js'
import type { Notification, NotificationStatus, ThrottledCount } from './domain/notification.js'
import type {
  CategoryRefInput,
  CreateCategoryInput,
  DeleteProfileInput,
  ListCategoriesInput,
  ListNotificationsInput,
  ListProfilesInput,
  ListTenantDefaultsInput,
  NotificationRefInput,
  NotifyInput,
  PreferenceGridInput,
  ProfileRefInput,
  QuietHoursDefaultRefInput,
  SetPreferenceInput,
  SetQuietHoursDefaultInput,
  SetTenantDefaultInput,
  ThrottledCountsInput,
  UpdateCategoryInput,
  UpsertProfileInput,
} from './domain/notify-inputs.js'
import type { ClaimedMessage, OutboxMessage } from './domain/outbox-message.js'
import type { PreferenceCell, PreferenceGrid, TenantDefault } from './domain/preference.js'
import type { QueueMinute } from './domain/queue-history.js'
import type { QuietHoursDefault } from './domain/quiet-hours.js'
import type { ReceiptInput, ReceiptResult } from './domain/receipts.js'
import type { RecipientProfile } from './domain/recipient-profile.js'
import type { SecurityEvent } from './domain/security-log.js'
import type { TemplateSettings, TemplateVersion } from './domain/template.js'
import type {
  CreateTemplateInput,
  ListTemplatesInput,
  ListTemplateVersionsInput,
  PreviewTemplateInput,
  SetTemplateSettingsInput,
  TemplateRefInput,
  TemplateSettingsRefInput,
  UpdateTemplateInput,
} from './domain/template-inputs.js'
import { assertRole, type Principal, TenantScope } from './domain/tenant-scope.js'
import { parseInput } from './domain/validation.js'
import type { BreakerView } from './ports/breaker-repository.js'
import type { CancelResult } from './ports/outbox-repository.js'
import type { MessagingStorage } from './ports/unit-of-work.js'
import type { WakeSignal } from './ports/wake-signal.js'

/**
 * The module's facade. Every call takes the authenticated principal first; the module
 * checks its tenant scope and role before any store is touched, and the store checks again.
 *
 * @example
 * const { message } = await messaging.enqueue(principal, {
 *   infrastructureId, channelKey: 'ops-alerts', payload: { text: 'disk 91% full' }, idempotencyKey: 'disk-91',
 * })
 */
export class Messaging {
  constructor(
    private readonly channels: ChannelService,
    private readonly members: MembershipService,
    private readonly outbox: OutboxService,
    private readonly audit: AuditService,
    private readonly delivery: DeliveryService,
    private readonly deadLetters: DeadLetterService,
    /** In-app inboxes; the in-app transport writes through it. */
    readonly inbox: InboxService,
    private readonly storage: MessagingStorage,
    /** The channel types this instance accepts, with their config schemas. */
    readonly channelTypes: ChannelTypeRegistry,
    /** Wakes idle workers after an enqueue commits. */
    readonly wake: WakeSignal,
    private readonly profiles: ProfileService,
    private readonly categories: CategoryService,
    private readonly preferences: PreferenceService,
    /** Notification templates: the lookup a notify call makes and the rendering at delivery. */
    readonly templates: TemplateService,
    private readonly notifications: NotifyService,
    /** Cancel and reschedule. */
    private readonly schedule: ScheduleService,
    /** Where channels may send: the policy a channel is checked against when saved, for the transports to share. */
    readonly destinations: DestinationPolicy = {},
    private readonly events: EventService,
    private readonly receipts: ReceiptService,
    private readonly eventEndpoints: EventEndpointService,
  ) {}

  /** Creates a channel (`infra_admin`). The returned config has its secrets redacted. */
  async createChannel(principal: Principal, input: CreateChannelInput): Promise<ChannelView> {
    return this.channels.create(TenantScope.of(principal), input)
  }

  /** Changes a channel's name, config, enabled flag or attempts (`infra_admin`). */
  async configureChannel(principal: Principal, input: ConfigureChannelInput): Promise<ChannelView> {
    return this.channels.configure(TenantScope.of(principal), input)
  }

  /**
   * Key rotation: seals every channel secret and status webhook signing secret of an
   * infrastructure again under the active key (`infra_admin`); `resealed` counts both.
   */
  async resealSecrets(principal: Principal, input: ResealSecretsInput): Promise<{ resealed: number }> {
    const scope = TenantScope.of(principal)
    const { resealed } = await this.channels.resealSecrets(scope, input)
    // The status webhook endpoints' signing secrets too, so the old key can go (counted with the channels).
    return { resealed: resealed + (await this.eventEndpoints.resealSecrets(scope, input)) }
  }

  async getChannel(principal: Principal, input: ChannelRefInput): Promise<ChannelView> {
    return this.channels.get(TenantScope.of(principal), input)
  }

  async listChannels(principal: Principal, input: ListChannelsInput): Promise<ChannelView[]> {
    return this.channels.list(TenantScope.of(principal), input)
  }

  /** Links a user to a channel (`infra_admin`). */
  async addMember(principal: Principal, input: AddMemberInput): Promise<Membership> {
    return this.members.add(TenantScope.of(principal), input)
  }

  async removeMember(principal: Principal, input: MemberRefInput): Promise<void> {
    return this.members.remove(TenantScope.of(principal), input)
  }

  /** Opts the caller (or, for an `infra_admin`, any member) into or out of a channel's alerts. */
  async setOptIn(principal: Principal, input: SetOptInInput): Promise<Membership> {
    return this.members.setOptIn(TenantScope.of(principal), input)
  }

  async listMembers(principal: Principal, input: ChannelRefInput): Promise<Membership[]> {
    return this.members.listByChannel(TenantScope.of(principal), input)
  }

  /** Memberships with their channel's metadata, in one call. */
  async listMemberships(principal: Principal, input: ListMembershipsInput): Promise<MembershipView[]> {
    return this.members.listViews(TenantScope.of(principal), input)
  }

  /** Appends a message; a repeated idempotency key returns the first message. */
  async enqueue(principal: Principal, input: EnqueueInput): Promise<EnqueueResult> {
    return this.outbox.enqueue(TenantScope.of(principal), input)
  }

  /**
   * Appends up to 1,000 messages in one unit of work, all or nothing: a bad item is a
   * ValidationError naming `items.<i>.<field>` and nothing is written. One result per item,
   * in order; each created message has its own audit entry.
   */
  async enqueueMany(principal: Principal, inputs: EnqueueManyInput): Promise<EnqueueResult[]> {
    return this.outbox.enqueueMany(TenantScope.of(principal), inputs)
  }

  async getMessage(principal: Principal, input: MessageRefInput): Promise<OutboxMessage> {
    return this.outbox.get(TenantScope.of(principal), input)
  }

  async listMessages(principal: Principal, input: ListMessagesInput): Promise<OutboxMessage[]> {
    return this.outbox.list(TenantScope.of(principal), input)
  }

  /** Leases a batch of due messages (`service`). */
  async claim(principal: Principal, input: ClaimInput = {}): Promise<ClaimedMessage[]> {
    return this.delivery.claimInput(TenantScope.of(principal), input)
  }

  /**
   * Settles a held message, fenced by its lease token (`service`): the attempt is recorded
   * (`listAttempts`) and the ack audited, exactly as a delivery worker's.
   */
  async ack(principal: Principal, input: AckInput): Promise<AckResult> {
    return this.delivery.ack(TenantScope.of(principal), input)
  }

  /**
   * The narrow interface a delivery worker runs on, bound to a `service` principal's scope
   * or, with `fleet: true`, to every tenant (host code only; on PostgreSQL the worker login).
   *
   * @example
   * const worker = createDeliveryWorker({ delivery: messaging.deliveryPort({ fleet: true, workerId }), transports })
   */
  deliveryPort(
    options: { readonly principal: Principal } | { readonly fleet: true; readonly workerId: string },
  ): DeliveryPort {
    const scope =
      'principal' in options ? TenantScope.of(options.principal) : TenantScope.fleet(options.workerId)
    // Refused here rather than at the first claim: a worker with the wrong principal never starts.
    assertRole(scope, 'outbox.claim', 'service')
    return createDeliveryPort(this.delivery, scope, this.wake, this.templates)
  }

  /**
   * A tenant's delivery events, oldest first (`infra_admin` or `service`): page on with the
   * last event's `cursor` as `after`; none is ever skipped, whenever it committed.
   */
  async listEvents(principal: Principal, input: ListEventsInput): Promise<DeliveryEvent[]> {
    return this.events.list(TenantScope.of(principal), input)
  }

  /**
   * Follows a tenant's delivery events live (`service`): each event after `after` (else from
   * now on) reaches `sink.event`, in the log's order; returns the function that stops it.
   */
  async followEvents(
    principal: Principal,
    input: FollowEventsInput,
    sink: EventStreamSink,
  ): Promise<() => void> {
    return this.events.follow(TenantScope.of(principal), input, sink)
  }

  /**
   * A provider's delivery receipt, as it arrived at `POST /receipts/{kind}/...` (host code:
   * the receipt's signature, made with the secret of the channel it names, is what admits
   * it, not a principal). A `processed` message becomes `confirmed` or `bounced` and its
   * event is written in the same unit of work; a receipt for a message in any other state
   * changes nothing (`outcome: 'unchanged'`). Unsigned or wrongly signed: UnauthenticatedError;
   * an unknown channel or message: NotFoundError; nothing written either way.
   */
  async receiveReceipt(input: ReceiptInput): Promise<ReceiptResult> {
    return this.receipts.receive(input)
  }

  /**
   * Registers a status webhook endpoint (`infra_admin`): the tenant's delivery events after
   * now, of `eventTypes` (default every type), are POSTed to `url` one per request, signed
   * per Standard Webhooks with the returned `secret`, which no later read shows.
   *
   * @example
   * const { endpoint, secret } = await messaging.createEventEndpoint(admin, {
   *   infrastructureId, url: 'https://hooks.example.com/messaging', eventTypes: ['message.dead'],
   * })
   */
  async createEventEndpoint(
    principal: Principal,
    input: CreateEventEndpointInput,
  ): Promise<EventEndpointWithSecret> {
    return this.eventEndpoints.create(TenantScope.of(principal), input)
  }

  /** The tenant's status webhook endpoints with their state (`infra_admin`); never a secret. */
  async listEventEndpoints(
    principal: Principal,
    input: ListEventEndpointsInput,
  ): Promise<EventEndpointView[]> {
    return this.eventEndpoints.list(TenantScope.of(principal), input)
  }

  async getEventEndpoint(principal: Principal, input: EventEndpointRefInput): Promise<EventEndpointView> {
    return this.eventEndpoints.get(TenantScope.of(principal), input)
  }

  /** Changes `url`, `eventTypes` or `enabled` (`infra_admin`); enabling restarts a failing endpoint's retries now. */
  async updateEventEndpoint(
    principal: Principal,
    input: UpdateEventEndpointInput,
  ): Promise<EventEndpointView> {
    return this.eventEndpoints.update(TenantScope.of(principal), input)
  }

  /** A new signing secret, returned this once (`infra_admin`); requests are signed with it from now on. */
  async rotateEventEndpointSecret(
    principal: Principal,
    input: EventEndpointRefInput,
  ): Promise<EventEndpointWithSecret> {
    return this.eventEndpoints.rotateSecret(TenantScope.of(principal), input)
  }

  async deleteEventEndpoint(principal: Principal, input: EventEndpointRefInput): Promise<void> {
    return this.eventEndpoints.remove(TenantScope.of(principal), input)
  }

  /**
   * What a status webhook dispatcher runs on (`createEventDispatcher`), bound to a `service`
   * principal's tenants or, with `fleet: true`, to every tenant (host code only).
   */
  eventDispatchPort(
    options: { readonly principal: Principal } | { readonly fleet: true; readonly workerId: string },
  ): EventDispatchPort {
    const scope =
      'principal' in options ? TenantScope.of(options.principal) : TenantScope.fleet(options.workerId)
    assertRole(scope, 'event_endpoint.dispatch', 'service')
    return createEventDispatchPort(this.eventEndpoints, scope)
  }

  /** The audit trail of one infrastructure, newest first (`infra_admin` or `service`). */
  async listAudit(principal: Principal, input: ListAuditInput): Promise<AuditEntry[]> {
    return this.audit.list(TenantScope.of(principal), input)
  }

  /**
   * Records a call the host refused before it reached the module (the HTTP surface's
   * enqueue quota) as a `refused` audit entry by the principal, within its scope.
   */
  async recordRefusal(principal: Principal, refusal: Refusal): Promise<void> {
    return this.audit.recordRefusal(TenantScope.of(principal), refusal)
  }

  /** Dead messages with their last error, oldest first. */
  async listDeadLetters(principal: Principal, input: ListDeadLettersInput): Promise<OutboxMessage[]> {
    return this.deadLetters.listDeadLetters(TenantScope.of(principal), input)
  }

  /** Every delivery attempt of one message: time, outcome, error (secrets redacted), duration. */
  async listAttempts(principal: Principal, input: MessageRefInput): Promise<DeliveryAttempt[]> {
    return this.deadLetters.listAttempts(TenantScope.of(principal), input)
  }

  /** Sends a dead or failed message round again with fresh attempts (`infra_admin` or `service`). */
  async redrive(principal: Principal, input: MessageRefInput): Promise<OutboxMessage> {
    return this.deadLetters.redrive(TenantScope.of(principal), input)
  }

  /** Redrives every dead message of one channel. */
  async redriveChannel(principal: Principal, input: RedriveChannelInput): Promise<{ redriven: number }> {
    return this.deadLetters.redriveChannel(TenantScope.of(principal), input)
  }

  /**
   * Cancels one message, every message of a notification, or what an idempotency key
   * produced (`infra_admin` or `service`; audited). Each named message nobody holds becomes
   * `cancelled`; one a worker holds under a live lease is returned in `kept` and its
   * delivery settles it, so a message is never both sent and cancelled.
   *
   * @example
   * const { cancelled, kept } = await messaging.cancel(admin, { infrastructureId, notificationId })
   */
  async cancel(principal: Principal, input: CancelInput): Promise<CancelResult> {
    return this.schedule.cancel(TenantScope.of(principal), input)
  }

  /**
   * Moves a pending message's due time (`infra_admin` or `service`; audited). Any other
   * state is refused with ILLEGAL_TRANSITION naming it.
   */
  async reschedule(principal: Principal, input: RescheduleInput): Promise<OutboxMessage> {
    return this.schedule.reschedule(TenantScope.of(principal), input)
  }

  /**
   * A tenant's circuit breakers that are open or half open (channels whose messages wait
   * for their endpoint to recover): any role with a grant for the infrastructure.
   */
  async listBreakers(principal: Principal, input: ListBreakersInput): Promise<BreakerView[]> {
    const { infrastructureId } = parseInput(listBreakersInput, input)
    return this.delivery.listBreakers(TenantScope.of(principal), infrastructureId)
  }

  /** Queue health per tenant and channel within the principal's grants. */
  async stats(principal: Principal, input: StatsInput = {}): Promise<ChannelStats[]> {
    return this.deadLetters.stats(TenantScope.of(principal), input)
  }

  /**
   * One tenant's queue over its last minutes (60 by default, at most 120), oldest first:
   * per minute of the store's clock, enqueued, delivered, failed attempts, dead and the
   * backlog (pending or in flight) at the minute's end. `infra_admin` or `service` with an
   * infrastructure-wide grant.
   */
  async queueHistory(principal: Principal, input: QueueHistoryInput): Promise<QueueMinute[]> {
    return this.deadLetters.queueHistory(TenantScope.of(principal), input)
  }

  /**
   * Retention: removes messages settled before `olderThan`, or longer ago than
   * `olderThanMs` by the store's clock. Host code only (it runs with the store owner's
   * rights); on PostgreSQL it throws StorageError without an owner connection.
   */
  async prune(options: PruneInput): Promise<number> {
    const input = parseInput(pruneInput, options)
    return this.storage.prune({
      olderThan: input.olderThan ?? { ageMs: input.olderThanMs! },
      batchSize: input.batchSize,
    })
  }

  /**
   * The security log: refusals outside each caller's scope (a tenant it holds no grant on),
   * counted per caller, role, action, error code and hour, newest first. They are never
   * written into that tenant's audit trail. Host code only, for operators (on PostgreSQL it
   * reads with the store owner's rights); throws StorageError where the store cannot.
   */
  async listSecurityEvents(options: ListSecurityEventsInput = {}): Promise<SecurityEvent[]> {
    const input = parseInput(listSecurityEventsInput, options)
    return this.storage.listSecurityEvents(input)
  }

  /** The caller's own in-app inbox, newest first. */
  async listInbox(principal: Principal, input: ListInboxInput): Promise<InboxEntry[]> {
    return this.inbox.list(TenantScope.of(principal), input)
  }

  /**
   * Follows the caller's own inbox live (what `GET /inbox/stream` serves): each new entry
   * and the unread count whenever it moves, sent to `sink`; with `after` (an entry event's
   * id) what came since first. Resolves once it listens; call the result to stop.
   */
  async followInbox(
    principal: Principal,
    input: FollowInboxInput,
    sink: InboxStreamSink,
  ): Promise<() => void> {
    return this.inbox.follow(TenantScope.of(principal), input, sink)
  }

  /** Unread, unarchived entries of the caller's inbox. */
  async countUnread(principal: Principal, input: InboxRefInput): Promise<{ unread: number }> {
    return this.inbox.countUnread(TenantScope.of(principal), input)
  }

  /** Marks the caller's own entries seen, read or archived. */
  async markInbox(principal: Principal, input: MarkInboxInput): Promise<{ changed: number }> {
    return this.inbox.mark(TenantScope.of(principal), input)
  }

  /**
   * Creates a recipient profile (`infra_admin`) or changes the fields given (absent:
   * unchanged, null: cleared). A member changes only `email`, `phone`, `locale`,
   * `timeZone` and `quietHours` of its own existing profile.
   *
   * @example
   * await messaging.upsertProfile(admin, { infrastructureId, userId, email: 'ada@example.com', locale: 'de-DE' })
   */
  async upsertProfile(principal: Principal, input: UpsertProfileInput): Promise<RecipientProfile> {
    return this.profiles.upsert(TenantScope.of(principal), input)
  }

  /** A profile: the caller's own (no `userId`), or, for an admin or worker, one of a business it reaches. */
  async getProfile(principal: Principal, input: ProfileRefInput): Promise<RecipientProfile> {
    return this.profiles.get(TenantScope.of(principal), input)
  }

  /**
   * Sets (or, with `quietHours: null`, removes) the infrastructure's default quiet hours, for
   * recipients who set none of their own (`infra_admin` with an infrastructure-wide grant).
   *
   * @example
   * await messaging.setQuietHoursDefault(admin, { infrastructureId, quietHours: { start: '21:00', end: '08:00' } })
   */
  async setQuietHoursDefault(
    principal: Principal,
    input: SetQuietHoursDefaultInput,
  ): Promise<QuietHoursDefault | null> {
    return this.profiles.setQuietHoursDefault(TenantScope.of(principal), input)
  }

  /** The infrastructure's default quiet hours; null when none. */
  async getQuietHoursDefault(
    principal: Principal,
    input: QuietHoursDefaultRefInput,
  ): Promise<QuietHoursDefault | null> {
    return this.profiles.getQuietHoursDefault(TenantScope.of(principal), input)
  }

  /** The profiles the caller may see, by user id (`infra_admin`, `service`). */
  async listProfiles(principal: Principal, input: ListProfilesInput): Promise<RecipientProfile[]> {
    return this.profiles.list(TenantScope.of(principal), input)
  }

  /** Removes a profile (`infra_admin`). */
  async deleteProfile(principal: Principal, input: DeleteProfileInput): Promise<void> {
    return this.profiles.delete(TenantScope.of(principal), input)
  }

  /**
   * Creates a notification category (`infra_admin`): its key, name, whether it is critical,
   * and the tenant's channel that serves each channel type for it.
   *
   * @example
   * await messaging.createCategory(admin, { infrastructureId, key: 'invoice.paid', name: 'Invoice paid',
   *   channels: { in_app: { channelKey: 'alerts' }, email: { channelKey: 'billing-email' } } })
   */
  async createCategory(principal: Principal, input: CreateCategoryInput): Promise<Category> {
    return this.categories.create(TenantScope.of(principal), input)
  }

  /** Changes a category (`infra_admin`); marking it critical or not is audited. */
  async updateCategory(principal: Principal, input: UpdateCategoryInput): Promise<Category> {
    return this.categories.update(TenantScope.of(principal), input)
  }

  async getCategory(principal: Principal, input: CategoryRefInput): Promise<Category> {
    return this.categories.get(TenantScope.of(principal), input)
  }

  async listCategories(principal: Principal, input: ListCategoriesInput): Promise<Category[]> {
    return this.categories.list(TenantScope.of(principal), input)
  }

  /**
   * Sets the caller's own choice for a category over a channel type (`enabled: null` takes
   * it back); an `infra_admin` may set anyone's. Returns the cell as it now resolves.
   */
  async setPreference(principal: Principal, input: SetPreferenceInput): Promise<PreferenceCell> {
    return this.preferences.set(TenantScope.of(principal), input)
  }

  /** A user's preferences grid (the caller's own without `userId`): what resolves for each category and channel type, and why. */
  async getPreferences(principal: Principal, input: PreferenceGridInput): Promise<PreferenceGrid> {
    return this.preferences.grid(TenantScope.of(principal), input)
  }

  /** Sets (or, with `enabled: null`, takes back) a tenant default for a business or the whole infrastructure (`infra_admin`). */
  async setTenantDefault(principal: Principal, input: SetTenantDefaultInput): Promise<TenantDefault | null> {
    return this.preferences.setDefault(TenantScope.of(principal), input)
  }

  async listTenantDefaults(principal: Principal, input: ListTenantDefaultsInput): Promise<TenantDefault[]> {
    return this.preferences.listDefaults(TenantScope.of(principal), input)
  }

  /**
   * The first version of a template for (category, channel type, locale), in Liquid
   * (`infra_admin`, audited). A field that does not parse is a ValidationError naming
   * `content.<field>`; a key that has a template already is a ConflictError.
   */
  async createTemplate(principal: Principal, input: CreateTemplateInput): Promise<TemplateVersion> {
    return this.templates.create(TenantScope.of(principal), input)
  }

  /**
   * Saves the next version of a template (`infra_admin`, audited); messages enqueued before
   * keep rendering the version they recorded. With `baseVersion`, a save made meanwhile by
   * someone else is a ConflictError.
   */
  async updateTemplate(principal: Principal, input: UpdateTemplateInput): Promise<TemplateVersion> {
    return this.templates.update(TenantScope.of(principal), input)
  }

  /** The current version of a template, or `version`. */
  async getTemplate(principal: Principal, input: TemplateRefInput): Promise<TemplateVersion> {
    return this.templates.get(TenantScope.of(principal), input)
  }

  /** The current version of each template of a tenant, by category, channel type and locale. */
  async listTemplates(principal: Principal, input: ListTemplatesInput): Promise<TemplateVersion[]> {
    return this.templates.list(TenantScope.of(principal), input)
  }

  /** A template's versions, newest first. */
  async listTemplateVersions(
    principal: Principal,
    input: ListTemplateVersionsInput,
  ): Promise<TemplateVersion[]> {
    return this.templates.listVersions(TenantScope.of(principal), input)
  }

  /** Renders a draft with sample data and sends nothing (`infra_admin`). */
  async previewTemplate(principal: Principal, input: PreviewTemplateInput): Promise<TemplatePreview> {
    return this.templates.preview(TenantScope.of(principal), input)
  }

  /** The tenant's template settings (its default locale; `en` until an admin sets one). */
  async getTemplateSettings(
    principal: Principal,
    input: TemplateSettingsRefInput,
  ): Promise<TemplateSettings> {
    return this.templates.getSettings(TenantScope.of(principal), input)
  }

  /** Sets the tenant's default locale, the last fallback of every template lookup (`infra_admin`, audited). */
  async setTemplateSettings(
    principal: Principal,
    input: SetTemplateSettingsInput,
  ): Promise<TemplateSettings> {
    return this.templates.setSettings(TenantScope.of(principal), input)
  }

  /**
   * Notifies people of one event (`infra_admin` or `service`). In one unit of work: the
   * recipients within the caller's scope (users by id, or a channel's opted-in members), each
   * one's channel types by preference, the tenant's channel for each type from the category,
   * the address from the profile; one notification, one outbox message per recipient and
   * channel, and one skip per recipient and channel type left out (`opted_out`, `no_address`,
   * `no_channel`, `unknown_recipient`). Idempotent on `idempotencyKey`. On PostgreSQL it joins
   * the host's transaction (`storage.withTransaction`) like an enqueue.
   *
   * @example
   * const { notification } = await messaging.notify(service, {
   *   infrastructureId, category: 'invoice.paid', to: { users: [ada, grace] },
   *   data: { invoice: 'INV-1042', amount: '€120.00' }, idempotencyKey: 'invoice-1042-paid',
   * })
   */
  async notify(principal: Principal, input: NotifyInput): Promise<NotifyResult> {
    return this.notifications.notify(TenantScope.of(principal), input)
  }

  /**
   * A notification with each recipient x channel: state (`pending`, `delivered`, `failed`,
   * `dead`, `skipped` with its reason), attempts and last error (secrets redacted); counts per
   * state; deliveries paged in (user, channel type) order (`infra_admin` or `service`).
   */
  async getNotification(principal: Principal, input: NotificationRefInput): Promise<NotificationStatus> {
    return this.notifications.status(TenantScope.of(principal), input)
  }

  /** Notifications newest first, by business, category, recipient and time (`infra_admin` or `service`). */
  async listNotifications(principal: Principal, input: ListNotificationsInput): Promise<Notification[]> {
    return this.notifications.list(TenantScope.of(principal), input)
  }

  /**
   * Per category, how many deliveries its per-recipient throttle skipped since `since`
   * (default: the last 24 hours): what the console's health view shows (`infra_admin` or `service`).
   */
  async throttledCounts(principal: Principal, input: ThrottledCountsInput): Promise<ThrottledCount[]> {
    return this.notifications.throttledCounts(TenantScope.of(principal), input)
  }

  /** Closes the store. */
  close(): Promise<void> {
    return this.storage.close()
  }
}
