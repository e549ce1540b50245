import { beforeAll, describe, expect, it } from 'vitest'
import { BASE, type Fixture, fixture } from './support.js'

/**
 * Malformed and hostile requests: each gets the right 4xx with a problem body and writes
 * nothing, except the record of a refused mutating call: an audit entry inside the caller's
 * own tenant, a count in the security log for a tenant it has no grant on.
 */
interface Case {
  readonly name: string
  readonly method: string
  /** Relative to the base path; `{infra}`, `{other}`, `{channel}` are substituted. */
  readonly path: string
  readonly who?: string | null
  /** A JSON value sent as the body, or a string sent verbatim. */
  readonly body?: unknown
  readonly raw?: string
  readonly headers?: Record<string, string>
  readonly status: number
  readonly code: string
  /** The refusal writes one audit entry (a refusal inside the caller's own tenant). */
  readonly audited?: boolean
  /** The refusal is counted in the security log (a tenant the caller has no grant on), never in its trail. */
  readonly security?: boolean
}

const U = '00000000-0000-4000-8000-000000000000'
const enq = (over: Record<string, unknown>) => ({
  infrastructureId: '{infra}',
  channelKey: 'ops',
  payload: 1,
  ...over,
})
const chan = (over: Record<string, unknown>) => ({
  infrastructureId: '{infra}',
  channelKey: 'new',
  type: 'in_app',
  ...over,
})
const ack = (over: Record<string, unknown>) => ({
  infrastructureId: '{infra}',
  messageId: U,
  leaseToken: U,
  outcome: 'processed',
  ...over,
})
const bad = (name: string, method: string, path: string, body: unknown, extra: Partial<Case> = {}): Case => ({
  name,
  method,
  path,
  body,
  status: 400,
  code: 'VALIDATION_FAILED',
  ...extra,
})

const malformedJson = [
  '{',
  '{"a":}',
  "{'single':'quotes'}",
  '{"a":1,}',
  'undefined',
  'NaN',
  '{"a":1}{"b":2}',
  '{"a":"\u0000\\x"}',
  '\u0000',
  '{"a":01}',
  '[}',
  'tru',
].map(
  (raw, i): Case => ({
    name: `bad JSON #${i}`,
    method: 'POST',
    path: '/queue',
    raw,
    status: 400,
    code: 'VALIDATION_FAILED',
  }),
)

const notObjects = ['[]', '1', '"s"', 'null', 'true'].map(
  (raw): Case => ({
    name: `body ${raw} is no object`,
    method: 'POST',
    path: '/ack',
    raw,
    status: 400,
    code: 'VALIDATION_FAILED',
  }),
)

