import type { NotifyResult } from '../application/notify-service.js'
import type { AckResult, EnqueueResult } from '../application/outbox-service.js'
import type { TemplatePreview } from '../application/template-service.js'
import type { AuditEntry } from '../domain/audit.js'
import type { BreakerView } from '../domain/breaker.js'
import type { Category } from '../domain/category.js'
import type { ChannelView as Channel } from '../domain/channel.js'
import type { ChannelStats, DeliveryAttempt } from '../domain/delivery.js'
import type {
  CreateEventEndpointInput,
  EventEndpointRefInput,
  EventEndpointView,
  EventEndpointWithSecret,
  UpdateEventEndpointInput,
} from '../domain/event-endpoint.js'
import type { DeliveryEvent } from '../domain/events.js'
import type { InboxEntry } from '../domain/inbox.js'
import type {
  AckInput,
  AddMemberInput,
  ClaimInput,
  ConfigureChannelInput,
  CreateChannelInput,
  EnqueueInput,
  ListAuditInput,
  ListBreakersInput,
  ListChannelsInput,
  ListDeadLettersInput,
  ListEventsInput,
  ListInboxInput,
  ListMembershipsInput,
  ListMessagesInput,
  MarkInboxInput,
  MemberRefInput,
  QueueHistoryInput,
  SetOptInInput,
  StatsInput,
} from '../domain/inputs.js'
import type { Membership, MembershipView } from '../domain/membership.js'
import type { Notification, NotificationStatus, ThrottledCount } from '../domain/notification.js'
import type {
  CreateCategoryInput,
  ListNotificationsInput,
  ListProfilesInput,
  ListTenantDefaultsInput,
  NotificationRefInput,
  NotifyInput,
  PreferenceGridInput,
  QuietHoursDefaultRefInput,
  SetPreferenceInput,
  SetQuietHoursDefaultInput,
  SetTenantDefaultInput,
  ThrottledCountsInput,
  UpdateCategoryInput,
  UpsertProfileInput,
} from '../domain/notify-inputs.js'
import type { ClaimedMessage, OutboxMessage } from '../domain/outbox-message.js'
import type { PreferenceCell, PreferenceGrid, TenantDefault } from '../domain/preference.js'
import type { QueueMinute } from '../domain/queue-history.js'
import type { QuietHoursDefault } from '../domain/quiet-hours.js'
import type { ReceiptKind, ReceiptResult } from '../domain/receipts.js'
import type { RecipientProfile } from '../domain/recipient-profile.js'
import type { TemplateSettings, TemplateVersion } from '../domain/template.js'
import type {
  CreateTemplateInput,
  ListTemplatesInput,
  ListTemplateVersionsInput,
  PreviewTemplateInput,
  SetTemplateSettingsInput,
  TemplateRefInput,
  UpdateTemplateInput,
} from '../domain/template-inputs.js'
import type { Principal } from '../domain/tenant-scope.js'
import type { ProblemDetails } from '../http/problem.js'
import { errorFromProblem, MessagingHttpError } from './errors.js'
import { readServerSentEvents, type ServerSentEvent } from './event-stream.js'

/** What `streamInbox` passes on: a new entry with its event id, or the unread count. */
export type InboxStreamEvent =
  | { readonly type: 'entry'; readonly id: string; readonly entry: InboxEntry }
  | { readonly type: 'unread'; readonly unread: number }

