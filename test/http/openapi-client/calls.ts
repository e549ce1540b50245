// A client generated from the served /openapi.json by openapi-typescript, called through
// openapi-fetch. This program is compiled with tsc in strict mode against the generated
// types: a document that makes a valid call fail to type-check fails the test at compile
// time; one whose answers differ from it fails at run time.
//
// Tenant A: channels, members, the outbox (claim, ack, dead letters, redrive). Tenant B: an
// in-app alert the server's worker delivers, read and marked in the member's inbox.
import { createHmac } from 'node:crypto'
import createClient from 'openapi-fetch'
import type { paths } from './schema.js'

/** A setting the test passes in the environment. */
function env(name: string): string {
  const value = process.env[name]
  if (value === undefined) throw new Error(`${name} is not set`)
  return value
}
const base = '/functions/v1/messaging'
const as = (token: string) =>
  createClient<paths>({ baseUrl: env('ORIGIN'), headers: { authorization: `Bearer ${token}` } })
const adminA = as(env('ADMIN_A'))
const memberA = as(env('MEMBER_A'))
const serviceA = as(env('SERVICE_A'))
const adminB = as(env('ADMIN_B'))
const memberB = as(env('MEMBER_B'))
const infraA = env('INFRA_A')
const infraB = env('INFRA_B')

const statuses: Record<string, number[]> = {}

/** Keeps the status of each call per operation; an error answer stops the program. */
function ok<R extends { response: Response; error?: unknown }>(operationId: string, r: R): R {
  const seen = statuses[operationId] ?? []
  seen.push(r.response.status)
  statuses[operationId] = seen
  if (r.error !== undefined)
    throw new Error(`${operationId}: ${r.response.status} ${JSON.stringify(r.error)}`)
  return r
}

const doc = ok('getOpenApiDocument', await adminA.GET(`${base}/openapi.json`))
const session = ok('getSession', await memberA.GET(`${base}/session`)).data!
if (session.userId !== env('MEMBER_A_USER') || session.role !== 'member') throw new Error('another session')
const types = ok('listChannelTypes', await adminA.GET(`${base}/channel-types`)).data!
if (!types.some((t) => t.type === 'webhook' && t.secretPaths.includes('secrets')))
  throw new Error('no webhook type')

// Channels: created (201) and configured (200) through the one upsert route.
const created = ok(
  'upsertChannel',
  await adminA.POST(`${base}/channel`, {
    body: { infrastructureId: infraA, channelKey: 'ops', type: 'in_app', maxAttempts: 1 },
  }),
).data!
ok(
  'upsertChannel',
  await adminA.POST(`${base}/channel`, {
    body: { infrastructureId: infraA, channelId: created.id, name: 'Operations' },
  }),
)
const channelId: string = created.id
ok('listChannels', await adminA.GET(`${base}/channels`, { params: { query: { infrastructureId: infraA } } }))
const one = ok(
  'getChannel',
  await adminA.GET(`${base}/channels/{channelId}`, {
    params: { path: { channelId }, query: { infrastructureId: infraA } },
  }),
).data!
if (one.name !== 'Operations') throw new Error(`configure lost: ${one.name}`)

// Members: the path names the channel; the body does not repeat it.
ok(
  'addMember',
  await adminA.POST(`${base}/channels/{channelId}/members`, {
    params: { path: { channelId } },
    body: { infrastructureId: infraA, userId: env('MEMBER_A_USER') },
  }),
)
ok(
  'listChannelMembers',
  await adminA.GET(`${base}/channels/{channelId}/members`, {
    params: { path: { channelId }, query: { infrastructureId: infraA } },
  }),
)
ok(
  'setOptIn',
  await memberA.PUT(`${base}/channels/{channelId}/opt-in`, {
    params: { path: { channelId } },
    body: { infrastructureId: infraA, optedIn: false },
  }),
)
ok(
  'listMemberships',
  await memberA.GET(`${base}/memberships`, { params: { query: { infrastructureId: infraA } } }),
)