const wrongTypes: Case[] = [
  bad('infrastructureId number', 'POST', '/queue', enq({ infrastructureId: 42 })),
  bad('payload missing', 'POST', '/queue', { infrastructureId: '{infra}', channelKey: 'ops' }),
  bad('recipients string', 'POST', '/queue', enq({ recipients: 'a@b.c' })),
  bad('recipients empty', 'POST', '/queue', enq({ recipients: [] })),
  bad('channelKey number', 'POST', '/queue', enq({ channelKey: 7 })),
  bad('both channel refs', 'POST', '/queue', enq({ channelId: U })),
  bad('availableAt not a date', 'POST', '/queue', enq({ availableAt: 'soon' })),
  bad('idempotencyKey with spaces', 'POST', '/queue', enq({ idempotencyKey: 'a b' })),
  bad('businessId not a uuid', 'POST', '/queue', enq({ businessId: 'biz' })),
  bad('payload dropped', 'POST', '/queue', enq({ payload: undefined })),
  bad('channel type number', 'POST', '/channel', chan({ type: 123 })),
  bad('channel type unknown', 'POST', '/channel', chan({ type: 'pigeon' })),
  bad('channel config array', 'POST', '/channel', chan({ config: [] })),
  bad('channel enabled string', 'POST', '/channel', chan({ enabled: 'yes' })),
  bad('maxAttempts 0', 'POST', '/channel', chan({ maxAttempts: 0 })),
  bad('maxAttempts 101', 'POST', '/channel', chan({ maxAttempts: 101 })),
  bad('maxAttempts fractional', 'POST', '/channel', chan({ maxAttempts: 1.5 })),
  bad(
    'webhook url not http',
    'POST',
    '/channel',
    chan({ type: 'webhook', config: { url: 'ftp://x', secrets: ['whsec_c2VjcmV0c2VjcmV0'] } }),
  ),
  bad('configure with empty patch', 'POST', '/channel', {
    infrastructureId: '{infra}',
    channelId: '{channel}',
  }),
  bad('ack outcome unknown', 'POST', '/ack', ack({ outcome: 'maybe' })),
  bad('ack failed without reason', 'POST', '/ack', ack({ outcome: 'failed' })),
  bad('ack negative retry', 'POST', '/ack', ack({ outcome: 'failed', reason: 'x', retryAfterMs: -1 })),
  bad('claim limit 0', 'POST', '/claim', { limit: 0 }, { who: 'serviceA' }),
  bad('claim leaseMs string', 'POST', '/claim', { leaseMs: '100' }, { who: 'serviceA' }),
  bad('opt-in without flag', 'PUT', '/channels/{channel}/opt-in', { infrastructureId: '{infra}' }),
  bad('opt-in flag string', 'PUT', '/channels/{channel}/opt-in', {
    infrastructureId: '{infra}',
    optedIn: 'true',
  }),
  bad('add member without user', 'POST', '/channels/{channel}/members', { infrastructureId: '{infra}' }),
]

const huge: Case[] = [
  {
    name: 'body over the cap',
    method: 'POST',
    path: '/queue',
    raw: JSON.stringify(enq({ payload: 'x'.repeat(600_000) })),
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
  },
  {
    name: 'payload over the domain cap',
    method: 'POST',
    path: '/queue',
    body: enq({ payload: 'x'.repeat(70_000) }),
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
  },
  {
    name: 'declared length over the cap',
    method: 'POST',
    path: '/channel',
    raw: '{}',
    headers: { 'content-length': '99999999' },
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
  },
  bad(
    '1001 recipients',
    'POST',
    '/queue',
    enq({ recipients: Array.from({ length: 1001 }, (_, i) => `u${i}`) }),
  ),
  bad('idempotency key of 201 chars', 'POST', '/queue', enq({ idempotencyKey: 'k'.repeat(201) })),
  bad('channel name of 201 chars', 'POST', '/channel', chan({ name: 'n'.repeat(201) })),
  bad('ack reason of 2001 chars', 'POST', '/ack', ack({ outcome: 'failed', reason: 'r'.repeat(2001) })),
]

const nest = (n: number, open: string, close: string, inner = '1') => open.repeat(n) + inner + close.repeat(n)
const deep: Case[] = [
  {
    name: 'arrays 100 deep',
    method: 'POST',
    path: '/queue',
    raw: `{"payload":${nest(100, '[', ']')}}`,
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    name: 'objects 100 deep',
    method: 'POST',
    path: '/queue',
    raw: `{"payload":${nest(100, '{"a":', '}')}}`,
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    name: 'arrays 200k deep',
    method: 'POST',
    path: '/queue',
    raw: nest(200_000, '[', ']'),
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    name: 'config 60 deep',
    method: 'POST',
    path: '/channel',
    raw: `{"config":${nest(60, '{"a":', '}')}}`,
    status: 400,
    code: 'VALIDATION_FAILED',
  },
]