export interface MessagingClientOptions {
  /** The handler's base URL, base path included: `https://api.example.com/functions/v1/messaging`. */
  readonly baseUrl: string | URL
  /** A bearer token per request (refreshed by the host); none: no Authorization header. */
  readonly getToken?: () => string | null | undefined | Promise<string | null | undefined>
  /** Default `globalThis.fetch`. */
  readonly fetch?: typeof fetch
  /** Used wherever a call leaves `infrastructureId` out. */
  readonly infrastructureId?: string
  /** Sent with every request (a tracing header, say). */
  readonly headers?: Readonly<Record<string, string>>
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

/** A JSON Schema (2020-12) object, as the handler generates it from a zod schema. */
export type JsonSchema = { readonly [key: string]: unknown }

/** One channel type the handler accepts: `GET /channel-types`. */
export interface ChannelTypeInfo {
  readonly type: string
  /** Dotted config paths of write-only fields (`smtp.auth.pass`). */
  readonly secretPaths: readonly string[]
  readonly configSchema: JsonSchema
}

/** An input whose `infrastructureId` may fall back to the client's default. */
export type Scoped<T> = T extends { infrastructureId?: string }
  ? DistributiveOmit<T, 'infrastructureId'> & { infrastructureId?: string }
  : T

type Query = Record<string, string | number | boolean | null | undefined>

const dateOrNull = (v: unknown): Date | null => (typeof v === 'string' ? new Date(v) : null)

/** What a cancel did: the messages it cancelled, and those it named and left as they were. */
export type { BreakerView } from '../domain/breaker.js'

export interface CancelResult {
  readonly cancelled: OutboxMessage[]
  readonly kept: OutboxMessage[]
}

const reviveCancel = (r: CancelResult): CancelResult => ({
  cancelled: r.cancelled.map(revive.message),
  kept: r.kept.map(revive.message),
})

export type { QueueMinute } from '../domain/queue-history.js'

/** JSON carries dates as strings; the client hands back the domain's types, Dates included. */
const revive = {
  channel: (c: Channel): Channel => ({
    ...c,
    createdAt: new Date(c.createdAt),
    updatedAt: new Date(c.updatedAt),
  }),
  membership: <M extends Membership>(m: M): M => ({
    ...m,
    createdAt: new Date(m.createdAt),
    updatedAt: new Date(m.updatedAt),
  }),
  message: <M extends OutboxMessage>(m: M): M => ({
    ...m,
    createdAt: new Date(m.createdAt),
    availableAt: new Date(m.availableAt),
    leasedUntil: dateOrNull(m.leasedUntil),
    settledAt: dateOrNull(m.settledAt),
  }),
  audit: (a: AuditEntry): AuditEntry => ({ ...a, at: new Date(a.at) }),
  event: (e: DeliveryEvent): DeliveryEvent => ({ ...e, occurredAt: new Date(e.occurredAt) }),
  endpoint: (e: EventEndpointView): EventEndpointView => ({
    ...e,
    nextAttemptAt: new Date(e.nextAttemptAt),
    failingSince: dateOrNull(e.failingSince),
    createdAt: new Date(e.createdAt),
    updatedAt: new Date(e.updatedAt),
  }),
  attempt: (a: DeliveryAttempt): DeliveryAttempt => ({
    ...a,
    startedAt: new Date(a.startedAt),
    finishedAt: new Date(a.finishedAt),
  }),
  profile: (p: RecipientProfile): RecipientProfile => ({
    ...p,
    createdAt: new Date(p.createdAt),
    updatedAt: new Date(p.updatedAt),
  }),
  category: (c: Category): Category => ({
    ...c,
    createdAt: new Date(c.createdAt),
    updatedAt: new Date(c.updatedAt),
  }),
  tenantDefault: (d: TenantDefault): TenantDefault => ({ ...d, updatedAt: new Date(d.updatedAt) }),
  template: (t: TemplateVersion): TemplateVersion => ({ ...t, createdAt: new Date(t.createdAt) }),
  templateSettings: (t: TemplateSettings): TemplateSettings => ({ ...t, updatedAt: dateOrNull(t.updatedAt) }),
  notification: (n: Notification): Notification => ({
    ...n,
    createdAt: new Date(n.createdAt),
    availableAt: dateOrNull(n.availableAt),
  }),
  inbox: (e: InboxEntry): InboxEntry => ({
    ...e,
    createdAt: new Date(e.createdAt),
    seenAt: dateOrNull(e.seenAt),
    readAt: dateOrNull(e.readAt),
    archivedAt: dateOrNull(e.archivedAt),
  }),
}

/**
 * The typed client of the HTTP surface (the blueprint's frontend service), for browsers and
 * Node. Every method answers the domain's types or throws the module's typed errors,
 * rebuilt from the problem document's `code`.
 *
 * @example
 * const client = createMessagingClient({
 *   baseUrl: 'https://api.example.com/functions/v1/messaging',
 *   getToken: () => session.accessToken,
 *   infrastructureId,
 * })
 * const channels = await client.listMessagingChannels()
 * await client.enqueueMessage({ channelKey: 'ops-alerts', payload: { text: 'disk 91% full' } })
 */
export class MessagingClient {
  private readonly base: string
  private readonly fetchImpl: typeof fetch

  constructor(private readonly options: MessagingClientOptions) {
    this.base = String(options.baseUrl).replace(/\/+$/, '')
    const f = options.fetch ?? globalThis.fetch
    // Bound: a bare `window.fetch` reference throws "Illegal invocation" when called as a method.
    this.fetchImpl = f.bind(globalThis)
  }

  /** Every channel type the instance accepts, with the JSON Schema of its config and its secret paths. */
  listChannelTypes(): Promise<ChannelTypeInfo[]> {
    return this.request('GET', '/channel-types', {})
  }

  /** The channels of the tenant, filtered by type or enabled flag. */
  async listMessagingChannels(filter: Scoped<ListChannelsInput> = {}): Promise<Channel[]> {
    const rows = await this.request<Channel[]>('GET', '/channels', { query: this.scoped(filter) })
    return rows.map(revive.channel)
  }

  async getChannel(channelId: string, infrastructureId?: string): Promise<Channel> {
    const query = this.scoped({ infrastructureId })
    return revive.channel(await this.request('GET', `/channels/${enc(channelId)}`, { query }))
  }