// Recipients: a profile the admin creates and the member keeps, a category on the channel,
// the member's own preference and the tenant's default.
const memberUser = env('MEMBER_A_USER')
ok(
  'upsertProfile',
  await adminA.PUT(`${base}/profiles/{userId}`, {
    params: { path: { userId: memberUser } },
    body: {
      infrastructureId: infraA,
      email: 'member@acme.test',
      properties: { plan: { tier: 'gold', seats: 3 } },
    },
  }),
)
ok(
  'updateOwnProfile',
  await memberA.PUT(`${base}/profile`, { body: { infrastructureId: infraA, locale: 'de-DE' } }),
)
const own = ok(
  'getOwnProfile',
  await memberA.GET(`${base}/profile`, { params: { query: { infrastructureId: infraA } } }),
).data!
if (own.locale !== 'de-DE') throw new Error(`profile locale ${own.locale}`)
ok(
  'getProfile',
  await adminA.GET(`${base}/profiles/{userId}`, {
    params: { path: { userId: memberUser }, query: { infrastructureId: infraA } },
  }),
)
ok('listProfiles', await adminA.GET(`${base}/profiles`, { params: { query: { infrastructureId: infraA } } }))
ok(
  'createCategory',
  await adminA.POST(`${base}/categories`, {
    body: {
      infrastructureId: infraA,
      key: 'billing',
      name: 'Billing',
      channels: { in_app: { channelKey: 'ops' } },
    },
  }),
)
ok(
  'updateCategory',
  await adminA.PUT(`${base}/categories/{categoryKey}`, {
    params: { path: { categoryKey: 'billing' } },
    body: { infrastructureId: infraA, description: 'Invoices and receipts' },
  }),
)
ok(
  'getCategory',
  await adminA.GET(`${base}/categories/{categoryKey}`, {
    params: { path: { categoryKey: 'billing' }, query: { infrastructureId: infraA } },
  }),
)
ok(
  'listCategories',
  await memberA.GET(`${base}/categories`, { params: { query: { infrastructureId: infraA } } }),
)
ok(
  'setTenantDefault',
  await adminA.PUT(`${base}/preference-defaults`, {
    body: { infrastructureId: infraA, categoryKey: 'billing', channelType: 'in_app', enabled: true },
  }),
)
ok(
  'listTenantDefaults',
  await adminA.GET(`${base}/preference-defaults`, { params: { query: { infrastructureId: infraA } } }),
)
ok(
  'setPreference',
  await memberA.PUT(`${base}/preferences`, {
    body: { infrastructureId: infraA, categoryKey: 'billing', channelType: 'in_app', enabled: false },
  }),
)
ok(
  'getPreferences',
  await memberA.GET(`${base}/preferences`, { params: { query: { infrastructureId: infraA } } }),
)

// A notify of one event to a user, where each recipient x channel stands, the tenant's list.
const notified = ok(
  'notify',
  await adminA.POST(`${base}/notify`, {
    body: {
      infrastructureId: infraA,
      category: 'billing',
      to: { users: [memberUser] },
      data: { number: 'INV-7' },
    },
  }),
).data!
ok(
  'getNotification',
  await adminA.GET(`${base}/notifications/{notificationId}`, {
    params: { path: { notificationId: notified.notification.id }, query: { infrastructureId: infraA } },
  }),
)
ok(
  'listNotifications',
  await adminA.GET(`${base}/notifications`, {
    params: { query: { infrastructureId: infraA, categoryKey: 'billing' } },
  }),
)
ok(
  'setQuietHoursDefault',
  await adminA.PUT(`${base}/quiet-hours-default`, {
    body: { infrastructureId: infraA, quietHours: { start: '22:00', end: '07:00' } },
  }),
)
const quietDefault = ok(
  'getQuietHoursDefault',
  await memberA.GET(`${base}/quiet-hours-default`, { params: { query: { infrastructureId: infraA } } }),
).data
if (quietDefault?.quietHours.end !== '07:00') throw new Error('getQuietHoursDefault: not the one set')
ok(
  'setQuietHoursDefault',
  await adminA.PUT(`${base}/quiet-hours-default`, { body: { infrastructureId: infraA, quietHours: null } }),
)
const throttled = ok(
  'throttledCounts',
  await adminA.GET(`${base}/notifications/throttled`, { params: { query: { infrastructureId: infraA } } }),
).data!
// Nothing of 'billing' is throttled: the list leaves it out.
if (throttled.some((c) => c.categoryKey === 'billing')) throw new Error('billing was never throttled')

