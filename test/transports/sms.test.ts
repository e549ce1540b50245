import type { ServerResponse } from 'node:http'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  createOutboundHttp,
  createSmsTransport,
  createTwilioSmsProvider,
  smsChannelType,
} from '../../src/adapters/transports/sms/index.js'
import { BUILTIN_CHANNEL_TYPE_DEFINITIONS } from '../../src/domain/channel.js'
import { channelSecrets, createSecretBox, sealConfig } from '../../src/secrets/index.js'
import {
  deliverVia,
  LOOPBACK,
  type LoopbackServer,
  type ReceivedRequest,
  startHttpServer,
  testChannel,
  testMessage,
} from './support.js'

const API_KEY = 'sk_live_9f8e7d6c5b4a-sms-api-key'
const SID = `AC${'0123456789abcdef'.repeat(2)}`
const TOKEN = 'twilio-auth-token-5f4dcc3b5aa765d61d83'
const FROM = '+4915112345678'

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body))

/**
 * A loopback double of Twilio's Messages API: checks the path, Basic auth and form body,
 * answers 201 with a message sid, or Twilio's error shape. Numbers ending in 0000 are
 * invalid (21211); 0429 is throttled (20429 with Retry-After).
 */
function twilioApi(
  req: ReceivedRequest,
  res: ServerResponse,
  sent: { to: string; from: string; body: string }[],
) {
  const expectedAuth = `Basic ${Buffer.from(`${SID}:${TOKEN}`).toString('base64')}`
  if (req.method !== 'POST' || req.url !== `/2010-04-01/Accounts/${SID}/Messages.json`) {
    return json(res, 404, { code: 20404, message: 'The requested resource was not found', status: 404 })
  }
  if (req.headers.authorization !== expectedAuth) {
    const got = Buffer.from(String(req.headers.authorization).replace(/^Basic /, ''), 'base64').toString()
    return json(res, 401, { code: 20003, message: `Authenticate: bad credentials ${got}`, status: 401 })
  }
  if (req.headers['content-type'] !== 'application/x-www-form-urlencoded') {
    return json(res, 400, { code: 20001, message: 'bad content type', status: 400 })
  }
  const form = new URLSearchParams(req.body.toString())
  const to = form.get('To') ?? ''
  if (to.endsWith('0000')) {
    return json(res, 400, {
      code: 21211,
      message: `The 'To' number ${to} is not a valid phone number.`,
      more_info: 'https://www.twilio.com/docs/errors/21211',
      status: 400,
    })
  }
  if (to.endsWith('0429')) {
    return json(res, 429, { code: 20429, message: 'Too Many Requests', status: 429 }, { 'retry-after': '7' })
  }
  sent.push({ to, from: form.get('From') ?? '', body: form.get('Body') ?? '' })
  return json(res, 201, {
    sid: `SM${String(sent.length).padStart(32, '0')}`,
    account_sid: SID,
    to,
    from: form.get('From'),
    body: form.get('Body'),
    status: 'queued',
  })
}