  /** `infra_admin`: a new channel. */
  async createChannel(input: Scoped<CreateChannelInput>): Promise<Channel> {
    return revive.channel(await this.request('POST', '/channel', { body: this.scoped(input) }))
  }

  /** `infra_admin`: a patch of name, config, enabled or maxAttempts. */
  async configureChannel(input: Scoped<ConfigureChannelInput>): Promise<Channel> {
    return revive.channel(await this.request('POST', '/channel', { body: this.scoped(input) }))
  }

  async listChannelMembers(channelId: string, infrastructureId?: string): Promise<Membership[]> {
    const query = this.scoped({ infrastructureId })
    const rows = await this.request<Membership[]>('GET', `/channels/${enc(channelId)}/members`, { query })
    return rows.map(revive.membership)
  }

  /** `infra_admin`. */
  async addMember(input: Scoped<AddMemberInput>): Promise<Membership> {
    const { channelId, ...body } = this.scoped(input)
    const path = `/channels/${enc(channelId)}/members`
    return revive.membership(await this.request('POST', path, { body }))
  }

  /** `infra_admin`. */
  async removeMember(input: Scoped<MemberRefInput>): Promise<void> {
    const { channelId, userId, ...query } = this.scoped(input)
    await this.request('DELETE', `/channels/${enc(channelId)}/members/${enc(userId)}`, { query })
  }

  /** The caller's own opt-in, or (`infra_admin`) another member's via `userId`. */
  async setOptIn(input: Scoped<SetOptInInput>): Promise<Membership> {
    const { channelId, ...body } = this.scoped(input)
    return revive.membership(await this.request('PUT', `/channels/${enc(channelId)}/opt-in`, { body }))
  }

  /** Memberships joined with their channel's metadata. */
  async listMemberships(filter: Scoped<ListMembershipsInput> = {}): Promise<MembershipView[]> {
    const rows = await this.request<MembershipView[]>('GET', '/memberships', { query: this.scoped(filter) })
    return rows.map(revive.membership)
  }

  /**
   * Appends a message. With an idempotency key (field or option), a retry returns the first
   * message and `created: false`.
   */
  async enqueueMessage(
    payload: Scoped<EnqueueInput>,
    options: { idempotencyKey?: string } = {},
  ): Promise<EnqueueResult> {
    const headers = options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : undefined
    const r = await this.request<EnqueueResult>('POST', '/queue', {
      body: this.scoped(payload),
      ...(headers && { headers }),
    })
    return { ...r, message: revive.message(r.message) }
  }

  /**
   * Appends up to 1,000 messages in one request, all or nothing: a bad item is a 400 naming
   * `items.<i>.<field>` and nothing is written. Each item takes the client's
   * `infrastructureId` when it names none. Results in the order of the items.
   */
  async enqueueMessages(items: readonly Scoped<EnqueueInput>[]): Promise<EnqueueResult[]> {
    const rows = await this.request<EnqueueResult[]>('POST', '/queue/batch', {
      body: { items: items.map((item) => this.scoped(item)) },
    })
    return rows.map((r) => ({ ...r, message: revive.message(r.message) }))
  }

  async getMessage(messageId: string, infrastructureId?: string): Promise<OutboxMessage> {
    const query = this.scoped({ infrastructureId })
    return revive.message(await this.request('GET', `/messages/${enc(messageId)}`, { query }))
  }

  async listMessages(filter: Scoped<ListMessagesInput> = {}): Promise<OutboxMessage[]> {
    const rows = await this.request<OutboxMessage[]>('GET', '/messages', { query: this.scoped(filter) })
    return rows.map(revive.message)
  }

  /** `service`: leases due messages (of every granted tenant unless `infrastructureId` is given). */
  async claim(input: ClaimInput = {}): Promise<ClaimedMessage[]> {
    const rows = await this.request<ClaimedMessage[]>('POST', '/claim', { body: input })
    return rows.map(revive.message)
  }

  /** `service`: settles a claimed message, fenced by its lease token. */
  ack(input: Scoped<AckInput>): Promise<AckResult> {
    return this.request('POST', '/ack', { body: this.scoped(input) })
  }

  /** `infra_admin` or `service`. */
  async listAudit(filter: Scoped<ListAuditInput> = {}): Promise<AuditEntry[]> {
    const rows = await this.request<AuditEntry[]>('GET', '/audit', { query: this.scoped(filter) })
    return rows.map(revive.audit)
  }

  /**
   * `infra_admin` or `service`: the tenant's delivery events, oldest first. Page on with the
   * last event's `cursor` as `after`.
   */
  async listEvents(filter: Scoped<ListEventsInput> = {}): Promise<DeliveryEvent[]> {
    const rows = await this.request<DeliveryEvent[]>('GET', '/events', { query: this.scoped(filter) })
    return rows.map(revive.event)
  }

