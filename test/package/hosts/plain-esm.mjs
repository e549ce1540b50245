// A plain Node host (ES modules, no framework): node:http with the package's Node listener,
// the host's own path in front of it, the worker in process, the inbox read back through the
// typed client.
// Environment: STORE (sqlite | postgres), SQLITE_FILE or DATABASE_URL, WEBHOOK_URL, WEBHOOK_SECRET.
import { randomBytes, randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import { createMessaging } from 'messaging'
import { createMessagingClient } from 'messaging/client'
import { createFetchHandler } from 'messaging/http'
import { createNodeListener } from 'messaging/http/node'
import { createSecretBox } from 'messaging/secrets'
import { createInAppTransport } from 'messaging/transports/in-app'
import { createWebhookTransport } from 'messaging/transports/webhook'
import { createDeliveryWorker } from 'messaging/worker'

const env = process.env
let storage
if (env.STORE === 'postgres') {
  const { createPostgresStorage } = await import('messaging/postgres')
  storage = await createPostgresStorage({ connectionString: env.DATABASE_URL })
}
const secrets = createSecretBox({ keys: { primary: randomBytes(32) }, activeKeyId: 'primary' })
// The receiver listens on loopback: one allow-list for saving channels and for delivering.
const destinations = { allowedRanges: ['127.0.0.0/8'] }
const messaging = createMessaging(
  storage ? { storage, secrets, destinations } : { sqlitePath: env.SQLITE_FILE, secrets, destinations },
)

const infrastructureId = randomUUID()
const businessId = randomUUID()
const admin = { userId: randomUUID(), role: 'infra_admin', grants: [{ infrastructureId, businessId: null }] }
const shop = { userId: randomUUID(), role: 'member', grants: [{ infrastructureId, businessId }] }
const clerk = { userId: randomUUID(), role: 'member', grants: [{ infrastructureId, businessId }] }
const service = { userId: randomUUID(), role: 'service', grants: [{ infrastructureId, businessId: null }] }
const byToken = { 'plain-admin-0123456789': admin, 'plain-clerk-0123456789': clerk }

const handler = createFetchHandler({
  messaging,
  authenticate: (request) => byToken[(request.headers.get('authorization') ?? '').slice('Bearer '.length)],
})
const listener = createNodeListener(async (request) => {
  const url = new URL(request.url)
  // The host's own route: stock running low at one shop.
  if (request.method === 'POST' && url.pathname === '/stock/low') {
    const { sku, left } = await request.json()
    const hook = await messaging.enqueue(shop, {
      infrastructureId,
      businessId,
      channelKey: 'ops-hook',
      payload: { event: 'stock.low', sku, left },
    })
    const inbox = await messaging.enqueue(shop, {
      infrastructureId,
      businessId,
      channelKey: 'alerts',
      payload: { title: `${sku}: ${left} left` },
    })
    return Response.json(
      { webhookMessageId: hook.message.id, inboxMessageId: inbox.message.id },
      { status: 202 },
    )
  }
  return handler(request)
})
const server = createServer(listener)
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
const origin = `http://127.0.0.1:${server.address().port}`
const client = (token) =>
  createMessagingClient({ baseUrl: `${origin}${handler.basePath}`, getToken: () => token, infrastructureId })

const asAdmin = client('plain-admin-0123456789')
await asAdmin.createChannel({
  channelKey: 'ops-hook',
  type: 'webhook',
  config: { url: env.WEBHOOK_URL, secrets: [env.WEBHOOK_SECRET] },
})
const alerts = await asAdmin.createChannel({ channelKey: 'alerts', type: 'in_app' })
await asAdmin.addMember({ channelId: alerts.id, userId: clerk.userId, businessId })

const low = await fetch(`${origin}/stock/low`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ sku: 'SKU-42', left: 3 }),
})
if (low.status !== 202) throw new Error(`host route answered ${low.status}`)
const ids = await low.json()

const worker = createDeliveryWorker({
  messaging,
  principal: service,
  transports: [
    createInAppTransport({ messaging }),
    createWebhookTransport({ allowHttp: true, ssrf: destinations }),
  ],
  pollIntervalMs: 50,
})
const stop = new AbortController()
const running = worker.run(stop.signal)
const statuses = {}
const deadline = Date.now() + 30_000
for (;;) {
  for (const [key, id] of Object.entries(ids))
    statuses[key] = (await messaging.getMessage(admin, { infrastructureId, messageId: id })).status
  if (Object.values(statuses).every((s) => s === 'processed' || s === 'dead')) break
  if (Date.now() > deadline) break
  await new Promise((r) => setTimeout(r, 50))
}
stop.abort()
await running

const inbox = await client('plain-clerk-0123456789').listInbox()
server.closeAllConnections()
server.close()
await messaging.close()
process.stdout.write(
  `RESULT ${JSON.stringify({ host: 'plain-esm', ids, statuses, inbox: inbox.map((e) => ({ messageId: e.messageId, payload: e.payload, createdAt: e.createdAt instanceof Date })) })}\n`,
)