describe('sms transport', () => {
  let api: LoopbackServer
  const twilioSent: { to: string; from: string; body: string }[] = []
  beforeAll(async () => {
    api = await startHttpServer()
  })
  afterAll(async () => {
    await api.close()
  })
  beforeEach(() => {
    api.handle((req, res) => {
      if (req.url?.startsWith('/2010-04-01/')) return twilioApi(req, res, twilioSent)
      // The generic JSON API.
      if (req.headers['x-api-key'] !== API_KEY) return json(res, 401, { error: 'bad key' })
      const body = JSON.parse(req.body.toString()) as { to: string }
      if (body.to.endsWith('0500')) return json(res, 503, { error: 'upstream down' }, { 'retry-after': '30' })
      if (body.to.endsWith('0400')) return json(res, 422, { error: `unroutable ${body.to}` })
      return json(res, 200, { id: `msg-${body.to.slice(-4)}` })
    })
  })

  const transport = createSmsTransport({ allowHttp: true, ssrf: LOOPBACK })
  const jsonChannel = (over: Record<string, unknown> = {}) =>
    testChannel('sms', { from: FROM, provider: { url: `${api.url}/v1/sms`, apiKey: API_KEY }, ...over })
  const twilioChannel = (over: Record<string, unknown> = {}) =>
    testChannel('sms', {
      from: FROM,
      twilio: { accountSid: SID, authToken: TOKEN, baseUrl: api.url },
      ...over,
    })

  it('carries the built-in sms definition the registry holds', () => {
    expect(transport.channelType).toBe(BUILTIN_CHANNEL_TYPE_DEFINITIONS.find((d) => d.type === 'sms'))
    expect(transport.channelType.secretPaths).toEqual([
      'provider.apiKey',
      'twilio.authToken',
      'fallbacks.*.provider.apiKey',
      'fallbacks.*.twilio.authToken',
    ])
  })

  it('posts { from, to, text } with the API key header and a per-recipient idempotency key', async () => {
    const ch = jsonChannel()
    const msg = testMessage(ch, { recipients: ['+4915199990001'], payload: { text: 'Your code is 123456' } })
    const before = api.received.length
    expect(await deliverVia(transport, msg, ch)).toEqual({
      status: 'delivered',
      providerMessageId: 'msg-0001',
      provider: `provider:${new URL(api.url).host}`,
    })
    const req = api.received[before]!
    expect(req.url).toBe('/v1/sms')
    expect(req.headers['content-type']).toBe('application/json')
    expect(req.headers['idempotency-key']).toBe(`${msg.id}:+4915199990001`)
    expect(JSON.parse(req.body.toString())).toEqual({
      from: FROM,
      to: '+4915199990001',
      text: 'Your code is 123456',
      reference: `${msg.id}:+4915199990001`,
    })
  })

  it('speaks the Twilio Messages API: form body, Basic auth, the sid back', async () => {
    const ch = twilioChannel({ template: 'Hi {{name}}, your code is {{code}}' })
    const msg = testMessage(ch, {
      recipients: ['+14155550123'],
      payload: { data: { name: 'Ada', code: '987654' } },
    })
    const before = twilioSent.length
    const outcome = await deliverVia(transport, msg, ch)
    expect(outcome).toMatchObject({
      status: 'delivered',
      providerMessageId: expect.stringMatching(/^SM\d{32}$/),
    })
    expect(twilioSent.slice(before)).toEqual([
      { to: '+14155550123', from: FROM, body: 'Hi Ada, your code is 987654' },
    ])
  })

  it("maps Twilio's error shape: 21211 permanent, 20429 retryable with Retry-After", async () => {
    const ch = twilioChannel()
    const invalid = testMessage(ch, { recipients: ['+14155550000'], payload: { text: 'x' } })
    expect(await deliverVia(transport, invalid, ch)).toMatchObject({
      status: 'permanent',
      code: 'TWILIO_21211',
      error: expect.stringContaining('not a valid phone number'),
    })
    const throttled = testMessage(ch, { recipients: ['+14155550429'], payload: { text: 'x' } })
    expect(await deliverVia(transport, throttled, ch)).toMatchObject({
      status: 'retryable',
      code: 'TWILIO_20429',
      retryAfterMs: 7_000,
    })
  })

  it('redacts the auth token when a provider echoes credentials', async () => {
    const ch = twilioChannel({ twilio: { accountSid: SID, authToken: `${TOKEN}-old`, baseUrl: api.url } })
    const msg = testMessage(ch, { recipients: ['+14155550123'], payload: { text: 'x' } })
    const outcome = await deliverVia(transport, msg, ch)
    expect(outcome).toMatchObject({ status: 'permanent', code: 'TWILIO_20003' })
    const text = JSON.stringify(outcome)
    expect(text).toContain('[redacted]')
    expect(text).not.toContain(TOKEN)
  })

  it('validates every recipient as E.164 before sending anything', async () => {
    const ch = jsonChannel()
    const before = api.received.length
    for (const bad of [
      '4915199990001',
      '+0491519999',
      '+49 151 9999',
      '+1234',
      '+1234567890123456',
      'ada@example.org',
    ]) {
      const msg = testMessage(ch, { recipients: ['+4915199990001', bad], payload: { text: 'x' } })
      expect(await deliverVia(transport, msg, ch)).toMatchObject({
        status: 'permanent',
        code: 'INVALID_RECIPIENT',
        error: 'recipients.1 is not an E.164 number',
      })
    }
    const none = testMessage(ch, { recipients: null, payload: { text: 'x' } })
    expect(await deliverVia(transport, none, ch)).toMatchObject({
      status: 'permanent',
      code: 'NO_RECIPIENTS',
    })
    const empty = testMessage(ch, { recipients: ['+4915199990001'], payload: { other: 1 } })
    expect(await deliverVia(transport, empty, ch)).toMatchObject({
      status: 'permanent',
      code: 'EMPTY_TEXT',
    })
    expect(api.received.length).toBe(before)
  })

  it('sends to each recipient and combines: all delivered, any retryable, else permanent', async () => {
    const ch = jsonChannel()
    const ok = testMessage(ch, { recipients: ['+4915199990001', '+4915199990002'], payload: { text: 'x' } })
    expect(await deliverVia(transport, ok, ch)).toEqual({
      status: 'delivered',
      providerMessageId: 'msg-0001,msg-0002',
      provider: `provider:${new URL(api.url).host}`,
    })

    const mixed = testMessage(ch, {
      recipients: ['+4915199990001', '+4915199990400', '+4915199990500'],
      payload: { text: 'x' },
    })
    const retry = await deliverVia(transport, mixed, ch)
    expect(retry).toMatchObject({ status: 'retryable', code: 'HTTP_503', retryAfterMs: 30_000 })
    if (retry.status === 'retryable')
      expect(retry.error).toMatch(/^1 of 3 sent; recipients\.1: .*recipients\.2: /)

    const perm = testMessage(ch, { recipients: ['+4915199990001', '+4915199990400'], payload: { text: 'x' } })
    expect(await deliverVia(transport, perm, ch)).toMatchObject({ status: 'permanent', code: 'HTTP_422' })
  })

  it('refuses a wrong API key permanently without the key in the outcome', async () => {
    const ch = jsonChannel({ provider: { url: `${api.url}/v1/sms`, apiKey: `${API_KEY}-rotated-out` } })
    const msg = testMessage(ch, { recipients: ['+4915199990001'], payload: { text: 'x' } })
    const outcome = await deliverVia(transport, msg, ch)
    expect(outcome).toMatchObject({ status: 'permanent', code: 'HTTP_401' })
    expect(JSON.stringify(outcome)).not.toContain(API_KEY)
  })

  it('sends with credentials the module opened from their sealed form, and holds no key of its own', async () => {
    const box = createSecretBox({ keys: { k1: Buffer.alloc(32, 9).toString('base64') }, activeKeyId: 'k1' })
    const plain = twilioChannel()
    const ch = {
      ...plain,
      config: sealConfig(box, smsChannelType, plain.config, {
        infrastructureId: plain.infrastructureId,
        channelId: plain.id,
      }),
    }
    expect(JSON.stringify(ch.config)).not.toContain(TOKEN)
    const msg = testMessage(ch, { recipients: ['+14155550123'], payload: { text: 'sealed' } })
    expect(await deliverVia(transport, msg, ch, { secrets: channelSecrets(box) })).toMatchObject({
      status: 'delivered',
    })
    expect(twilioSent[twilioSent.length - 1]).toMatchObject({ body: 'sealed' })
  })

  it("uses the host's provider for a channel that names none", async () => {
    const hosted = createSmsTransport({
      provider: createTwilioSmsProvider(
        { accountSid: SID, authToken: TOKEN, baseUrl: api.url },
        createOutboundHttp({ allowHttp: true, ssrf: LOOPBACK }),
      ),
    })
    const ch = testChannel('sms', { from: FROM })
    const msg = testMessage(ch, { recipients: ['+14155550123'], payload: { text: 'from the host' } })
    expect(await deliverVia(hosted, msg, ch)).toMatchObject({ status: 'delivered' })
    expect(twilioSent[twilioSent.length - 1]).toMatchObject({ body: 'from the host' })
    expect(await deliverVia(transport, msg, ch)).toMatchObject({
      status: 'permanent',
      code: 'NO_PROVIDER',
    })
  })

  it('puts the provider URL through the SSRF guard and the https rule', async () => {
    const before = api.received.length
    const guarded = createSmsTransport({ allowHttp: true })
    const ch = jsonChannel()
    const msg = testMessage(ch, { recipients: ['+4915199990001'], payload: { text: 'x' } })
    expect(await deliverVia(guarded, msg, ch)).toMatchObject({ status: 'permanent', code: 'SSRF_REFUSED' })
    const strict = createSmsTransport({ ssrf: LOOPBACK })
    expect(await deliverVia(strict, msg, ch)).toMatchObject({ status: 'permanent', code: 'INSECURE_URL' })
    expect(api.received.length).toBe(before)
  })
})
