import { z } from 'zod'
import {
  type AckInput,
  type AddMemberInput,
  ackInput,
  addMemberInput,
  type CancelInput,
  type ChannelRefInput,
  type ClaimInput,
  type ConfigureChannelInput,
  type CreateChannelInput,
  cancelInput,
  channelRefInput,
  claimInput,
  configureChannelInput,
  createChannelInput,
  type EnqueueInput,
  type EnqueueManyInput,
  enqueueInput,
  enqueueManyInput,
  type FollowEventsInput,
  type FollowInboxInput,
  followEventsInput,
  followInboxInput,
  type InboxRefInput,
  inboxRefInput,
  type ListAuditInput,
  type ListBreakersInput,
  type ListChannelsInput,
  type ListDeadLettersInput,
  type ListEventsInput,
  type ListInboxInput,
  type ListMembershipsInput,
  type ListMessagesInput,
  listAuditInput,
  listBreakersInput,
  listChannelsInput,
  listDeadLettersInput,
  listEventsInput,
  listInboxInput,
  listMembershipsInput,
  listMessagesInput,
  type MarkInboxInput,
  type MemberRefInput,
  type MessageRefInput,
  markInboxInput,
  memberRefInput,
  messageRefInput,
  type QueueHistoryInput,
  queueHistoryInput,
  type RedriveChannelInput,
  type RescheduleInput,
  type ResealSecretsInput,
  redriveChannelInput,
  rescheduleInput,
  resealSecretsInput,
  type SetOptInInput,
  type StatsInput,
  setOptInInput,
  statsInput,
} from '../domain/inputs.js'
import { assertRole, TenantScope } from '../domain/tenant-scope.js'
import { parseInput } from '../domain/validation.js'
import { PROMETHEUS_CONTENT_TYPE, prometheusText } from '../telemetry/prometheus.js'
import { tenantQueues } from '../telemetry/queue-series.js'
import { EVENT_ENDPOINT_ROUTES } from './event-endpoint-routes.js'
import { EVENT_STREAM_CONTENT_TYPE, eventFrame, inboxEventStream, sseBody } from './inbox-stream.js'
import { NOTIFY_ROUTES, RECIPIENT_ROUTES } from './notify-routes.js'
import { RECEIPT_ROUTES } from './receipt-routes.js'
import { Reply, type RouteContext, type RouteDef } from './router.js'
import {
  ackResultSchema,
  auditEntrySchema,
  breakerSchema,
  cancelResultSchema,
  channelSchema,
  channelStatsSchema,
  deliveryAttemptSchema,
  deliveryEventSchema,
  enqueueResultSchema,
  inboxEntrySchema,
  markInboxResultSchema,
  membershipSchema,
  membershipViewSchema,
  outboxMessageSchema,
  queueMinuteSchema,
  redriveChannelResultSchema,
  unreadCountSchema,
} from './schemas.js'
import { TEMPLATE_ROUTES } from './template-routes.js'

const listChannelTypesInput = z.strictObject({})

/** The batch enqueue's body: `items`, each an enqueue body. */
const enqueueBatchInput = z.strictObject({ items: enqueueManyInput })
const enqueueBatchEnvelope = z.strictObject({ items: z.unknown() })

// Converted once per schema: a custom type's schema may be large, and it never changes.
const configSchemas = new WeakMap<z.ZodType, Record<string, unknown>>()
const configJsonSchema = (schema: z.ZodType): Record<string, unknown> => {
  let json = configSchemas.get(schema)
  if (!json) {
    // Input side: defaults are optional to send; what cannot be represented reads as "any".
    json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>
    configSchemas.set(schema, json)
  }
  return json
}

const link = (ctx: RouteContext, path: string, infrastructureId: string) =>
  `${ctx.basePath}${path}?infrastructureId=${encodeURIComponent(infrastructureId)}`

/**
 * The endpoints, relative to the base path. One entry per route: add an entry, and the
 * router, the input assembly and the OpenAPI document all pick it up.
 */
