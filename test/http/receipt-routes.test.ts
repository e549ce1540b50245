import { createHmac, randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { createSmsTransport } from '../../src/adapters/transports/sms/index.js'
import { createMessagingClient } from '../../src/client/index.js'
import { createFetchHandler } from '../../src/http/index.js'
import { createNodeListener } from '../../src/http/mounts/node.js'
import { createMessaging, signTwilioRequest } from '../../src/index.js'
import { createSecretBox } from '../../src/secrets/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { principal, tenant } from '../support/fixtures.js'
import { until } from '../support/transports.js'
import { LOOPBACK, type LoopbackServer, startHttpServer } from '../transports/support.js'

/**
 * The receipt routes over real HTTP: a real worker delivers a text through the SMS transport
 * to a loopback double of Twilio's API, then Twilio's status callback, signed here as Twilio
 * signs it, confirms it. Every refusal answers 4xx with a typed problem and changes nothing.
 */
const TOKEN = 'twilio-auth-token-0b1c2d3e4f'
const SECRET = `whsec_${randomBytes(24).toString('base64')}`
const base = '/functions/v1/messaging'
const t = tenant()
const other = tenant()
const admin = principal('infra_admin', [[t.infra, null]])
const member = principal('member', [[t.infra, null]])
const service = principal('service', [[t.infra, null]])
const adminB = principal('infra_admin', [[other.infra, null]])

const messaging = createMessaging({
  storage: createMemoryStorage(),
  secrets: createSecretBox({ keys: { k1: randomBytes(32).toString('base64') }, activeKeyId: 'k1' }),
  destinations: LOOPBACK,
})
const reported: unknown[] = []
const handler = createFetchHandler({ messaging, authenticate: () => null, onError: (e) => reported.push(e) })
let twilio: LoopbackServer
let server: Server
let origin: string
let sms: { id: string }
let smsB: { id: string }
let email: { id: string }

beforeAll(async () => {
  let n = 0
  twilio = await startHttpServer('127.0.0.1', (_req, res) => {
    const sid = `SM${(++n).toString(16).padStart(32, 'a')}`
    res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ sid, status: 'queued' }))
  })
  server = createServer(createNodeListener(handler))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const twilioConfig = (authToken: string) => ({
    from: '+4915112345678',
    twilio: { accountSid: `AC${'0123456789abcdef'.repeat(2)}`, authToken, baseUrl: twilio.url },
  })
  sms = await messaging.createChannel(admin, {
    infrastructureId: t.infra,
    channelKey: 'sms',
    type: 'sms',
    config: twilioConfig(TOKEN),
  })
  smsB = await messaging.createChannel(adminB, {
    infrastructureId: other.infra,
    channelKey: 'sms',
    type: 'sms',
    config: twilioConfig('token-of-b'),
  })
  email = await messaging.createChannel(admin, {
    infrastructureId: t.infra,
    channelKey: 'mail',
    type: 'email',
    config: { from: 'ops@example.com', receiptSecret: SECRET },
  })
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  await twilio.close()
  await messaging.close()
})

const smsPath = (infra = t.infra, channel = sms.id) => `${base}/receipts/sms/${infra}/${channel}`
function twilioCallback(fields: Record<string, string>, opts: { token?: string; path?: string } = {}) {
  const path = opts.path ?? smsPath()
  const form = new URLSearchParams(fields)
  return fetch(`${origin}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': signTwilioRequest(opts.token ?? TOKEN, `${origin}${path}`, form),
    },
    body: form.toString(),
  })
}

function standardWebhook(body: string, at = Math.floor(Date.now() / 1000), secret = SECRET) {
  const id = `msg_${randomBytes(8).toString('hex')}`
  const sig = createHmac('sha256', Buffer.from(secret.slice('whsec_'.length), 'base64'))
    .update(`${id}.${at}.${body}`)
    .digest('base64')
  return { 'webhook-id': id, 'webhook-timestamp': String(at), 'webhook-signature': `v1,${sig}` }
}
const emailPath = `${base}/receipts/email/${t.infra}/`
const postEmail = (body: string, headers: Record<string, string>, channel = email.id) =>
  fetch(`${origin}${emailPath}${channel}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  })

const status = async (id: string) =>
  (await messaging.getMessage(admin, { infrastructureId: t.infra, messageId: id })).status
const events = () => messaging.listEvents(service, { infrastructureId: t.infra, limit: 1000 })

