import { z } from 'zod'
import {
  type CreateEventEndpointInput,
  createEventEndpointInput,
  EVENT_ENDPOINT_STATUSES,
  type EventEndpointRefInput,
  type EventEndpointView,
  type EventEndpointWithSecret,
  eventEndpointRefInput,
  type ListEventEndpointsInput,
  listEventEndpointsInput,
  type UpdateEventEndpointInput,
  updateEventEndpointInput,
} from '../domain/event-endpoint.js'
import { EVENT_TYPES } from '../domain/events.js'
import { Reply, type RouteDef } from './router.js'
import { shapeOf } from './schemas.js'

const dateTime = z.iso.datetime()

export const eventEndpointSchema = shapeOf<EventEndpointView>()({
  infrastructureId: z.uuid(),
  id: z.uuid(),
  url: z.string(),
  eventTypes: z.array(z.enum(EVENT_TYPES)).nullable().describe('null: every event type.'),
  enabled: z.boolean(),
  status: z
    .enum(EVENT_ENDPOINT_STATUSES)
    .describe(
      '`disabled` (by an admin, or after 20 failures in a row), `failing` (retrying), else `active`.',
    ),
  cursor: z.string().nullable().describe('The last event accepted (or passed over, not being of its types).'),
  attempts: z.number().int().describe('Failed attempts at the next event since one was last accepted.'),
  nextAttemptAt: dateTime,
  lastError: z
    .string()
    .nullable()
    .describe('The last failure (status and a short, redacted body, or the network error).'),
  failingSince: dateTime.nullable(),
  createdAt: dateTime,
  updatedAt: dateTime,
})

export const eventEndpointWithSecretSchema = shapeOf<EventEndpointWithSecret>()({
  endpoint: eventEndpointSchema,
  secret: z
    .string()
    .describe('`whsec_<base64>`: the Standard Webhooks signing secret, shown this once and never again.'),
})

const ADMIN =
  '`infra_admin` of the tenant only (a `service` or `member` principal is refused with 403 `FORBIDDEN_ROLE`).'

/** Status webhook endpoints (docs/live.md, "Status webhooks"). */
export const EVENT_ENDPOINT_ROUTES: readonly RouteDef[] = [
  {
    method: 'GET',
    path: '/event-endpoints',
    operationId: 'listEventEndpoints',
    tag: 'events',
    summary: "A tenant's status webhook endpoints, oldest first",
    description: `${ADMIN} No signing secret is ever shown.`,
    input: listEventEndpointsInput,
    from: 'query',
    response: z.array(eventEndpointSchema),
    run: (m, p, i) => m.listEventEndpoints(p, i as ListEventEndpointsInput),
  },
  {
    method: 'POST',
    path: '/event-endpoints',
    operationId: 'createEventEndpoint',
    tag: 'events',
    summary: 'Register a status webhook endpoint',
    description: `${ADMIN} The tenant's delivery events from now on (of \`eventTypes\`, default every type) are POSTed to \`url\`, one event per request, signed per Standard Webhooks (\`webhook-id\` is the event's id). \`url\` is checked as a webhook channel's: https (http where the host allows it), no user:password@, no refused literal address, ports 80, 443 or allowed ones. The response carries the signing secret, this once.`,
    input: createEventEndpointInput,
    from: 'body',
    status: 201,
    response: eventEndpointWithSecretSchema,
    run: async (m, p, i, ctx) => {
      const created = await m.createEventEndpoint(p, i as CreateEventEndpointInput)
      const { id, infrastructureId } = created.endpoint
      return new Reply(201, created, {
        location: `${ctx.basePath}/event-endpoints/${id}?infrastructureId=${encodeURIComponent(infrastructureId)}`,
      })
    },
  },
  {
    method: 'GET',
    path: '/event-endpoints/:endpointId',
    operationId: 'getEventEndpoint',
    tag: 'events',
    summary: 'One status webhook endpoint, with its state',
    description: ADMIN,
    input: eventEndpointRefInput,
    from: 'query',
    response: eventEndpointSchema,
    run: (m, p, i) => m.getEventEndpoint(p, i as EventEndpointRefInput),
  },
  {
    method: 'PUT',
    path: '/event-endpoints/:endpointId',
    operationId: 'updateEventEndpoint',
    tag: 'events',
    summary: "Change a status webhook endpoint's url, event types or enabled flag",
    description: `${ADMIN} \`enabled: true\` on a disabled or failing endpoint retries its next event now.`,
    input: updateEventEndpointInput,
    from: 'body',
    response: eventEndpointSchema,
    run: (m, p, i) => m.updateEventEndpoint(p, i as UpdateEventEndpointInput),
  },
  {
    method: 'POST',
    path: '/event-endpoints/:endpointId/rotate-secret',
    operationId: 'rotateEventEndpointSecret',
    tag: 'events',
    summary: "Replace a status webhook endpoint's signing secret",
    description: `${ADMIN} Requests are signed with the new secret from now on; it is shown this once.`,
    input: eventEndpointRefInput,
    from: 'body',
    response: eventEndpointWithSecretSchema,
    run: (m, p, i) => m.rotateEventEndpointSecret(p, i as EventEndpointRefInput),
  },
  {
    method: 'DELETE',
    path: '/event-endpoints/:endpointId',
    operationId: 'deleteEventEndpoint',
    tag: 'events',
    summary: 'Remove a status webhook endpoint',
    description: ADMIN,
    input: eventEndpointRefInput,
    from: 'query',
    status: 204,
    response: null,
    run: (m, p, i) => m.deleteEventEndpoint(p, i as EventEndpointRefInput),
  },
]