const otherTenant: Case[] = [
  {
    name: 'enqueue into another tenant',
    method: 'POST',
    path: '/queue',
    who: 'adminB',
    body: enq({}),
    status: 403,
    code: 'TENANT_SCOPE_VIOLATION',
    security: true,
  },
  {
    name: 'create a channel in another tenant',
    method: 'POST',
    path: '/channel',
    who: 'adminB',
    body: chan({}),
    status: 403,
    code: 'TENANT_SCOPE_VIOLATION',
    security: true,
  },
  {
    name: 'configure a channel of another tenant',
    method: 'POST',
    path: '/channel',
    who: 'adminB',
    body: { infrastructureId: '{infra}', channelId: '{channel}', enabled: false },
    status: 403,
    code: 'TENANT_SCOPE_VIOLATION',
    security: true,
  },
  {
    name: 'ack in another tenant',
    method: 'POST',
    path: '/ack',
    who: 'adminB',
    body: ack({}),
    status: 403,
    code: 'TENANT_SCOPE_VIOLATION',
    security: true,
  },
  {
    name: 'add a member in another tenant',
    method: 'POST',
    path: '/channels/{channel}/members',
    who: 'adminB',
    body: { infrastructureId: '{infra}', userId: U },
    status: 403,
    code: 'TENANT_SCOPE_VIOLATION',
    security: true,
  },
  {
    name: 'remove a member in another tenant',
    method: 'DELETE',
    path: `/channels/{channel}/members/${U}?infrastructureId={infra}`,
    who: 'adminB',
    status: 403,
    code: 'TENANT_SCOPE_VIOLATION',
    security: true,
  },
  {
    name: 'opt in inside another tenant',
    method: 'PUT',
    path: '/channels/{channel}/opt-in',
    who: 'adminB',
    body: { infrastructureId: '{infra}', optedIn: true },
    status: 403,
    code: 'TENANT_SCOPE_VIOLATION',
    security: true,
  },
  {
    name: 'list channels of another tenant',
    method: 'GET',
    path: '/channels?infrastructureId={infra}',
    who: 'adminB',
    status: 403,
    code: 'TENANT_SCOPE_VIOLATION',
  },
  {
    name: 'read a channel of another tenant',
    method: 'GET',
    path: '/channels/{channel}?infrastructureId={infra}',
    who: 'adminB',
    status: 403,
    code: 'TENANT_SCOPE_VIOLATION',
  },
  {
    name: 'members of another tenant',
    method: 'GET',
    path: '/channels/{channel}/members?infrastructureId={infra}',
    who: 'adminB',
    status: 403,
    code: 'TENANT_SCOPE_VIOLATION',
  },
  {
    name: 'memberships of another tenant',
    method: 'GET',
    path: '/memberships?infrastructureId={infra}',
    who: 'adminB',
    status: 403,
    code: 'TENANT_SCOPE_VIOLATION',
  },
  {
    name: 'messages of another tenant',
    method: 'GET',
    path: '/messages?infrastructureId={infra}',
    who: 'adminB',
    status: 403,
    code: 'TENANT_SCOPE_VIOLATION',
  },
  {
    name: 'a message of another tenant',
    method: 'GET',
    path: `/messages/${U}?infrastructureId={infra}`,
    who: 'adminB',
    status: 403,
    code: 'TENANT_SCOPE_VIOLATION',
  },
  {
    name: 'audit of another tenant',
    method: 'GET',
    path: '/audit?infrastructureId={infra}',
    who: 'adminB',
    status: 403,
    code: 'TENANT_SCOPE_VIOLATION',
  },
  {
    name: 'enqueue for a business outside the grant',
    method: 'POST',
    path: '/queue',
    who: 'bizMemberA',
    body: enq({ businessId: U }),
    status: 403,
    code: 'TENANT_SCOPE_VIOLATION',
    audited: true,
  },
  {
    name: 'enqueue infrastructure-wide with a business grant',
    method: 'POST',
    path: '/queue',
    who: 'bizMemberA',
    body: enq({}),
    status: 403,
    code: 'TENANT_SCOPE_VIOLATION',
    audited: true,
  },
  {
    name: 'messages of another business',
    method: 'GET',
    path: `/messages?infrastructureId={infra}&businessId=${U}`,
    who: 'bizMemberA',
    status: 403,
    code: 'TENANT_SCOPE_VIOLATION',
  },
]

