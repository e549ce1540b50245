// A NestJS 11 host compiled by tsc to CommonJS: it requires the installed package through
// its `require` conditions and types. The module's routes come from MessagingModule, the
// host's own from its controller; the worker runs in process; the inbox is read back
// through the typed client.
// Environment: STORE (sqlite | postgres), SQLITE_FILE or DATABASE_URL, WEBHOOK_URL, WEBHOOK_SECRET.
import 'reflect-metadata'
import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { NestFactory } from '@nestjs/core'
import type { NestExpressApplication } from '@nestjs/platform-express'
import { createMessaging, type Messaging, type MessagingStorage } from 'messaging'
import { createMessagingClient } from 'messaging/client'
import { createSecretBox } from 'messaging/secrets'
import { createSqliteStorage } from 'messaging/sqlite'
import { createInAppTransport } from 'messaging/transports/in-app'
import { createWebhookTransport } from 'messaging/transports/webhook'
import { createDeliveryWorker } from 'messaging/worker'
import { AppModule } from './app.module'
import { People } from './people'

async function openStorage(): Promise<MessagingStorage> {
  if (process.env.STORE !== 'postgres') return createSqliteStorage({ path: process.env.SQLITE_FILE! })
  const { createPostgresStorage } = await import('messaging/postgres')
  return createPostgresStorage({ connectionString: process.env.DATABASE_URL! })
}

async function settle(messaging: Messaging, people: People, ids: Record<string, string>) {
  const statuses: Record<string, string> = {}
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    for (const [key, messageId] of Object.entries(ids)) {
      const m = await messaging.getMessage(people.admin, {
        infrastructureId: people.infrastructureId,
        messageId,
      })
      statuses[key] = m.status
    }
    if (Object.values(statuses).every((s) => s === 'processed' || s === 'dead')) break
    await new Promise((r) => setTimeout(r, 50))
  }
  return statuses
}

async function main(): Promise<void> {
  const messaging = createMessaging({
    storage: await openStorage(),
    // The receiver listens on loopback: one allow-list for saving channels and for delivering.
    destinations: { allowedRanges: ['127.0.0.0/8'] },
    secrets: createSecretBox({ keys: { nest: randomBytes(32) }, activeKeyId: 'nest' }),
  })
  const people = new People()
  const app = await NestFactory.create<NestExpressApplication>(AppModule.register(messaging, people), {
    logger: ['error', 'warn'],
  })
  await app.listen(0, '127.0.0.1')
  const origin = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`
  const client = (token: string) =>
    createMessagingClient({
      baseUrl: `${origin}/functions/v1/messaging`,
      getToken: () => token,
      infrastructureId: people.infrastructureId,
    })

  const admin = client('nest-admin-session')
  await admin.createChannel({
    channelKey: 'ops-hook',
    type: 'webhook',
    config: { url: process.env.WEBHOOK_URL, secrets: [process.env.WEBHOOK_SECRET] },
  })
  const alerts = await admin.createChannel({ channelKey: 'alerts', type: 'in_app' })
  await admin.addMember({ channelId: alerts.id, userId: people.reader.userId })

  const res = await fetch(`${origin}/deployments/billing-api/finished`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ version: 'v2.4.1' }),
  })
  if (res.status !== 202) throw new Error(`host route answered ${res.status}: ${await res.text()}`)
  const ids = (await res.json()) as Record<string, string>

  const worker = createDeliveryWorker({
    messaging,
    principal: people.service,
    transports: [
      createInAppTransport({ messaging }),
      createWebhookTransport({ allowHttp: true, ssrf: messaging.destinations }),
    ],
    pollIntervalMs: 50,
  })
  const stop = new AbortController()
  const running = worker.run(stop.signal)
  const statuses = await settle(messaging, people, ids)
  stop.abort()
  await running

  const inbox = await client('nest-reader-session').listInbox()
  await app.close()
  await messaging.close()
  const summary = inbox.map((e) => ({
    messageId: e.messageId,
    payload: e.payload,
    createdAt: e.createdAt instanceof Date,
  }))
  process.stdout.write(
    `RESULT ${JSON.stringify({ host: 'nest', module: typeof require === 'function' && typeof module === 'object' ? 'commonjs' : 'esm', ids, statuses, inbox: summary })}\n`,
  )
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`)
  process.exit(1)
})