  /** `infra_admin`: registers a status webhook endpoint; the result's `secret` is shown this once. */
  async createEventEndpoint(input: Scoped<CreateEventEndpointInput>): Promise<EventEndpointWithSecret> {
    const r = await this.request<EventEndpointWithSecret>('POST', '/event-endpoints', {
      body: this.scoped(input),
    })
    return { ...r, endpoint: revive.endpoint(r.endpoint) }
  }

  /** `infra_admin`: the tenant's status webhook endpoints, with their state (never a secret). */
  async listEventEndpoints(infrastructureId?: string): Promise<EventEndpointView[]> {
    const query = this.scoped({ infrastructureId })
    const rows = await this.request<EventEndpointView[]>('GET', '/event-endpoints', { query })
    return rows.map(revive.endpoint)
  }

  async getEventEndpoint(input: Scoped<EventEndpointRefInput>): Promise<EventEndpointView> {
    const { endpointId, ...query } = this.scoped(input)
    return revive.endpoint(await this.request('GET', `/event-endpoints/${enc(endpointId)}`, { query }))
  }

  /** `infra_admin`: `enabled: true` restarts a failing or disabled endpoint's retries now. */
  async updateEventEndpoint(input: Scoped<UpdateEventEndpointInput>): Promise<EventEndpointView> {
    const { endpointId, ...body } = this.scoped(input)
    return revive.endpoint(await this.request('PUT', `/event-endpoints/${enc(endpointId)}`, { body }))
  }

  async rotateEventEndpointSecret(input: Scoped<EventEndpointRefInput>): Promise<EventEndpointWithSecret> {
    const { endpointId, ...body } = this.scoped(input)
    const path = `/event-endpoints/${enc(endpointId)}/rotate-secret`
    const r = await this.request<EventEndpointWithSecret>('POST', path, { body })
    return { ...r, endpoint: revive.endpoint(r.endpoint) }
  }

  async deleteEventEndpoint(input: Scoped<EventEndpointRefInput>): Promise<void> {
    const { endpointId, ...query } = this.scoped(input)
    await this.request('DELETE', `/event-endpoints/${enc(endpointId)}`, { query })
  }

  /** Dead messages of the tenant (optionally one channel), oldest first, with their last error. */
  async listDeadLetters(filter: Scoped<ListDeadLettersInput> = {}): Promise<OutboxMessage[]> {
    const rows = await this.request<OutboxMessage[]>('GET', '/dead-letters', { query: this.scoped(filter) })
    return rows.map(revive.message)
  }

  /** Every delivery attempt of one message, oldest first (errors with secrets redacted). */
  async listAttempts(messageId: string, infrastructureId?: string): Promise<DeliveryAttempt[]> {
    const query = this.scoped({ infrastructureId })
    const rows = await this.request<DeliveryAttempt[]>('GET', `/messages/${enc(messageId)}/attempts`, {
      query,
    })
    return rows.map(revive.attempt)
  }

  /** `infra_admin` or `service`: a dead or failed message goes round again with fresh attempts. */
  async redriveMessage(messageId: string, infrastructureId?: string): Promise<OutboxMessage> {
    const body = this.scoped({ infrastructureId })
    return revive.message(await this.request('POST', `/messages/${enc(messageId)}/redrive`, { body }))
  }

  /**
   * `infra_admin` or `service`: cancels one message, if nobody holds it. One a worker holds
   * under a live lease comes back in `kept`; its delivery settles it.
   */
  async cancelMessage(messageId: string, infrastructureId?: string): Promise<CancelResult> {
    const body = this.scoped({ infrastructureId })
    return reviveCancel(await this.request('POST', `/messages/${enc(messageId)}/cancel`, { body }))
  }

  /** `infra_admin` or `service`: cancels every message of a notification that nobody holds. */
  async cancelNotification(notificationId: string, infrastructureId?: string): Promise<CancelResult> {
    const body = this.scoped({ infrastructureId })
    return reviveCancel(await this.request('POST', `/notifications/${enc(notificationId)}/cancel`, { body }))
  }

  /** `infra_admin` or `service`: cancels what an idempotency key produced (a plain enqueue's message, a notify's fan-out). */
  async cancelByIdempotencyKey(
    idempotencyKey: string,
    options: { businessId?: string | null; infrastructureId?: string } = {},
  ): Promise<CancelResult> {
    const body = this.scoped({ idempotencyKey, ...options })
    return reviveCancel(await this.request('POST', '/messages/cancel', { body }))
  }

  /** `infra_admin` or `service`: moves a pending message's due time; any other state is ILLEGAL_TRANSITION. */
  async rescheduleMessage(
    messageId: string,
    availableAt: Date,
    infrastructureId?: string,
  ): Promise<OutboxMessage> {
    const body = this.scoped({ infrastructureId, availableAt: availableAt.toISOString() })
    return revive.message(await this.request('POST', `/messages/${enc(messageId)}/reschedule`, { body }))
  }