const unknownFields: Case[] = [
  bad('enqueue with an unknown field', 'POST', '/queue', enq({ admin: true })),
  bad('channel with an unknown field', 'POST', '/channel', chan({ ownerId: U })),
  bad('ack with an unknown field', 'POST', '/ack', ack({ force: true })),
  bad('claim with an unknown field', 'POST', '/claim', { all: true }, { who: 'serviceA' }),
  bad('member with an unknown field', 'POST', '/channels/{channel}/members', {
    infrastructureId: '{infra}',
    userId: U,
    role: 'infra_admin',
  }),
  bad('__proto__ key', 'POST', '/queue', undefined, {
    raw: '{"__proto__":{"isAdmin":true},"infrastructureId":"{infra}","channelKey":"ops","payload":1}',
  }),
  bad('constructor key', 'POST', '/channel', undefined, {
    raw: '{"constructor":{"prototype":{"x":1}},"infrastructureId":"{infra}"}',
  }),
  bad('unknown query key', 'GET', '/channels?infrastructureId={infra}&all=true', undefined),
  bad('__proto__ query key', 'GET', '/memberships?infrastructureId={infra}&__proto__=x', undefined),
  bad(
    'webhook config with an unknown field',
    'POST',
    '/channel',
    chan({
      type: 'webhook',
      config: { url: 'https://x.example', secrets: ['whsec_c2VjcmV0c2VjcmV0'], proxy: 'x' },
    }),
  ),
]

const badUuids: Case[] = [
  bad('channel path id not a uuid', 'GET', '/channels/abc?infrastructureId={infra}', undefined),
  bad('members path id not a uuid', 'GET', '/channels/abc/members?infrastructureId={infra}', undefined),
  bad('message path id not a uuid', 'GET', '/messages/1?infrastructureId={infra}', undefined),
  bad(
    'member path user not a uuid',
    'DELETE',
    '/channels/{channel}/members/root?infrastructureId={infra}',
    undefined,
  ),
  bad(
    'path id with SQL',
    'GET',
    `/channels/${encodeURIComponent("' or 1=1 --")}?infrastructureId={infra}`,
    undefined,
  ),
  bad('infrastructureId query not a uuid', 'GET', '/channels?infrastructureId=all', undefined),
  bad('infrastructureId query missing', 'GET', '/memberships', undefined),
  bad('ack messageId not a uuid', 'POST', '/ack', ack({ messageId: 'm1' })),
  bad('ack leaseToken not a uuid', 'POST', '/ack', ack({ leaseToken: '*' })),
  bad('member userId not a uuid', 'POST', '/channels/{channel}/members', {
    infrastructureId: '{infra}',
    userId: 'alice',
  }),
  bad('uuid with trailing junk', 'GET', `/messages/${U}x?infrastructureId={infra}`, undefined),
  bad('listing after a non-uuid', 'GET', '/messages?infrastructureId={infra}&after=0', undefined),
]

const authCases: Case[] = [
  ['no header', {}],
  ['Basic scheme', { authorization: 'Basic YTpi' }],
  ['empty bearer', { authorization: 'Bearer ' }],
  ['unknown token', { authorization: 'Bearer tok-nobody' }],
  ['token in wrong case', { authorization: 'bearer tok-adminA' }],
].flatMap(([label, headers]) =>
  [
    ['POST', '/queue'],
    ['GET', '/channels?infrastructureId={infra}'],
  ].map(
    ([method, path]): Case => ({
      name: `${label} on ${method} ${path}`,
      method: method!,
      path: path!,
      who: null,
      headers: headers as Record<string, string>,
      ...(method === 'POST' && { body: enq({}) }),
      status: 401,
      code: 'UNAUTHENTICATED',
    }),
  ),
)

const contentTypes: Case[] = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'application/json; charset=latin1',
  'text/json',
  'application/jsonp',
].map(
  (ct): Case => ({
    name: `content type ${ct}`,
    method: 'POST',
    path: '/queue',
    raw: '{"payload":1}',
    headers: { 'content-type': ct },
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
  }),
)