async function deliveredText(): Promise<{ id: string; sid: string }> {
  const { message } = await messaging.enqueue(member, {
    infrastructureId: t.infra,
    channelId: sms.id,
    payload: { text: 'Your code is 4711' },
    recipients: ['+4915199990001'],
  })
  const worker = createDeliveryWorker({
    messaging,
    principal: service,
    transports: [createSmsTransport({ allowHttp: true, ssrf: LOOPBACK })],
  })
  await until(async () => {
    await worker.drain()
    return (await status(message.id)) === 'processed'
  })
  const [attempt] = await messaging.listAttempts(admin, { infrastructureId: t.infra, messageId: message.id })
  return { id: message.id, sid: attempt!.providerMessageId! }
}

describe('POST /receipts/sms/{infrastructureId}/{channelId}', () => {
  it("confirms a text the worker delivered when Twilio's signed callback says delivered, once", async () => {
    const { id, sid } = await deliveredText()
    const res = await twilioCallback({ MessageSid: sid, MessageStatus: 'delivered', AccountSid: 'AC1' })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ outcome: 'applied', messageId: id, status: 'confirmed' })
    expect(await status(id)).toBe('confirmed')
    const again = await twilioCallback({ MessageSid: sid, MessageStatus: 'delivered', AccountSid: 'AC1' })
    expect(again.status).toBe(200)
    expect(await again.json()).toEqual({ outcome: 'unchanged', messageId: id, status: 'confirmed' })
    expect((await events()).filter((e) => e.messageId === id).map((e) => e.type)).toEqual([
      'message.delivered',
      'message.confirmed',
    ])
  })

  it('refuses unsigned, tampered, wrongly keyed, cross-tenant and unknown receipts with 401 or 404, and changes nothing', async () => {
    const { id, sid } = await deliveredText()
    const before = (await events()).length
    const form = new URLSearchParams({ MessageSid: sid, MessageStatus: 'undelivered' })
    const good = signTwilioRequest(TOKEN, `${origin}${smsPath()}`, form)
    const post = (body: string, headers: Record<string, string>, path = smsPath()) =>
      fetch(`${origin}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body,
      })
    const refusals: Array<[string, Promise<Response>, number]> = [
      ['unsigned', post(form.toString(), {}), 401],
      ['tampered body', post(`${form}&ErrorCode=30003`, { 'x-twilio-signature': good }), 401],
      [
        'signed for another URL',
        post(form.toString(), { 'x-twilio-signature': good }, `${smsPath()}?x=1`),
        401,
      ],
      [
        'another token',
        twilioCallback({ MessageSid: sid, MessageStatus: 'undelivered' }, { token: 'nope' }),
        401,
      ],
      [
        "another tenant's path, its own token",
        twilioCallback(
          { MessageSid: sid, MessageStatus: 'undelivered' },
          { token: 'token-of-b', path: smsPath(other.infra, smsB.id) },
        ),
        404,
      ],
      [
        "this channel under another tenant's path",
        twilioCallback(
          { MessageSid: sid, MessageStatus: 'undelivered' },
          { path: smsPath(other.infra, sms.id) },
        ),
        404,
      ],
      [
        'unknown message',
        twilioCallback({ MessageSid: `SM${'0'.repeat(32)}`, MessageStatus: 'undelivered' }),
        404,
      ],
      [
        'the email channel on the sms route',
        twilioCallback(
          { MessageSid: sid, MessageStatus: 'undelivered' },
          { path: smsPath(t.infra, email.id) },
        ),
        404,
      ],
      [
        'not a tenant id',
        post(form.toString(), { 'x-twilio-signature': good }, `${base}/receipts/sms/x/${sms.id}`),
        400,
      ],
      ['oversized', post(`a=${'x'.repeat(70 * 1024)}`, { 'x-twilio-signature': good }), 413],
      [
        'JSON instead of a form',
        fetch(`${origin}${smsPath()}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{}',
        }),
        415,
      ],
      [
        'invalid UTF-8',
        post(Buffer.from([0x4d, 0xff, 0xfe]) as unknown as string, { 'x-twilio-signature': good }),
        400,
      ],
    ]
    for (const [name, pending, expected] of refusals) {
      const res = await pending
      expect(res.status, name).toBe(expected)
      expect(res.headers.get('content-type'), name).toBe('application/problem+json')
      const problem = (await res.json()) as { code: string }
      expect(problem.code, name).toMatch(/^[A-Z_]+$/)
    }
    expect(await status(id)).toBe('processed')
    expect(await events()).toHaveLength(before)
    expect(reported).toEqual([])
  })
})

