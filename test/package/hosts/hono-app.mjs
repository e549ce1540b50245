// A Hono host (ES modules, served by @hono/node-server) of the installed package: the module
// mounted natively, a host route that enqueues, the worker in process, the inbox read back
// through the typed client.
// Environment: STORE (sqlite | postgres), SQLITE_FILE or DATABASE_URL, WEBHOOK_URL, WEBHOOK_SECRET.
import { randomBytes, randomUUID } from 'node:crypto'
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { createMessaging } from 'messaging'
import { createMessagingClient } from 'messaging/client'
import { createFetchHandler } from 'messaging/http'
import { mountHono } from 'messaging/http/hono'
import { createPostgresStorage } from 'messaging/postgres'
import { createSecretBox } from 'messaging/secrets'
import { createInAppTransport } from 'messaging/transports/in-app'
import { createWebhookTransport } from 'messaging/transports/webhook'
import { createDeliveryWorker } from 'messaging/worker'

const env = process.env
// The receiver listens on loopback: one allow-list for saving channels and for delivering.
const destinations = { allowedRanges: ['127.0.0.0/8'] }
const messaging = createMessaging({
  destinations,
  ...(env.STORE === 'postgres'
    ? { storage: await createPostgresStorage({ connectionString: env.DATABASE_URL }) }
    : { sqlitePath: env.SQLITE_FILE }),
  secrets: createSecretBox({ keys: { k1: randomBytes(32).toString('base64') }, activeKeyId: 'k1' }),
})

const infrastructureId = randomUUID()
const grant = [{ infrastructureId, businessId: null }]
const admin = { userId: randomUUID(), role: 'infra_admin', grants: grant }
const automation = { userId: randomUUID(), role: 'member', grants: grant }
const reader = { userId: randomUUID(), role: 'member', grants: grant }
const service = { userId: randomUUID(), role: 'service', grants: grant }
const sessions = new Map([
  ['hono-admin-session-token', admin],
  ['hono-reader-session-token', reader],
])

const app = new Hono()
const handler = createFetchHandler({
  messaging,
  basePath: '/api/messaging',
  authenticate: (request) =>
    sessions.get(/^Bearer (.+)$/.exec(request.headers.get('authorization') ?? '')?.[1]),
})
mountHono(app, handler)
app.post('/invoices/:number/paid', async (c) => {
  const { amount } = await c.req.json()
  const number = c.req.param('number')
  const [hook, inbox] = await Promise.all([
    messaging.enqueue(automation, {
      infrastructureId,
      channelKey: 'ops-hook',
      payload: { event: 'invoice.paid', number, amount },
      idempotencyKey: `invoice-${number}`,
    }),
    messaging.enqueue(automation, {
      infrastructureId,
      channelKey: 'alerts',
      payload: { title: `Invoice ${number} paid` },
    }),
  ])
  return c.json({ webhookMessageId: hook.message.id, inboxMessageId: inbox.message.id }, 202)
})

const server = await new Promise((resolve) => {
  const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
})
const origin = `http://127.0.0.1:${server.address().port}`
const clientAs = (token) =>
  createMessagingClient({ baseUrl: `${origin}/api/messaging`, getToken: () => token, infrastructureId })

const asAdmin = clientAs('hono-admin-session-token')
await asAdmin.createChannel({
  channelKey: 'ops-hook',
  type: 'webhook',
  config: { url: env.WEBHOOK_URL, secrets: [env.WEBHOOK_SECRET] },
})
const alerts = await asAdmin.createChannel({ channelKey: 'alerts', type: 'in_app' })
await asAdmin.addMember({ channelId: alerts.id, userId: reader.userId })

const paid = await fetch(`${origin}/invoices/INV-7/paid`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ amount: '120.00 EUR' }),
})
if (paid.status !== 202) throw new Error(`host route answered ${paid.status}`)
const ids = await paid.json()

const worker = createDeliveryWorker({
  messaging,
  principal: service,
  transports: [
    createInAppTransport({ messaging }),
    createWebhookTransport({ allowHttp: true, ssrf: destinations }),
  ],
  pollIntervalMs: 50,
})
let settled = 0
const done = new Promise((resolve) => {
  for (const event of ['delivered', 'dead'])
    worker.events.on(event, () => {
      if (++settled === 2) resolve()
    })
})
const stop = new AbortController()
const running = worker.run(stop.signal)
let timer
await Promise.race([
  done,
  new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('not delivered in 30 s')), 30_000)
  }),
])
clearTimeout(timer)
stop.abort()
await running

const statuses = {}
for (const [key, id] of Object.entries(ids))
  statuses[key] = (await messaging.getMessage(admin, { infrastructureId, messageId: id })).status
const inbox = await clientAs('hono-reader-session-token').listInbox()
server.close()
await messaging.close()
process.stdout.write(
  `RESULT ${JSON.stringify({ host: 'hono', ids, statuses, inbox: inbox.map((e) => ({ messageId: e.messageId, payload: e.payload, createdAt: e.createdAt instanceof Date })) })}\n`,
)