  /** `infra_admin` or `service`: every dead message of the channel goes round again. */
  /** `infra_admin`: key rotation, every channel secret of the tenant sealed again under the active key. */
  resealSecrets(infrastructureId?: string): Promise<{ resealed: number }> {
    return this.request('POST', '/channels/reseal-secrets', { body: this.scoped({ infrastructureId }) })
  }

  redriveChannel(channelId: string, infrastructureId?: string): Promise<{ redriven: number }> {
    const body = this.scoped({ infrastructureId })
    return this.request('POST', `/channels/${enc(channelId)}/redrive`, { body })
  }

  /**
   * Queue health per tenant and channel. Like `claim`, it ignores the client's default
   * tenant: without `infrastructureId`, every tenant of the caller's grants.
   */
  stats(filter: StatsInput = {}): Promise<ChannelStats[]> {
    return this.request('GET', '/stats', { query: { ...filter } })
  }

  /**
   * Posts a provider's delivery receipt to `POST /receipts/{kind}/{infrastructureId}/{channelId}`
   * as the provider sent it: `body` exactly as signed, with its content type and signature
   * headers (`x-twilio-signature`; `webhook-id`, `webhook-timestamp`, `webhook-signature`).
   * For a host that takes receipts at an endpoint of its own and hands them on. The route
   * admits a receipt by its signature; the client's token goes with it but decides nothing.
   */
  async postReceipt(
    kind: ReceiptKind,
    channelId: string,
    receipt: { readonly body: string; readonly headers: Readonly<Record<string, string>> },
    infrastructureId?: string,
  ): Promise<ReceiptResult> {
    const tenant = this.scoped({ infrastructureId }).infrastructureId ?? ''
    const path = `/receipts/${enc(kind)}/${enc(tenant)}/${enc(channelId)}`
    const res = await this.send('POST', path, { headers: { ...receipt.headers }, rawBody: receipt.body })
    const text = await res.text()
    if (res.ok) return JSON.parse(text) as ReceiptResult
    throw this.failure(res, text)
  }

  /**
   * One tenant's queue over its last minutes (60 by default, at most 120), oldest first:
   * enqueued, delivered, failed attempts, dead and the backlog per minute.
   */
  async queueHistory(filter: Scoped<QueueHistoryInput> = {}): Promise<QueueMinute[]> {
    const rows = await this.request<QueueMinute[]>('GET', '/stats/history', { query: this.scoped(filter) })
    return rows.map((m) => ({ ...m, minute: new Date(m.minute) }))
  }

  /**
   * A tenant's circuit breakers that are open or half open: channels whose messages wait for
   * their endpoint to recover. Any role with a grant for the tenant.
   */
  async listBreakers(filter: Scoped<ListBreakersInput> = {}): Promise<BreakerView[]> {
    const rows = await this.request<BreakerView[]>('GET', '/breakers', { query: this.scoped(filter) })
    return rows.map((b) => ({ ...b, openedAt: dateOrNull(b.openedAt), retryAt: dateOrNull(b.retryAt) }))
  }

  /** The caller's own in-app inbox, newest first. */
  async listInbox(filter: Scoped<ListInboxInput> = {}): Promise<InboxEntry[]> {
    const rows = await this.request<InboxEntry[]>('GET', '/inbox', { query: this.scoped(filter) })
    return rows.map(revive.inbox)
  }

  /** Unread, unarchived entries of the caller's inbox. */
  countUnread(infrastructureId?: string): Promise<{ unread: number }> {
    return this.request('GET', '/inbox/unread-count', { query: this.scoped({ infrastructureId }) })
  }

  /**
   * Follows the caller's own inbox live (`GET /inbox/stream`, server-sent events read with
   * fetch, so the same bearer token goes with it): `onEvent` gets each new entry (with its
   * `id`, the place to resume `after`) and the unread count whenever it moves. Resolves when
   * the server ends the stream or `signal` aborts it; rejects with the typed error of a
   * refusal, or the network's.
   */
  async streamInbox(options: {
    readonly infrastructureId?: string
    /** Resume after this entry event id: what came since is sent first. */
    readonly after?: string
    readonly signal?: AbortSignal
    readonly onEvent: (event: InboxStreamEvent) => void
  }): Promise<void> {
    await this.follow('/inbox/stream', options, (e) => {
      if (e.event === 'entry' && e.id !== null) {
        options.onEvent({ type: 'entry', id: e.id, entry: revive.inbox(JSON.parse(e.data) as InboxEntry) })
      } else if (e.event === 'unread') {
        options.onEvent({ type: 'unread', unread: (JSON.parse(e.data) as { unread: number }).unread })
      }
    })
  }