export const ROUTES: readonly RouteDef[] = [
  // The blueprint's three endpoints.
  {
    method: 'POST',
    path: '/queue',
    operationId: 'enqueueMessage',
    statuses: [201, 200],
    tag: 'outbox',
    summary: 'Append a message to the outbox',
    description:
      'Any role with a grant for the tenant (and the business, when given). An `Idempotency-Key` header or body field makes retries safe: a repeated key answers 200 with the first message; a new message answers 201.',
    input: enqueueInput,
    from: 'body',
    headers: { 'idempotency-key': 'idempotencyKey' },
    quota: true,
    response: enqueueResultSchema,
    run: async (m, p, i, ctx) => {
      const r = await m.enqueue(p, i as EnqueueInput)
      const location = link(ctx, `/messages/${r.message.id}`, r.message.infrastructureId)
      return new Reply(r.created ? 201 : 200, r, r.created ? { location } : {})
    },
  },
  {
    method: 'POST',
    path: '/queue/batch',
    operationId: 'enqueueMessages',
    statuses: [201, 200],
    tag: 'outbox',
    summary: 'Append up to 1,000 messages to the outbox, all or nothing',
    description:
      'Each item is an enqueue body (`POST /queue`), with its own `idempotencyKey` if any. Every item is validated and every tenant checked before anything is written: a bad item answers 400 naming `items.<i>.<field>`, and nothing is written. The results come in the order of the items (`created: false` for a repeated idempotency key); the answer is 201 when any message is new, 200 when every item repeats a key. With an enqueue quota, each item spends one token of its tenant.',
    input: enqueueBatchInput,
    from: 'body',
    quota: 'items',
    response: z.array(enqueueResultSchema),
    run: async (m, p, i) => {
      // The envelope only: the facade validates the items and names a bad one `items.<i>.<field>`.
      const { items } = parseInput(enqueueBatchEnvelope, i)
      const results = await m.enqueueMany(p, items as EnqueueManyInput)
      return new Reply(results.some((r) => r.created) ? 201 : 200, results)
    },
  },
  {
    method: 'POST',
    path: '/channel',
    operationId: 'upsertChannel',
    statuses: [201, 200],
    tag: 'channels',
    summary: 'Create a channel, or configure one when `channelId` is given',
    description:
      '`infra_admin` only. Without `channelId` the body is a CreateChannelInput and the answer is 201; with it, a ConfigureChannelInput (a patch) and the answer is 200. Secrets read back as "[redacted]"; sending that marker back keeps the stored secret.',
    input: z.union([createChannelInput, configureChannelInput]),
    from: 'body',
    response: channelSchema,
    run: async (m, p, i, ctx) => {
      if (i.channelId !== undefined) return m.configureChannel(p, i as ConfigureChannelInput)
      const c = await m.createChannel(p, i as CreateChannelInput)
      return new Reply(201, c, { location: link(ctx, `/channels/${c.id}`, c.infrastructureId) })
    },
  },
  {
    method: 'POST',
    path: '/ack',
    operationId: 'ackMessage',
    tag: 'outbox',
    summary: 'Settle a claimed message as processed or failed',
    description: '`service` only; fenced by the lease token (a stale ack answers `acked: false`).',
    input: ackInput,
    from: 'body',
    response: ackResultSchema,
    run: (m, p, i) => m.ack(p, i as AckInput),
  },
  // Reads and calls for the client and an admin.
  {
    method: 'POST',
    path: '/claim',
    operationId: 'claimMessages',
    tag: 'outbox',
    summary: 'Lease a batch of due messages',
    description: '`service` only.',
    input: claimInput,
    from: 'body',
    response: z.array(outboxMessageSchema),
    run: (m, p, i) => m.claim(p, i as ClaimInput),
  },
  {
    method: 'GET',
    path: '/channels',
    operationId: 'listChannels',
    tag: 'channels',
    summary: "List a tenant's channels",
    input: listChannelsInput,
    from: 'query',
    response: z.array(channelSchema),
    run: (m, p, i) => m.listChannels(p, i as ListChannelsInput),
  },
  {
    method: 'GET',
    path: '/channel-types',
    operationId: 'listChannelTypes',
    tag: 'channels',
    summary: 'The channel types this instance accepts, with the JSON Schema of each config',
    description:
      'Any authenticated caller (types are not tenant data). `secretPaths` name the write-only config fields; a form generated from `configSchema` validates like the module does.',
    input: listChannelTypesInput,
    from: 'query',
    response: z.array(
      z.object({
        type: z.string(),
        secretPaths: z.array(z.string()),
        configSchema: z.record(z.string(), z.unknown()).describe('JSON Schema 2020-12 of the config'),
      }),
    ),
    run: async (m, _p, i) => {
      // No facade call parses this input, so the route does: unknown parameters are refused.
      parseInput(listChannelTypesInput, i)
      return m.channelTypes.types().map((type) => {
        const def = m.channelTypes.get(type)
        return { type, secretPaths: def.secretPaths, configSchema: configJsonSchema(def.configSchema) }
      })
    },
  },
  {
    method: 'GET',
    path: '/channels/:channelId',
    operationId: 'getChannel',
    tag: 'channels',
    summary: 'Get one channel',
    input: channelRefInput,
    from: 'query',
    response: channelSchema,
    run: (m, p, i) => m.getChannel(p, i as ChannelRefInput),
  },
  {
    method: 'GET',
    path: '/channels/:channelId/members',
    operationId: 'listChannelMembers',
    tag: 'members',
    summary: "List a channel's members",
    input: channelRefInput,
    from: 'query',
    response: z.array(membershipSchema),
    run: (m, p, i) => m.listMembers(p, i as ChannelRefInput),
  },
  {
    method: 'POST',
    path: '/channels/:channelId/members',
    operationId: 'addMember',
    tag: 'members',
    summary: 'Add a user to a channel',
    description: '`infra_admin` only.',
    input: addMemberInput,
    from: 'body',
    status: 201,
    response: membershipSchema,
    run: (m, p, i) => m.addMember(p, i as AddMemberInput),
  },
  {
    method: 'DELETE',
    path: '/channels/:channelId/members/:userId',
    operationId: 'removeMember',
    tag: 'members',
    summary: 'Remove a user from a channel',
    description: '`infra_admin` only.',
    input: memberRefInput,
    from: 'query',
    status: 204,
    response: null,
    run: (m, p, i) => m.removeMember(p, i as MemberRefInput),
  },
  {
    method: 'PUT',
    path: '/channels/:channelId/opt-in',
    operationId: 'setOptIn',
    tag: 'members',
    summary: "Opt into or out of a channel's alerts",
    description: 'For the caller, or (`infra_admin` only) for the member named by `userId`.',
    input: setOptInInput,
    from: 'body',
    response: membershipSchema,
    run: (m, p, i) => m.setOptIn(p, i as SetOptInInput),
  },
  {
    method: 'GET',
    path: '/memberships',
    operationId: 'listMemberships',
    tag: 'members',
    summary: 'Memberships with their channel metadata (the memberships view)',
    input: listMembershipsInput,
    from: 'query',
    response: z.array(membershipViewSchema),
    run: (m, p, i) => m.listMemberships(p, i as ListMembershipsInput),
  },
  {
    method: 'GET',
    path: '/messages',
    operationId: 'listMessages',
    tag: 'outbox',
    summary: "List a tenant's outbox messages",
    description: '`businessId=null` selects the infrastructure-wide messages.',
    input: listMessagesInput,
    from: 'query',
    response: z.array(outboxMessageSchema),
    run: (m, p, i) => m.listMessages(p, i as ListMessagesInput),
  },
  {
    method: 'GET',
    path: '/messages/:messageId',
    operationId: 'getMessage',
    tag: 'outbox',
    summary: 'Get one outbox message',
    input: messageRefInput,
    from: 'query',
    response: outboxMessageSchema,
    run: (m, p, i) => m.getMessage(p, i as MessageRefInput),
  },
  {
    method: 'GET',
    path: '/audit',
    operationId: 'listAudit',
    tag: 'audit',
    summary: "A tenant's audit trail, newest first",
    description: '`infra_admin` or `service`.',
    input: listAuditInput,
    from: 'query',
    response: z.array(auditEntrySchema),
    run: (m, p, i) => m.listAudit(p, i as ListAuditInput),
  },
  {
    method: 'GET',
    path: '/events',
    operationId: 'listEvents',
    tag: 'events',
    summary: "A tenant's delivery events, oldest first",
    description:
      "`infra_admin` or `service`. Page on with the last event's `cursor` as `after`: no event is skipped, whenever it committed.",
    input: listEventsInput,
    from: 'query',
    response: z.array(deliveryEventSchema),
    run: (m, p, i) => m.listEvents(p, i as ListEventsInput),
  },
  {
    method: 'GET',
    path: '/events/stream',
    operationId: 'streamEvents',
    tag: 'events',
    summary: "A tenant's delivery events, live (server-sent events)",
    description:
      "`service` only. A `text/event-stream` of the tenant's delivery events in the log's order: each an SSE event named by its type (`message.delivered`, ...), its data the event as `GET /events` returns it, its id the event's `cursor`. A `Last-Event-ID` header (an EventSource sends it when it reconnects), or `after`, resumes: the events since are sent first, none skipped. Without either the stream starts after the newest event. Comment lines every 15 s keep the connection open. Nothing of another tenant is ever sent.",
    input: followEventsInput,
    from: 'query',
    response: z.string().describe('text/event-stream: one event per delivery event, named by its type.'),
    produces: EVENT_STREAM_CONTENT_TYPE,
    run: async (m, p, i, ctx) => {
      // The header an EventSource sends on reconnect is newer than the `after` of its URL.
      const last = ctx.request.headers.get('last-event-id')
      const input = { ...(i as FollowEventsInput), ...(last !== null && last !== '' && { after: last }) }
      const body = await sseBody((sink) => m.followEvents(p, input, sink), eventFrame, 'event stream', {
        heartbeatMs: ctx.heartbeatMs,
        signal: ctx.request.signal,
        ...(ctx.report && { onFailure: ctx.report }),
      })
      return new Reply(200, body)
    },
  },
  ...EVENT_ENDPOINT_ROUTES,
  // Delivery: dead letters, attempts, redrive, queue health.
  {
    method: 'GET',
    path: '/dead-letters',
    operationId: 'listDeadLetters',
    tag: 'delivery',
    summary: "A tenant's dead messages, oldest first, with their last error",
    description: 'Any role with a grant for the infrastructure; `after` (a message id) pages on.',
    input: listDeadLettersInput,
    from: 'query',
    response: z.array(outboxMessageSchema),
    run: (m, p, i) => m.listDeadLetters(p, i as ListDeadLettersInput),
  },
  {
    method: 'GET',
    path: '/messages/:messageId/attempts',
    operationId: 'listAttempts',
    tag: 'delivery',
    summary: 'Every delivery attempt of one message, oldest first',
    description:
      'Time, outcome, error code and text (secrets redacted), duration and provider id of each attempt.',
    input: messageRefInput,
    from: 'query',
    response: z.array(deliveryAttemptSchema),
    run: (m, p, i) => m.listAttempts(p, i as MessageRefInput),
  },
  {
    method: 'POST',
    path: '/messages/:messageId/redrive',
    operationId: 'redriveMessage',
    tag: 'delivery',
    summary: 'Send a dead or failed message round again with fresh attempts',
    description:
      '`infra_admin` or `service`; audited. A message in another state answers 409 ILLEGAL_TRANSITION.',
    input: messageRefInput,
    from: 'body',
    response: outboxMessageSchema,
    run: (m, p, i) => m.redrive(p, i as MessageRefInput),
  },
  // Between enqueue and send: cancel and reschedule.
  {
    method: 'POST',
    path: '/messages/:messageId/cancel',
    operationId: 'cancelMessage',
    tag: 'delivery',
    summary: 'Cancel a message nobody holds: pending (due or scheduled), or held under a lapsed lease',
    description:
      '`infra_admin` or `service`; audited. A message a worker holds under a live lease is returned in `kept` (its delivery settles it), as is one already settled or cancelled.',
    input: cancelInput,
    from: 'body',
    response: cancelResultSchema,
    run: (m, p, i) => m.cancel(p, i as CancelInput),
  },
  {
    method: 'POST',
    path: '/notifications/:notificationId/cancel',
    operationId: 'cancelNotification',
    tag: 'delivery',
    summary: 'Cancel every message of a notification that nobody holds',
    description: '`infra_admin` or `service`; one audit entry per message cancelled.',
    input: cancelInput,
    from: 'body',
    response: cancelResultSchema,
    run: (m, p, i) => m.cancel(p, i as CancelInput),
  },
  {
    method: 'POST',
    path: '/messages/cancel',
    operationId: 'cancelByIdempotencyKey',
    tag: 'delivery',
    summary: 'Cancel what an idempotency key produced in a tenant (and business)',
    description:
      '`infra_admin` or `service`. The body names `idempotencyKey` (and `businessId` when the key was used in a business): the message of a plain enqueue and the messages of a notify that carried the key.',
    input: cancelInput,
    from: 'body',
    response: cancelResultSchema,
    run: (m, p, i) => m.cancel(p, i as CancelInput),
  },
  {
    method: 'POST',
    path: '/messages/:messageId/reschedule',
    operationId: 'rescheduleMessage',
    tag: 'delivery',
    summary: "Move a pending message's due time",
    description:
      '`infra_admin` or `service`; audited. A message in any other state answers 409 ILLEGAL_TRANSITION naming it.',
    input: rescheduleInput,
    from: 'body',
    response: outboxMessageSchema,
    run: (m, p, i) => m.reschedule(p, i as RescheduleInput),
  },
  {
    method: 'POST',
    path: '/channels/:channelId/redrive',
    operationId: 'redriveChannel',
    tag: 'delivery',
    summary: 'Send every dead message of a channel round again',
    description: '`infra_admin` or `service`; audited once with the count.',
    input: redriveChannelInput,
    from: 'body',
    response: redriveChannelResultSchema,
    run: (m, p, i) => m.redriveChannel(p, i as RedriveChannelInput),
  },
  {
    method: 'POST',
    path: '/channels/reseal-secrets',
    operationId: 'resealSecrets',
    tag: 'channels',
    summary: 'Seal every channel secret of a tenant again under the active key',
    description:
      'Key rotation, `infra_admin`; audited once with the count. Afterwards `secrets[].keyIds` name only the active key.',
    input: resealSecretsInput,
    from: 'body',
    response: z.object({ resealed: z.number().int() }),
    run: (m, p, i) => m.resealSecrets(p, i as ResealSecretsInput),
  },
  {
    method: 'GET',
    path: '/stats',
    operationId: 'stats',
    tag: 'delivery',
    summary: 'Queue health per tenant and channel',
    description:
      "Pending, in flight, processed, failed, dead and the oldest due pending age, per (infrastructure, channel) within the caller's grants; `infrastructureId` narrows to one.",
    input: statsInput,
    from: 'query',
    response: z.array(channelStatsSchema),
    run: (m, p, i) => m.stats(p, i as StatsInput),
  },
  {
    method: 'GET',
    path: '/stats/history',
    operationId: 'queueHistory',
    tag: 'delivery',
    summary: "One tenant's queue over its last minutes",
    description:
      "Per minute of the store's clock, oldest first, one entry per minute: messages enqueued, delivered, failed attempts, dead, and the backlog (pending or in flight) at the minute's end. `minutes`: 60 by default, at most 120. `infra_admin` or `service` with an infrastructure-wide grant.",
    input: queueHistoryInput,
    from: 'query',
    response: z.array(queueMinuteSchema),
    run: (m, p, i) => m.queueHistory(p, i as QueueHistoryInput),
  },
  {
    method: 'GET',
    path: '/breakers',
    operationId: 'listBreakers',
    tag: 'delivery',
    summary: "A tenant's open circuit breakers",
    description:
      'Channels whose breaker is open (their messages wait, attempts not spent) or half open (one probe delivery under way), oldest opened first. Any role with a grant for the infrastructure.',
    input: listBreakersInput,
    from: 'query',
    response: z.array(breakerSchema),
    run: (m, p, i) => m.listBreakers(p, i as ListBreakersInput),
  },
  {
    method: 'GET',
    path: '/metrics',
    operationId: 'metrics',
    tag: 'delivery',
    summary: 'Queue metrics in the Prometheus text format',
    description:
      "The queue as Prometheus gauges (text exposition format 0.0.4): messages by tenant and state, the oldest due pending message's age and the dead letters per tenant, within the caller's grants (a tenant-scoped service or admin principal sees its own tenants' series only). For `service` and `infra_admin` principals; a member is refused (403). At most 100 tenants get series of their own (the largest backlogs); the rest are summed under `infrastructure_id=\"_other\"`.",
    input: z.strictObject({}),
    from: 'query',
    response: z.string().describe('Prometheus text exposition format, version 0.0.4.'),
    produces: PROMETHEUS_CONTENT_TYPE,
    run: async (m, p) => {
      assertRole(TenantScope.of(p), 'metrics', 'service', 'infra_admin')
      return prometheusText(tenantQueues(await m.stats(p)))
    },
  },
  // The caller's own in-app inbox.
  {
    method: 'GET',
    path: '/inbox',
    operationId: 'listInbox',
    tag: 'inbox',
    summary: "The caller's own in-app inbox, newest first",
    description: '`before` (an entry id) pages on; archived entries only with `includeArchived=true`.',
    input: listInboxInput,
    from: 'query',
    response: z.array(inboxEntrySchema),
    run: (m, p, i) => m.listInbox(p, i as ListInboxInput),
  },
  {
    method: 'GET',
    path: '/inbox/stream',
    operationId: 'streamInbox',
    tag: 'inbox',
    summary: "The caller's own inbox, live (server-sent events)",
    description:
      "A `text/event-stream` of the caller's own inbox in one infrastructure: an `unread` event (`{\"unread\": n}`) on connect and whenever the count moves, and an `entry` event (the entry, as `GET /inbox` returns it) for each new entry, its event id the entry's place (`<createdAt ms>.<entry id>`). A `Last-Event-ID` header (an EventSource sends it when it reconnects), or `after`, resumes: the unarchived entries created since are sent first. Comment lines every 15 s keep the connection open. Nothing of another user's inbox is ever sent.",
    input: followInboxInput,
    from: 'query',
    response: z.string().describe('text/event-stream: `entry` and `unread` events.'),
    produces: EVENT_STREAM_CONTENT_TYPE,
    run: async (m, p, i, ctx) => {
      // The header an EventSource sends on reconnect is newer than the `after` of its URL.
      const last = ctx.request.headers.get('last-event-id')
      const input = { ...(i as FollowInboxInput), ...(last !== null && last !== '' && { after: last }) }
      const body = await inboxEventStream(m, p, input, {
        heartbeatMs: ctx.heartbeatMs,
        signal: ctx.request.signal,
        ...(ctx.report && { onFailure: ctx.report }),
      })
      return new Reply(200, body)
    },
  },
  {
    method: 'GET',
    path: '/inbox/unread-count',
    operationId: 'countUnread',
    tag: 'inbox',
    summary: "Unread, unarchived entries of the caller's inbox",
    input: inboxRefInput,
    from: 'query',
    response: unreadCountSchema,
    run: (m, p, i) => m.countUnread(p, i as InboxRefInput),
  },
  {
    method: 'POST',
    path: '/inbox/mark',
    operationId: 'markInbox',
    tag: 'inbox',
    summary: "Mark entries of the caller's inbox seen, read or archived",
    description:
      '`entryIds` lists entries, or is `"all"`; entries of other users are left alone (not counted).',
    input: markInboxInput,
    from: 'body',
    response: markInboxResultSchema,
    run: (m, p, i) => m.markInbox(p, i as MarkInboxInput),
  },
  ...TEMPLATE_ROUTES,
  // Recipients: profiles, categories, preferences.
  ...RECIPIENT_ROUTES,
  // Notify, and the notifications' status.
  ...NOTIFY_ROUTES,
  ...RECEIPT_ROUTES,
]