const wrongMethods: Case[] = [
  ['PATCH', '/queue'],
  ['GET', '/queue'],
  ['PUT', '/ack'],
  ['DELETE', '/channel'],
  ['POST', '/channels'],
  ['GET', '/claim'],
  ['PUT', '/memberships'],
  ['POST', '/audit'],
  ['PATCH', '/channels/{channel}'],
  ['OPTIONS', '/queue'],
  ['POST', '/openapi.json'],
].map(
  ([method, path]): Case => ({
    name: `${method} ${path}`,
    method: method!,
    path: path!,
    status: 405,
    code: 'METHOD_NOT_ALLOWED',
  }),
)

const unknownRoutes: Case[] = [
  '/',
  '/queues',
  '/channels/{channel}/members/x/y',
  '/../admin',
  '/%2e%2e/etc/passwd',
  '/QUEUE',
].map((path): Case => ({ name: `route ${path}`, method: 'GET', path, status: 404, code: 'ROUTE_NOT_FOUND' }))

const wrongRoles: Case[] = [
  {
    name: 'member creates a channel',
    method: 'POST',
    path: '/channel',
    who: 'memberA',
    body: chan({}),
    status: 403,
    code: 'FORBIDDEN_ROLE',
    audited: true,
  },
  {
    name: 'service creates a channel',
    method: 'POST',
    path: '/channel',
    who: 'serviceA',
    body: chan({}),
    status: 403,
    code: 'FORBIDDEN_ROLE',
    audited: true,
  },
  {
    name: 'member configures a channel',
    method: 'POST',
    path: '/channel',
    who: 'memberA',
    body: { infrastructureId: '{infra}', channelId: '{channel}', enabled: false },
    status: 403,
    code: 'FORBIDDEN_ROLE',
    audited: true,
  },
  {
    name: 'member acks',
    method: 'POST',
    path: '/ack',
    who: 'memberA',
    body: ack({}),
    status: 403,
    code: 'FORBIDDEN_ROLE',
    audited: true,
  },
  {
    name: 'admin acks',
    method: 'POST',
    path: '/ack',
    who: 'adminA',
    body: ack({}),
    status: 403,
    code: 'FORBIDDEN_ROLE',
    audited: true,
  },
  {
    name: 'member claims',
    method: 'POST',
    path: '/claim',
    who: 'memberA',
    body: {},
    status: 403,
    code: 'FORBIDDEN_ROLE',
  },
  {
    name: 'member adds a member',
    method: 'POST',
    path: '/channels/{channel}/members',
    who: 'memberA',
    body: { infrastructureId: '{infra}', userId: U },
    status: 403,
    code: 'FORBIDDEN_ROLE',
    audited: true,
  },
  {
    name: 'member removes a member',
    method: 'DELETE',
    path: '/channels/{channel}/members/{member}?infrastructureId={infra}',
    who: 'memberA',
    status: 403,
    code: 'FORBIDDEN_ROLE',
    audited: true,
  },
  {
    name: 'member opts another user out',
    method: 'PUT',
    path: '/channels/{channel}/opt-in',
    who: 'memberA',
    body: { infrastructureId: '{infra}', userId: U, optedIn: false },
    status: 403,
    code: 'FORBIDDEN_ROLE',
    audited: true,
  },
  {
    name: 'member reads the audit trail',
    method: 'GET',
    path: '/audit?infrastructureId={infra}',
    who: 'memberA',
    status: 403,
    code: 'FORBIDDEN_ROLE',
  },
]

const hostileQueries: Case[] = [
  bad('limit over the max', 'GET', '/messages?infrastructureId={infra}&limit=1000000000', undefined),
  bad('negative limit', 'GET', '/audit?infrastructureId={infra}&limit=-1', undefined),
  bad('limit as text', 'GET', '/audit?infrastructureId={infra}&limit=ten', undefined),
  bad('unknown status', 'GET', '/messages?infrastructureId={infra}&status=deleted', undefined),
  bad(
    'repeated infrastructureId',
    'GET',
    '/channels?infrastructureId={infra}&infrastructureId={other}',
    undefined,
  ),
  bad('enabled as 1', 'GET', '/channels?infrastructureId={infra}&enabled=1', undefined),
  bad('path and body disagree', 'PUT', '/channels/{channel}/opt-in', {
    infrastructureId: '{infra}',
    channelId: U,
    optedIn: true,
  }),
  bad('header and body disagree', 'POST', '/queue', enq({ idempotencyKey: 'a' }), {
    headers: { 'idempotency-key': 'b' },
  }),
  bad('idempotency header with a space', 'POST', '/queue', enq({}), {
    headers: { 'idempotency-key': 'a b' },
  }),
]