  /**
   * `service`: follows the tenant's delivery events live (`GET /events/stream`, server-sent
   * events read with fetch): `onEvent` gets each event, in the log's order, dates revived;
   * pass the last one's `cursor` as `after` to resume without loss. Resolves when the server
   * ends the stream or `signal` aborts it; rejects with the typed error of a refusal.
   */
  async streamEvents(options: {
    readonly infrastructureId?: string
    /** Resume after this event's cursor: what came since is sent first. */
    readonly after?: string
    readonly signal?: AbortSignal
    readonly onEvent: (event: DeliveryEvent) => void
  }): Promise<void> {
    await this.follow('/events/stream', options, (e) => {
      if (e.event.includes('.')) options.onEvent(revive.event(JSON.parse(e.data) as DeliveryEvent))
    })
  }

  /**
   * Reads a server-sent event stream with fetch (so the bearer token goes with it) until the
   * server ends it or `signal` aborts it; a refusal rejects with its typed error.
   */
  private async follow(
    path: string,
    options: { readonly infrastructureId?: string; readonly after?: string; readonly signal?: AbortSignal },
    onEvent: (event: ServerSentEvent) => void,
  ): Promise<void> {
    const res = await this.send('GET', path, {
      query: this.scoped({ infrastructureId: options.infrastructureId, after: options.after }),
      headers: { accept: 'text/event-stream' },
      ...(options.signal && { signal: options.signal }),
    })
    if (!res.ok) throw this.failure(res, await res.text())
    if (!res.body) return
    try {
      await readServerSentEvents(res.body, onEvent)
    } catch (e) {
      if (options.signal?.aborted) return
      throw e
    }
  }

  /** Marks the caller's own entries (or `'all'`) seen, read or archived. */
  markInbox(input: Scoped<MarkInboxInput>): Promise<{ changed: number }> {
    return this.request('POST', '/inbox/mark', { body: this.scoped(input) })
  }

  /** Who the caller is, as the host authenticated it: user id, role and grants. */
  getSession(): Promise<Principal> {
    return this.request('GET', '/session', {})
  }

  /**
   * A recipient profile: the caller's own without `userId`, else (admin, worker) that user's.
   */
  async getProfile(userId?: string, infrastructureId?: string): Promise<RecipientProfile> {
    const query = this.scoped({ infrastructureId })
    const path = userId === undefined ? '/profile' : `/profiles/${enc(userId)}`
    return revive.profile(await this.request('GET', path, { query }))
  }

  /**
   * Creates or changes a profile (fields left out stay, `null` clears). Without `userId`, the
   * caller's own (a member: only `email`, `phone`, `locale`, `timeZone`).
   */
  async upsertProfile(input: Scoped<UpsertProfileInput>): Promise<RecipientProfile> {
    const { userId, ...body } = this.scoped(input)
    const path = userId === undefined ? '/profile' : `/profiles/${enc(userId)}`
    return revive.profile(await this.request('PUT', path, { body }))
  }

  /** `infra_admin` or `service`: the profiles the caller may see, by user id. */
  async listProfiles(filter: Scoped<ListProfilesInput> = {}): Promise<RecipientProfile[]> {
    const rows = await this.request<RecipientProfile[]>('GET', '/profiles', { query: this.scoped(filter) })
    return rows.map(revive.profile)
  }

  /** `infra_admin`. */
  async deleteProfile(userId: string, infrastructureId?: string): Promise<void> {
    await this.request('DELETE', `/profiles/${enc(userId)}`, { query: this.scoped({ infrastructureId }) })
  }

  async listCategories(infrastructureId?: string): Promise<Category[]> {
    const rows = await this.request<Category[]>('GET', '/categories', {
      query: this.scoped({ infrastructureId }),
    })
    return rows.map(revive.category)
  }

  async getCategory(categoryKey: string, infrastructureId?: string): Promise<Category> {
    const query = this.scoped({ infrastructureId })
    return revive.category(await this.request('GET', `/categories/${enc(categoryKey)}`, { query }))
  }

  /** `infra_admin`. */
  async createCategory(input: Scoped<CreateCategoryInput>): Promise<Category> {
    return revive.category(await this.request('POST', '/categories', { body: this.scoped(input) }))
  }

  /** `infra_admin`: a patch of name, description, critical or channels. */
  async updateCategory(input: Scoped<UpdateCategoryInput>): Promise<Category> {
    const { categoryKey, ...body } = this.scoped(input)
    return revive.category(await this.request('PUT', `/categories/${enc(categoryKey)}`, { body }))
  }

  /** A user's preferences grid (the caller's own without `userId`). */
  getPreferences(filter: Scoped<PreferenceGridInput> = {}): Promise<PreferenceGrid> {
    return this.request('GET', '/preferences', { query: this.scoped(filter) })
  }

  /** Sets (or, `enabled: null`, takes back) a user's own choice; answers the cell as it now resolves. */
  setPreference(input: Scoped<SetPreferenceInput>): Promise<PreferenceCell> {
    return this.request('PUT', '/preferences', { body: this.scoped(input) })
  }