describe('POST /receipts/email/{infrastructureId}/{channelId}', () => {
  async function deliveredEmail(): Promise<string> {
    const { message } = await messaging.enqueue(member, {
      infrastructureId: t.infra,
      channelId: email.id,
      payload: { subject: 'Invoice', text: 'paid' },
      recipients: ['ada@example.com'],
    })
    // Delivered by the host's own worker over the facade: claimed, then acked as processed.
    const [held] = await messaging.claim(service, { infrastructureId: t.infra, limit: 10 })
    expect(held?.id).toBe(message.id)
    await messaging.ack(service, {
      infrastructureId: t.infra,
      messageId: held!.id,
      leaseToken: held!.leaseToken,
      outcome: 'processed',
    })
    return message.id
  }

  it('bounces a delivered email on a Standard Webhooks receipt signed with the channel secret, once', async () => {
    const id = await deliveredEmail()
    const body = JSON.stringify({ messageId: id, status: 'bounced', reason: '550 5.1.1 mailbox unknown' })
    const res = await postEmail(body, standardWebhook(body))
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ outcome: 'applied', messageId: id, status: 'bounced' })
    const replay = await postEmail(body, standardWebhook(body))
    expect(await replay.json()).toEqual({ outcome: 'unchanged', messageId: id, status: 'bounced' })
    const mine = (await events()).filter((e) => e.messageId === id)
    expect(mine.map((e) => [e.type, e.data.reason ?? null])).toEqual([
      ['message.delivered', null],
      ['message.bounced', '550 5.1.1 mailbox unknown'],
    ])
    // The receipt secret is sealed and never shown.
    const view = await messaging.getChannel(admin, { infrastructureId: t.infra, channelId: email.id })
    expect(JSON.stringify(view)).not.toContain(SECRET.slice(6))
  })

  it('refuses unsigned, stale, wrongly signed and malformed receipts, and changes nothing', async () => {
    const id = await deliveredEmail()
    const body = JSON.stringify({ messageId: id, status: 'delivered' })
    const now = Math.floor(Date.now() / 1000)
    const cases: Array<[string, Promise<Response>, number]> = [
      ['unsigned', postEmail(body, {}), 401],
      ['stale', postEmail(body, standardWebhook(body, now - 600)), 401],
      ['from the future', postEmail(body, standardWebhook(body, now + 600)), 401],
      [
        'another secret',
        postEmail(body, standardWebhook(body, now, `whsec_${randomBytes(24).toString('base64')}`)),
        401,
      ],
      ['tampered', postEmail(body.replace('delivered', 'bounced'), standardWebhook(body)), 401],
      ['the sms channel on the email route', postEmail(body, standardWebhook(body), sms.id), 404],
      ['neither id', postEmail('{"status":"delivered"}', standardWebhook('{"status":"delivered"}')), 400],
      ['not JSON', postEmail('{"status":', standardWebhook('{"status":')), 400],
    ]
    for (const [name, pending, expected] of cases) {
      const res = await pending
      expect(res.status, name).toBe(expected)
      expect(res.headers.get('content-type'), name).toBe('application/problem+json')
    }
    expect(await status(id)).toBe('processed')
    expect(reported).toEqual([])
  })
})

describe('behind a proxy', () => {
  it('checks a Twilio signature over the public origin the provider called', async () => {
    const { id, sid } = await deliveredText()
    const proxied = createFetchHandler({
      messaging,
      authenticate: () => null,
      publicOrigin: 'https://api.example.com',
    })
    const form = new URLSearchParams({ MessageSid: sid, MessageStatus: 'failed', ErrorCode: '30005' })
    const signature = signTwilioRequest(TOKEN, `https://api.example.com${smsPath()}`, form)
    const res = await proxied(
      new Request(`http://10.0.0.7:8080${smsPath()}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
        body: form.toString(),
      }),
    )
    expect(res.status).toBe(200)
    expect(await status(id)).toBe('bounced')
  })
})

describe('the typed client', () => {
  it('hands a receipt on as it was signed, and raises the typed error of a refusal', async () => {
    const { id, sid } = await deliveredText()
    const client = createMessagingClient({ baseUrl: `${origin}${base}`, infrastructureId: t.infra })
    const form = new URLSearchParams({ MessageSid: sid, MessageStatus: 'delivered' })
    const headers = {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': signTwilioRequest(TOKEN, `${origin}${smsPath()}`, form),
    }
    await expect(client.postReceipt('sms', sms.id, { body: form.toString(), headers })).resolves.toEqual({
      outcome: 'applied',
      messageId: id,
      status: 'confirmed',
    })
    await expect(client.postReceipt('sms', sms.id, { body: `${form}&x=1`, headers })).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    })
  })
})