// Between enqueue and send: a scheduled message moved and cancelled, a key's message
// cancelled, a notification's fan-out cancelled (or kept, where a worker holds it).
const nextYear = new Date(Date.now() + 365 * 86_400_000).toISOString()
const scheduled = ok(
  'enqueueMessage',
  await adminA.POST(`${base}/queue`, {
    body: {
      infrastructureId: infraA,
      channelKey: 'ops',
      payload: { later: true },
      availableAt: nextYear,
      priority: 'low',
    },
  }),
).data!
const moved = ok(
  'rescheduleMessage',
  await adminA.POST(`${base}/messages/{messageId}/reschedule`, {
    params: { path: { messageId: scheduled.message.id } },
    body: {
      infrastructureId: infraA,
      availableAt: new Date(Date.now() + 2 * 365 * 86_400_000).toISOString(),
    },
  }),
).data!
if (moved.status !== 'pending' || moved.priority !== 'low')
  throw new Error(`rescheduled: ${JSON.stringify(moved)}`)
const gone = ok(
  'cancelMessage',
  await adminA.POST(`${base}/messages/{messageId}/cancel`, {
    params: { path: { messageId: scheduled.message.id } },
    body: { infrastructureId: infraA },
  }),
).data!
if (gone.cancelled[0]?.status !== 'cancelled') throw new Error(`cancelled: ${JSON.stringify(gone)}`)
ok(
  'enqueueMessage',
  await adminA.POST(`${base}/queue`, {
    body: {
      infrastructureId: infraA,
      channelKey: 'ops',
      payload: {},
      availableAt: nextYear,
      idempotencyKey: 'later-1',
    },
  }),
)
const byKey = ok(
  'cancelByIdempotencyKey',
  await adminA.POST(`${base}/messages/cancel`, {
    body: { infrastructureId: infraA, idempotencyKey: 'later-1' },
  }),
).data!
if (byKey.cancelled.length !== 1) throw new Error(`cancelled by key: ${JSON.stringify(byKey)}`)
ok(
  'cancelNotification',
  await adminA.POST(`${base}/notifications/{notificationId}/cancel`, {
    params: { path: { notificationId: notified.notification.id } },
    body: { infrastructureId: infraA },
  }),
)

// Templates: the tenant's default locale, a first version, a preview, the next version.
ok(
  'setTemplateSettings',
  await adminA.PUT(`${base}/template-settings`, { body: { infrastructureId: infraA, defaultLocale: 'en' } }),
)
ok(
  'getTemplateSettings',
  await adminA.GET(`${base}/template-settings`, { params: { query: { infrastructureId: infraA } } }),
)
ok(
  'createTemplate',
  await adminA.POST(`${base}/templates`, {
    body: {
      infrastructureId: infraA,
      categoryKey: 'billing',
      locale: 'en',
      channelType: 'in_app',
      content: { title: 'Invoice {{ data.number }} paid' },
    },
  }),
)
const preview = ok(
  'previewTemplate',
  await adminA.POST(`${base}/templates/preview`, {
    body: {
      infrastructureId: infraA,
      channelType: 'in_app',
      content: { title: 'Invoice {{ data.number }} paid' },
      data: { number: 'INV-7', lines: [{ sku: 'A', qty: 2 }] },
    },
  }),
).data!
const templateKey = { categoryKey: 'billing', channelType: 'in_app', locale: 'en' } as const
ok(
  'updateTemplate',
  await adminA.PUT(`${base}/templates/{categoryKey}/{channelType}/{locale}`, {
    params: { path: templateKey },
    body: { infrastructureId: infraA, baseVersion: 1, content: { title: 'Paid: {{ data.number }}' } },
  }),
)
ok(
  'getTemplate',
  await memberA.GET(`${base}/templates/{categoryKey}/{channelType}/{locale}`, {
    params: { path: templateKey, query: { infrastructureId: infraA } },
  }),
)
ok(
  'listTemplateVersions',
  await adminA.GET(`${base}/templates/{categoryKey}/{channelType}/{locale}/versions`, {
    params: { path: templateKey, query: { infrastructureId: infraA } },
  }),
)
ok(
  'listTemplates',
  await adminA.GET(`${base}/templates`, { params: { query: { infrastructureId: infraA } } }),
)