  async listTenantDefaults(filter: Scoped<ListTenantDefaultsInput> = {}): Promise<TenantDefault[]> {
    const rows = await this.request<TenantDefault[]>('GET', '/preference-defaults', {
      query: this.scoped(filter),
    })
    return rows.map(revive.tenantDefault)
  }

  /** `infra_admin`: a tenant default (`enabled: null` takes it back; answers null then). */
  async setTenantDefault(input: Scoped<SetTenantDefaultInput>): Promise<TenantDefault | null> {
    const d = await this.request<TenantDefault | null>('PUT', '/preference-defaults', {
      body: this.scoped(input),
    })
    return d === null ? null : revive.tenantDefault(d)
  }

  /** The infrastructure's default quiet hours; null when none. */
  async getQuietHoursDefault(
    filter: Scoped<QuietHoursDefaultRefInput> = {},
  ): Promise<QuietHoursDefault | null> {
    const d = await this.request<QuietHoursDefault | null>('GET', '/quiet-hours-default', {
      query: this.scoped(filter),
    })
    return d === null ? null : { ...d, updatedAt: new Date(d.updatedAt) }
  }

  /** `infra_admin`: the infrastructure's default quiet hours (`quietHours: null` removes it; answers null then). */
  async setQuietHoursDefault(input: Scoped<SetQuietHoursDefaultInput>): Promise<QuietHoursDefault | null> {
    const d = await this.request<QuietHoursDefault | null>('PUT', '/quiet-hours-default', {
      body: this.scoped(input),
    })
    return d === null ? null : { ...d, updatedAt: new Date(d.updatedAt) }
  }

  /** The current version of each of the tenant's templates, narrowed by category, channel type or locale. */
  async listTemplates(filter: Scoped<ListTemplatesInput> = {}): Promise<TemplateVersion[]> {
    const rows = await this.request<TemplateVersion[]>('GET', '/templates', { query: this.scoped(filter) })
    return rows.map(revive.template)
  }

  /** The current version of a template, or `version`. */
  async getTemplate(ref: Scoped<TemplateRefInput>): Promise<TemplateVersion> {
    const { categoryKey, channelType, locale, ...query } = this.scoped(ref)
    return revive.template(
      await this.request('GET', templatePath({ categoryKey, channelType, locale }), { query }),
    )
  }

  /** `infra_admin`: version 1 of a template. A field that does not parse is a ValidationError naming `content.<field>`. */
  async createTemplate(input: Scoped<CreateTemplateInput>): Promise<TemplateVersion> {
    return revive.template(await this.request('POST', '/templates', { body: this.scoped(input) }))
  }

  /** `infra_admin`: the next version. With `baseVersion`, a save made meanwhile by someone else is a ConflictError. */
  async updateTemplate(input: Scoped<UpdateTemplateInput>): Promise<TemplateVersion> {
    const { categoryKey, channelType, locale, ...body } = this.scoped(input)
    return revive.template(
      await this.request('PUT', templatePath({ categoryKey, channelType, locale }), { body }),
    )
  }

  /** A template's versions, newest first; `before` (a version number) pages on. */
  async listTemplateVersions(ref: Scoped<ListTemplateVersionsInput>): Promise<TemplateVersion[]> {
    const { categoryKey, channelType, locale, ...query } = this.scoped(ref)
    const path = `${templatePath({ categoryKey, channelType, locale })}/versions`
    const rows = await this.request<TemplateVersion[]>('GET', path, { query })
    return rows.map(revive.template)
  }

  /** `infra_admin`: renders a draft with sample data; sends and stores nothing. */
  previewTemplate(input: Scoped<PreviewTemplateInput>): Promise<TemplatePreview> {
    return this.request('POST', '/templates/preview', { body: this.scoped(input) })
  }

  /** The tenant's default locale (`en` until an admin sets one). */
  async getTemplateSettings(infrastructureId?: string): Promise<TemplateSettings> {
    const query = this.scoped({ infrastructureId })
    return revive.templateSettings(await this.request('GET', '/template-settings', { query }))
  }

  /** `infra_admin`: the tenant's default locale, the last fallback of every template lookup. */
  async setTemplateSettings(input: Scoped<SetTemplateSettingsInput>): Promise<TemplateSettings> {
    return revive.templateSettings(
      await this.request('PUT', '/template-settings', { body: this.scoped(input) }),
    )
  }

  /**
   * Notifies people of one event (`infra_admin` or `service`): one message per recipient and
   * channel their preferences allow, the rest recorded as skipped with the reason. With an
   * idempotency key (field or option), a retry returns the first notification and `created: false`.
   */
  async notify(input: Scoped<NotifyInput>, options: { idempotencyKey?: string } = {}): Promise<NotifyResult> {
    const headers = options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : undefined
    const r = await this.request<NotifyResult>('POST', '/notify', {
      body: this.scoped(input),
      ...(headers && { headers }),
    })
    return { ...r, notification: revive.notification(r.notification) }
  }

