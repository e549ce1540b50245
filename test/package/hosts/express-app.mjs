// An Express 5 host (ES modules) of the installed package: the module's routes mounted beside
// the host's own, a host route that enqueues, the delivery worker in process, and the
// signed-in user's inbox read back through the typed client.
// Environment: STORE (sqlite | postgres), SQLITE_FILE or DATABASE_URL, WEBHOOK_URL, WEBHOOK_SECRET.
import { randomBytes, randomUUID } from 'node:crypto'
import express from 'express'
import { createMessaging } from 'messaging'
import { createMessagingClient } from 'messaging/client'
import { createFetchHandler } from 'messaging/http'
import { mountExpress } from 'messaging/http/express'
import { createSecretBox } from 'messaging/secrets'
import { createInAppTransport } from 'messaging/transports/in-app'
import { createWebhookTransport } from 'messaging/transports/webhook'
import { createDeliveryWorker } from 'messaging/worker'

const env = process.env
const secrets = createSecretBox({ keys: { k1: randomBytes(32) }, activeKeyId: 'k1' })
const storage =
  env.STORE === 'postgres'
    ? await (await import('messaging/postgres')).createPostgresStorage({ connectionString: env.DATABASE_URL })
    : undefined
// The receiver listens on loopback: one allow-list for saving channels and for delivering.
const destinations = { allowedRanges: ['127.0.0.0/8'] }
const messaging = createMessaging(
  storage ? { storage, secrets, destinations } : { sqlitePath: env.SQLITE_FILE, secrets, destinations },
)

const infrastructureId = randomUUID()
const grant = [{ infrastructureId, businessId: null }]
const people = {
  admin: { userId: randomUUID(), role: 'infra_admin', grants: grant },
  automation: { userId: randomUUID(), role: 'member', grants: grant },
  reader: { userId: randomUUID(), role: 'member', grants: grant },
  worker: { userId: randomUUID(), role: 'service', grants: grant },
}
const tokens = new Map(Object.entries(people).map(([name, p]) => [`tok_${name}_${randomUUID()}`, p]))
const tokenOf = (who) => [...tokens].find(([, p]) => p === people[who])[0]

const app = express()
const handler = createFetchHandler({
  messaging,
  authenticate: (request) =>
    tokens.get(request.headers.get('authorization')?.replace(/^Bearer /, '')) ?? null,
})
mountExpress(app, handler)
app.use(express.json())
// The host's own route: an order shipped notifies operations (webhook) and the reader (in-app).
app.post('/orders/:orderId/shipped', async (req, res, next) => {
  try {
    const payload = { event: 'order.shipped', orderId: req.params.orderId, carrier: req.body.carrier }
    const hook = await messaging.enqueue(people.automation, {
      infrastructureId,
      channelKey: 'ops-hook',
      payload,
    })
    const inbox = await messaging.enqueue(people.automation, {
      infrastructureId,
      channelKey: 'alerts',
      payload: { title: `Order ${req.params.orderId} shipped` },
    })
    res.status(202).json({ webhookMessageId: hook.message.id, inboxMessageId: inbox.message.id })
  } catch (e) {
    next(e)
  }
})
const server = await new Promise((resolve) => {
  const s = app.listen(0, '127.0.0.1', () => resolve(s))
})
const origin = `http://127.0.0.1:${server.address().port}`
const client = (who) =>
  createMessagingClient({
    baseUrl: `${origin}${handler.basePath}`,
    getToken: () => tokenOf(who),
    infrastructureId,
  })

const admin = client('admin')
await admin.createChannel({
  channelKey: 'ops-hook',
  type: 'webhook',
  config: { url: env.WEBHOOK_URL, secrets: [env.WEBHOOK_SECRET] },
})
const alerts = await admin.createChannel({ channelKey: 'alerts', type: 'in_app' })
await admin.addMember({ channelId: alerts.id, userId: people.reader.userId })

const shipped = await fetch(`${origin}/orders/A-1001/shipped`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ carrier: 'DHL' }),
})
if (shipped.status !== 202) throw new Error(`host route answered ${shipped.status}`)
const ids = await shipped.json()

const worker = createDeliveryWorker({
  messaging,
  principal: people.worker,
  transports: [
    createInAppTransport({ messaging }),
    createWebhookTransport({ allowHttp: true, ssrf: destinations }),
  ],
  pollIntervalMs: 50,
})
const stop = new AbortController()
const running = worker.run(stop.signal)
const statuses = {}
for (
  const deadline = Date.now() + 30_000;
  Date.now() < deadline;
  await new Promise((r) => setTimeout(r, 50))
) {
  for (const [key, id] of Object.entries(ids))
    statuses[key] = (await messaging.getMessage(people.admin, { infrastructureId, messageId: id })).status
  if (Object.values(statuses).every((s) => s !== 'pending' && s !== 'processing')) break
}
stop.abort()
await running

const inbox = await client('reader').listInbox()
server.closeAllConnections()
await new Promise((resolve) => server.close(resolve))
await messaging.close()
process.stdout.write(
  `RESULT ${JSON.stringify({ host: 'express', ids, statuses, inbox: inbox.map((e) => ({ messageId: e.messageId, payload: e.payload, createdAt: e.createdAt instanceof Date })) })}\n`,
)