// The outbox: any JSON payload; defaulted fields left out.
const first = ok(
  'enqueueMessage',
  await memberA.POST(`${base}/queue`, {
    params: { header: { 'Idempotency-Key': 'disk-91' } },
    body: {
      infrastructureId: infraA,
      channelKey: 'ops',
      payload: { title: 'disk 91%', host: { name: 'db-2', tags: ['prod', 1, true, null] } },
    },
  }),
).data!
const batch = ok(
  'enqueueMessages',
  await memberA.POST(`${base}/queue/batch`, {
    body: {
      items: [
        { infrastructureId: infraA, channelId, payload: 'a plain string' },
        { infrastructureId: infraA, channelKey: 'ops', payload: [1, 2, 3], idempotencyKey: 'batch-2' },
      ],
    },
  }),
).data!
if (batch.length !== 2 || !batch.every((r) => r.created)) throw new Error('batch not created')
ok(
  'listMessages',
  await adminA.GET(`${base}/messages`, {
    params: { query: { infrastructureId: infraA, status: 'pending' } },
  }),
)
ok(
  'getMessage',
  await adminA.GET(`${base}/messages/{messageId}`, {
    params: { path: { messageId: first.message.id }, query: { infrastructureId: infraA } },
  }),
)

// Delivery by hand: claim, one processed, one failed (dead: the channel allows one attempt).
const claimed = ok(
  'claimMessages',
  await serviceA.POST(`${base}/claim`, { body: { infrastructureId: infraA } }),
).data!
if (claimed.length !== 3) throw new Error(`claimed ${claimed.length}`)
const [done, dead] = claimed as [(typeof claimed)[number], (typeof claimed)[number]]
ok(
  'ackMessage',
  await serviceA.POST(`${base}/ack`, {
    body: {
      infrastructureId: infraA,
      messageId: done.id,
      leaseToken: done.leaseToken!,
      outcome: 'processed',
    },
  }),
)
ok(
  'ackMessage',
  await serviceA.POST(`${base}/ack`, {
    body: {
      infrastructureId: infraA,
      messageId: dead.id,
      leaseToken: dead.leaseToken!,
      outcome: 'failed',
      reason: 'relay down',
      retryAfterMs: 0,
    },
  }),
)
const letters = ok(
  'listDeadLetters',
  await adminA.GET(`${base}/dead-letters`, { params: { query: { infrastructureId: infraA } } }),
).data!
if (letters.length !== 1) throw new Error(`dead letters: ${letters.length}`)
ok(
  'listAttempts',
  await adminA.GET(`${base}/messages/{messageId}/attempts`, {
    params: { path: { messageId: dead.id }, query: { infrastructureId: infraA } },
  }),
)
ok(
  'redriveMessage',
  await adminA.POST(`${base}/messages/{messageId}/redrive`, {
    params: { path: { messageId: dead.id } },
    body: { infrastructureId: infraA },
  }),
)
ok(
  'redriveChannel',
  await adminA.POST(`${base}/channels/{channelId}/redrive`, {
    params: { path: { channelId } },
    body: { infrastructureId: infraA },
  }),
)
ok(
  'resealSecrets',
  await adminA.POST(`${base}/channels/reseal-secrets`, { body: { infrastructureId: infraA } }),
)
ok('stats', await serviceA.GET(`${base}/stats`, { params: { query: {} } }))
ok(
  'queueHistory',
  await adminA.GET(`${base}/stats/history`, { params: { query: { infrastructureId: infraA, minutes: 5 } } }),
)
ok('listBreakers', await adminA.GET(`${base}/breakers`, { params: { query: { infrastructureId: infraA } } }))
{
  const metrics = ok('metrics', await serviceA.GET(`${base}/metrics`, { parseAs: 'text' }))
  if (!String(metrics.data).includes('# TYPE messaging_queue_messages gauge'))
    throw new Error(`metrics: not the Prometheus text: ${String(metrics.data).slice(0, 200)}`)
}
ok('listAudit', await adminA.GET(`${base}/audit`, { params: { query: { infrastructureId: infraA } } }))
{
  const events = await adminA.GET(`${base}/events`, {
    params: { query: { infrastructureId: infraA, limit: 10 } },
  })
  ok('listEvents', events)
  for (const e of events.data ?? []) {
    if (typeof e.cursor !== 'string' || e.infrastructureId !== infraA)
      throw new Error('listEvents: not an event of the tenant')
  }
}
{
  // From the start of the log: the acks above wrote events, which come first.
  const stream = ok(
    'streamEvents',
    await serviceA.GET(`${base}/events/stream`, {
      params: { query: { infrastructureId: infraA, after: '0.0' } },
      parseAs: 'stream',
    }),
  )
  const reader = stream.response.body!.pipeThrough(new TextDecoderStream()).getReader()
  let text = ''
  while (!text.includes('event: message.')) {
    const { done, value } = await reader.read()
    if (done) break
    text += value
  }
  await reader.cancel()
  if (!/id: \d+\.\d+\nevent: message\./.test(text)) throw new Error(`streamEvents: ${text.slice(0, 300)}`)
}
{
  // Status webhook endpoints: registered, read, changed, its secret rotated, removed.
  const made = ok(
    'createEventEndpoint',
    await adminA.POST(`${base}/event-endpoints`, {
      body: {
        infrastructureId: infraA,
        url: 'https://hooks.example.com/messaging',
        eventTypes: ['message.dead'],
      },
    }),
  ).data!
  if (!made.secret.startsWith('whsec_')) throw new Error('createEventEndpoint: no secret')
  const endpointId: string = made.endpoint.id
  const ref = { params: { path: { endpointId }, query: { infrastructureId: infraA } } }
  const listed = ok(
    'listEventEndpoints',
    await adminA.GET(`${base}/event-endpoints`, { params: { query: { infrastructureId: infraA } } }),
  ).data!
  if (JSON.stringify(listed).includes(made.secret)) throw new Error('listEventEndpoints: shows the secret')
  ok('getEventEndpoint', await adminA.GET(`${base}/event-endpoints/{endpointId}`, ref))
  const changed = ok(
    'updateEventEndpoint',
    await adminA.PUT(`${base}/event-endpoints/{endpointId}`, {
      params: { path: { endpointId } },
      body: { infrastructureId: infraA, enabled: false },
    }),
  ).data!
  if (changed.status !== 'disabled') throw new Error(`updateEventEndpoint: ${changed.status}`)
  const rotated = ok(
    'rotateEventEndpointSecret',
    await adminA.POST(`${base}/event-endpoints/{endpointId}/rotate-secret`, {
      params: { path: { endpointId } },
      body: { infrastructureId: infraA },
    }),
  ).data!
  if (rotated.secret === made.secret) throw new Error('rotateEventEndpointSecret: same secret')
  ok('deleteEventEndpoint', await adminA.DELETE(`${base}/event-endpoints/{endpointId}`, ref))
}
ok(
  'removeMember',
  await adminA.DELETE(`${base}/channels/{channelId}/members/{userId}`, {
    params: { path: { channelId, userId: env('MEMBER_A_USER') }, query: { infrastructureId: infraA } },
  }),
)