  /** A notification, its counts per state, and a page of its deliveries per recipient and channel. */
  async getNotification(
    notificationId: string,
    filter: Omit<Scoped<NotificationRefInput>, 'notificationId'> = {},
  ): Promise<NotificationStatus> {
    const r = await this.request<NotificationStatus>('GET', `/notifications/${enc(notificationId)}`, {
      query: this.scoped(filter),
    })
    return {
      ...r,
      notification: revive.notification(r.notification),
      deliveries: r.deliveries.map((d) => ({
        ...d,
        settledAt: dateOrNull(d.settledAt),
        availableAt: dateOrNull(d.availableAt),
      })),
      digested: (r.digested ?? []).map((d) => ({
        ...d,
        closesAt: new Date(d.closesAt),
        closedAt: dateOrNull(d.closedAt),
      })),
    }
  }

  /** Notifications newest first, by category, recipient, business and time. */
  async listNotifications(filter: Scoped<ListNotificationsInput> = {}): Promise<Notification[]> {
    const { since, until, ...rest } = this.scoped(filter)
    const query: Query = {
      ...rest,
      ...(since !== undefined && { since: new Date(since as string | number | Date).toISOString() }),
      ...(until !== undefined && { until: new Date(until as string | number | Date).toISOString() }),
    }
    const rows = await this.request<Notification[]>('GET', '/notifications', { query })
    return rows.map(revive.notification)
  }

  /** Per category, the deliveries its per-recipient throttle skipped since `since` (default: the last 24 hours). */
  async throttledCounts(filter: Scoped<ThrottledCountsInput> = {}): Promise<ThrottledCount[]> {
    const { since, ...rest } = this.scoped(filter)
    const query: Query = {
      ...rest,
      ...(since !== undefined && { since: new Date(since as string | number | Date).toISOString() }),
    }
    return this.request<ThrottledCount[]>('GET', '/notifications/throttled', { query })
  }

  /** The handler's OpenAPI 3.1 document. */
  openApiDocument(): Promise<Record<string, unknown>> {
    return this.request('GET', '/openapi.json', {})
  }

  private scoped<T extends { infrastructureId?: string | undefined }>(input: T): T {
    if (input.infrastructureId !== undefined || this.options.infrastructureId === undefined) return input
    return { ...input, infrastructureId: this.options.infrastructureId }
  }

  private async request<T>(
    method: string,
    path: string,
    opts: { query?: Query; body?: unknown; headers?: Record<string, string> },
  ): Promise<T> {
    const res = await this.send(method, path, opts)
    if (res.status === 204) return undefined as T
    const text = await res.text()
    if (res.ok) return JSON.parse(text) as T
    throw this.failure(res, text)
  }

  private async send(
    method: string,
    path: string,
    opts: {
      query?: Query
      body?: unknown
      /** Sent as it is, with the caller's content type (a signed receipt). */
      rawBody?: string
      headers?: Record<string, string>
      signal?: AbortSignal
    },
  ): Promise<Response> {
    // A relative base URL resolves against the page in a browser.
    const url = new URL(`${this.base}${path}`, (globalThis as { location?: { href: string } }).location?.href)
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, v === null ? 'null' : String(v))
    }
    const headers: Record<string, string> = {
      accept: 'application/json',
      ...this.options.headers,
      ...opts.headers,
    }
    const token = await this.options.getToken?.()
    if (token) headers.authorization = `Bearer ${token}`
    let body: string | undefined = opts.rawBody
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(opts.body)
    }
    return this.fetchImpl(url, {
      method,
      headers,
      ...(body !== undefined && { body }),
      ...(opts.signal && { signal: opts.signal }),
    })
  }

  private failure(res: Response, text: string): Error {
    const retry = res.headers.get('retry-after')
    const retryAfter = retry !== null && /^\d+$/.test(retry) ? Number(retry) : null
    let problem: unknown = null
    try {
      problem = JSON.parse(text)
    } catch {
      // Not JSON: a proxy's or gateway's page.
    }
    if (
      typeof problem === 'object' &&
      problem !== null &&
      typeof (problem as { code?: unknown }).code === 'string'
    ) {
      return errorFromProblem(res.status, problem as ProblemDetails, retryAfter)
    }
    return new MessagingHttpError(
      res.status,
      'HTTP_ERROR',
      `HTTP ${res.status} ${res.statusText}`.trim(),
      null,
    )
  }
}

const enc = (segment: string | undefined) => encodeURIComponent(segment ?? '')

const templatePath = (k: { categoryKey: string; channelType: string; locale: string }) =>
  `/templates/${enc(k.categoryKey)}/${enc(k.channelType)}/${enc(k.locale)}`

/** See {@link MessagingClient}. */
export function createMessagingClient(options: MessagingClientOptions): MessagingClient {
  return new MessagingClient(options)
}