const deliveryAndInbox: Case[] = [
  {
    name: 'dead letters of another tenant',
    method: 'GET',
    path: '/dead-letters?infrastructureId={other}',
    status: 403,
    code: 'TENANT_SCOPE_VIOLATION',
  },
  {
    name: "redrive of another tenant's message",
    method: 'POST',
    path: `/messages/${U}/redrive`,
    body: { infrastructureId: '{other}' },
    status: 403,
    code: 'TENANT_SCOPE_VIOLATION',
    security: true,
  },
  {
    name: 'member redrives a message',
    method: 'POST',
    path: `/messages/${U}/redrive`,
    who: 'memberA',
    body: { infrastructureId: '{infra}' },
    status: 403,
    code: 'FORBIDDEN_ROLE',
    audited: true,
  },
  {
    name: 'member redrives a channel',
    method: 'POST',
    path: '/channels/{channel}/redrive',
    who: 'memberA',
    body: { infrastructureId: '{infra}' },
    status: 403,
    code: 'FORBIDDEN_ROLE',
    audited: true,
  },
  {
    name: 'redrive of an unknown message',
    method: 'POST',
    path: `/messages/${U}/redrive`,
    body: { infrastructureId: '{infra}' },
    status: 404,
    code: 'NOT_FOUND',
  },
  {
    name: 'attempts of an unknown message',
    method: 'GET',
    path: `/messages/${U}/attempts?infrastructureId={infra}`,
    status: 404,
    code: 'NOT_FOUND',
  },
  {
    name: 'stats of another tenant',
    method: 'GET',
    path: '/stats?infrastructureId={other}',
    status: 403,
    code: 'TENANT_SCOPE_VIOLATION',
  },
  {
    name: 'inbox of another tenant',
    method: 'GET',
    path: '/inbox?infrastructureId={other}',
    who: 'memberA',
    status: 403,
    code: 'TENANT_SCOPE_VIOLATION',
  },
  {
    name: 'marking in another tenant',
    method: 'POST',
    path: '/inbox/mark',
    who: 'memberA',
    body: { infrastructureId: '{other}', entryIds: 'all', mark: 'read' },
    status: 403,
    code: 'TENANT_SCOPE_VIOLATION',
  },
  bad('redrive with a bad message id', 'POST', '/messages/not-a-uuid/redrive', {
    infrastructureId: '{infra}',
  }),
  bad('redrive with an unknown field', 'POST', `/messages/${U}/redrive`, {
    infrastructureId: '{infra}',
    force: true,
  }),
  bad('redrive path and body disagree', 'POST', `/messages/${U}/redrive`, {
    infrastructureId: '{infra}',
    messageId: '00000000-0000-4000-8000-000000000001',
  }),
  bad('channel redrive without a tenant', 'POST', '/channels/{channel}/redrive', {}),
  bad('dead letters limit 0', 'GET', '/dead-letters?infrastructureId={infra}&limit=0', undefined),
  bad('stats with an unknown field', 'GET', '/stats?infrastructureId={infra}&verbose=true', undefined),
  bad('inbox limit over the max', 'GET', '/inbox?infrastructureId={infra}&limit=201', undefined, {
    who: 'memberA',
  }),
  bad('unreadOnly as yes', 'GET', '/inbox?infrastructureId={infra}&unreadOnly=yes', undefined, {
    who: 'memberA',
  }),
  bad('unread count without a tenant', 'GET', '/inbox/unread-count', undefined, { who: 'memberA' }),
  bad('unknown mark', 'POST', '/inbox/mark', {
    infrastructureId: '{infra}',
    entryIds: 'all',
    mark: 'deleted',
  }),
  bad('no entries to mark', 'POST', '/inbox/mark', {
    infrastructureId: '{infra}',
    entryIds: [],
    mark: 'read',
  }),
  bad('entryIds as some', 'POST', '/inbox/mark', {
    infrastructureId: '{infra}',
    entryIds: 'some',
    mark: 'read',
  }),
  bad('entry id not a uuid', 'POST', '/inbox/mark', {
    infrastructureId: '{infra}',
    entryIds: ['x'],
    mark: 'read',
  }),
  ...[
    ['GET', '/inbox/mark'],
    ['DELETE', '/stats'],
    ['PUT', '/dead-letters'],
    ['GET', `/messages/${U}/redrive`],
    ['POST', `/messages/${U}/attempts`],
  ].map(
    ([method, path]): Case => ({
      name: `${method} ${path}`,
      method: method!,
      path: path!,
      status: 405,
      code: 'METHOD_NOT_ALLOWED',
    }),
  ),
]