ok(
  'deleteProfile',
  await adminA.DELETE(`${base}/profiles/{userId}`, {
    params: { path: { userId: memberUser }, query: { infrastructureId: infraA } },
  }),
)

// Tenant B's inbox: an alert enqueued, delivered by the server's worker, read and marked.
const alerts = ok(
  'upsertChannel',
  await adminB.POST(`${base}/channel`, {
    body: { infrastructureId: infraB, channelKey: 'alerts', type: 'in_app' },
  }),
).data!
ok(
  'addMember',
  await adminB.POST(`${base}/channels/{channelId}/members`, {
    params: { path: { channelId: alerts.id } },
    body: { infrastructureId: infraB, userId: env('MEMBER_B_USER') },
  }),
)
ok(
  'enqueueMessage',
  await adminB.POST(`${base}/queue`, {
    body: { infrastructureId: infraB, channelId: alerts.id, payload: { title: 'Welcome' } },
  }),
)
let entries: { id: string }[] = []
for (let tries = 0; entries.length === 0 && tries < 600; tries++) {
  entries = ok(
    'listInbox',
    await memberB.GET(`${base}/inbox`, { params: { query: { infrastructureId: infraB } } }),
  ).data!
  if (entries.length === 0) await new Promise((r) => setTimeout(r, 50))
}
{
  // The live inbox: resumed from before the entry, it sends the entry and then the count.
  const first = entries[entries.length - 1] as { id: string; createdAt: string }
  const after = `${new Date(first.createdAt).getTime() - 1}.${first.id}`
  const stream = ok(
    'streamInbox',
    await memberB.GET(`${base}/inbox/stream`, {
      params: { query: { infrastructureId: infraB, after } },
      parseAs: 'stream',
    }),
  )
  const reader = stream.response.body!.pipeThrough(new TextDecoderStream()).getReader()
  let text = ''
  while (!text.includes('event: unread')) {
    const { done, value } = await reader.read()
    if (done) break
    text += value
  }
  await reader.cancel()
  if (!text.includes('event: entry') || !text.includes('event: unread'))
    throw new Error(`streamInbox: ${text.slice(0, 300)}`)
}
const unread = ok(
  'countUnread',
  await memberB.GET(`${base}/inbox/unread-count`, { params: { query: { infrastructureId: infraB } } }),
).data!
const marked = ok(
  'markInbox',
  await memberB.POST(`${base}/inbox/mark`, {
    body: { infrastructureId: infraB, entryIds: entries.map((e) => e.id), mark: 'read' },
  }),
).data!

// Provider receipts: public routes, admitted by the provider's signature (no bearer token).
{
  const anonymous = createClient<paths>({ baseUrl: env('ORIGIN') })
  // Set-up calls, not counted against their operations (whose statuses the test pins).
  const setup = <R extends { error?: unknown; data?: unknown }>(
    what: string,
    r: R,
  ): NonNullable<R['data']> => {
    if (r.error !== undefined || r.data === undefined) throw new Error(`${what}: ${JSON.stringify(r.error)}`)
    return r.data as NonNullable<R['data']>
  }
  const token = 'twilio-token-of-the-client-test'
  const smsChannel = setup(
    'upsertChannel',
    await adminA.POST(`${base}/channel`, {
      body: {
        infrastructureId: infraA,
        channelKey: 'texts',
        type: 'sms',
        config: { from: '+4915112345678', twilio: { accountSid: `AC${'0'.repeat(32)}`, authToken: token } },
      },
    }),
  )
  const path = `${base}/receipts/sms/${infraA}/${smsChannel.id}`
  const form = { MessageSid: `SM${'1'.repeat(32)}`, MessageStatus: 'sent' }
  // Twilio's signature: HMAC-SHA1 of the URL and the sorted parameters, keyed by the auth token.
  const signed = Object.entries(form)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .reduce((acc, [k, v]) => acc + k + v, `${env('ORIGIN')}${path}`)
  const sms = ok(
    'receiveSmsReceipt',
    await anonymous.POST(`${base}/receipts/sms/{infrastructureId}/{channelId}`, {
      params: {
        path: { infrastructureId: infraA, channelId: smsChannel.id },
        header: { 'X-Twilio-Signature': createHmac('sha1', token).update(signed).digest('base64') },
      },
      body: form,
      bodySerializer: (b) => new URLSearchParams(b as Record<string, string>).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    }),
  ).data!
  if (sms.outcome !== 'ignored') throw new Error(`receiveSmsReceipt: ${JSON.stringify(sms)}`)

  const secret = `whsec_${Buffer.from('a receipt secret of 32 bytes!!!!').toString('base64')}`
  const mail = setup(
    'upsertChannel',
    await adminA.POST(`${base}/channel`, {
      body: {
        infrastructureId: infraA,
        channelKey: 'mail',
        type: 'email',
        config: { from: 'ops@example.com', receiptSecret: secret },
      },
    }),
  )
  const queued = setup(
    'enqueueMessage',
    await adminA.POST(`${base}/queue`, {
      body: {
        infrastructureId: infraA,
        channelId: mail.id,
        payload: { subject: 's', text: 't' },
        recipients: ['a@example.com'],
      },
    }),
  )
  const receipt = { messageId: queued.message.id, status: 'delivered' as const }
  const id = 'msg_client_test'
  const ts = String(Math.floor(Date.now() / 1000))
  const sig = createHmac('sha256', Buffer.from(secret.slice('whsec_'.length), 'base64'))
    .update(`${id}.${ts}.${JSON.stringify(receipt)}`)
    .digest('base64')
  const email = ok(
    'receiveEmailReceipt',
    await anonymous.POST(`${base}/receipts/email/{infrastructureId}/{channelId}`, {
      params: {
        path: { infrastructureId: infraA, channelId: mail.id },
        header: { 'Webhook-Id': id, 'Webhook-Timestamp': ts, 'Webhook-Signature': `v1,${sig}` },
      },
      body: receipt,
    }),
  ).data!
  // Not delivered yet (nobody claims tenant A's outbox): the receipt changes nothing.
  if (email.outcome !== 'unchanged' || email.status !== 'pending')
    throw new Error(`receiveEmailReceipt: ${JSON.stringify(email)}`)
}

process.stdout.write(
  `RESULT ${JSON.stringify({
    statuses,
    documentTitle: (doc.data as { info?: { title?: string } }).info?.title,
    preview,
    inbox: { entries: entries.length, unread: unread.unread, marked: marked.changed },
  })}\n`,
)