const CASES: Case[] = [
  ...malformedJson,
  ...notObjects,
  ...wrongTypes,
  ...huge,
  ...deep,
  ...otherTenant,
  ...unknownFields,
  ...badUuids,
  ...authCases,
  ...contentTypes,
  ...wrongMethods,
  ...unknownRoutes,
  ...wrongRoles,
  ...hostileQueries,
  ...deliveryAndInbox,
]

describe(`${CASES.length} malformed or hostile requests`, () => {
  let f: Fixture
  let sub: (s: string) => string
  beforeAll(async () => {
    f = fixture()
    const { channelId } = await f.seed()
    // A queued message, so a stray write or delete would show in the snapshot.
    await f.messaging.enqueue(f.principals.adminA, {
      infrastructureId: f.infraA,
      channelId,
      payload: 'bystander',
    })
    sub = (s) =>
      s
        .replaceAll('{infra}', f.infraA)
        .replaceAll('{other}', f.infraB)
        .replaceAll('{channel}', channelId)
        .replaceAll('{member}', f.principals.memberA.userId)
  })

  it('holds at least 100 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(100)
  })

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const before = await f.snapshot()
    const who = c.who === undefined ? 'adminA' : c.who
    const headers: Record<string, string> = {
      ...(who && { authorization: `Bearer tok-${who}` }),
      ...((c.body !== undefined || c.raw !== undefined) && { 'content-type': 'application/json' }),
      ...c.headers,
    }
    const body =
      c.raw !== undefined ? sub(c.raw) : c.body !== undefined ? sub(JSON.stringify(c.body)) : undefined
    const res = await f.handler(
      new Request(`http://host.test${BASE}${sub(c.path)}`, {
        method: c.method,
        headers,
        ...(body !== undefined && { body }),
      }),
    )
    expect(res.status).toBe(c.status)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    const p = (await res.json()) as { code: string; status: number; title: string }
    expect(p).toMatchObject({ code: c.code, status: c.status })
    expect(JSON.stringify(p)).not.toMatch(/at .*\.ts:\d+|node_modules/)
    expect(await f.snapshot()).toEqual({
      ...before,
      audit: before.audit + (c.audited ? 1 : 0),
      refusalsElsewhere: before.refusalsElsewhere + (c.security ? 1 : 0),
    })
  })

  it('answered none of them with a 5xx or an onError report', () => {
    expect(f.errors).toEqual([])
  })
})

// Guard against a typo in a case silently testing nothing: every `{...}` placeholder is known.
describe('hostile case table', () => {
  it('uses only known placeholders', () => {
    const text = JSON.stringify(CASES.map((c) => [c.path, c.raw ?? '', JSON.stringify(c.body ?? null)]))
    const placeholders = new Set(text.match(/\{(infra|other|channel|member|[a-z]+)\}/g) ?? [])
    for (const p of placeholders) expect(['{infra}', '{other}', '{channel}', '{member}']).toContain(p)
    expect(placeholders.size).toBeGreaterThan(0)
  })
})
