import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createWebhookTransport,
  signWebhook,
  webhookChannelType,
} from '../../src/adapters/transports/webhook/index.js'
import { openChannel } from '../../src/application/channel-opener.js'
import { BUILTIN_CHANNEL_TYPE_DEFINITIONS, ChannelTypeRegistry } from '../../src/domain/channel.js'
import { plaintextSecrets } from '../../src/ports/channel-secrets.js'
import { channelSecrets, createSecretBox, keylessSecrets, sealConfig } from '../../src/secrets/index.js'
import { until } from '../support/transports.js'
import {
  deliverVia,
  LOOPBACK,
  type LoopbackServer,
  opened,
  startHttpServer,
  testChannel,
  testMessage,
} from './support.js'

// The Standard Webhooks specification's published vector (also in the reference libraries' tests).
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
}
const SECRET_A = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
const SECRET_B = `whsec_${Buffer.from('a second signing key, 32 bytes!!').toString('base64')}`

const headersOf = (h: Record<string, string | string[] | undefined>) => ({
  'webhook-id': String(h['webhook-id']),
  'webhook-timestamp': String(h['webhook-timestamp']),
  'webhook-signature': String(h['webhook-signature']),
})

describe('Standard Webhooks signature', () => {
  it('reproduces the specification test vector exactly', () => {
    expect(signWebhook([VECTOR.secret], VECTOR.id, VECTOR.timestamp, VECTOR.body)).toBe(VECTOR.signature)
    expect(new Webhook(VECTOR.secret).sign(VECTOR.id, new Date(VECTOR.timestamp * 1000), VECTOR.body)).toBe(
      VECTOR.signature,
    )
  })

  it('signs with every rotating secret, space-separated, in order', () => {
    const both = signWebhook([VECTOR.secret, SECRET_B], VECTOR.id, VECTOR.timestamp, VECTOR.body)
    const [first, second, ...rest] = both.split(' ')
    expect(first).toBe(VECTOR.signature)
    expect(second).toBe(signWebhook([SECRET_B], VECTOR.id, VECTOR.timestamp, VECTOR.body))
    expect(second).not.toBe(first)
    expect(rest).toEqual([])
  })
})

describe('webhook transport against a loopback receiver', () => {
  let server: LoopbackServer
  beforeAll(async () => {
    server = await startHttpServer()
  })
  afterAll(async () => {
    await server.close()
  })

  const transport = createWebhookTransport({ allowHttp: true, ssrf: LOOPBACK })
  const hook = (path: string, over: Record<string, unknown> = {}) =>
    testChannel('webhook', { url: `${server.url}${path}`, secrets: [SECRET_A], ...over })

  it('carries the built-in webhook definition the registry holds', () => {
    expect(transport.channelType).toBe(BUILTIN_CHANNEL_TYPE_DEFINITIONS.find((d) => d.type === 'webhook'))
    expect(transport.channelType.secretPaths).toEqual(['secrets'])
  })

  it('delivers a POST the standardwebhooks verifier accepts, the id being the stable message id', async () => {
    server.handle((_r, res) => res.writeHead(200).end('ok'))
    const ch = hook('/in', { headers: { 'X-Tenant': 'acme' } })
    const msg = testMessage(ch, { payload: { event: 'invoice.paid', amount: 4200, note: 'ünïcødé ✓' } })
    const before = server.received.length
    const outcome = await deliverVia(transport, msg, ch)
    expect(outcome).toEqual({ status: 'delivered' })
    const req = server.received[before]!
    expect(req.method).toBe('POST')
    expect(req.url).toBe('/in')
    expect(req.headers['content-type']).toBe('application/json')
    expect(req.headers['x-tenant']).toBe('acme')
    expect(req.headers['webhook-id']).toBe(msg.id)
    expect(req.body.equals(Buffer.from(JSON.stringify(msg.payload)))).toBe(true)
    const verified = new Webhook(SECRET_A).verify(req.body, headersOf(req.headers))
    expect(verified).toEqual(msg.payload)
    // Another secret's verifier refuses it: the signature is bound to the key.
    expect(() => new Webhook(SECRET_B).verify(req.body, headersOf(req.headers))).toThrow()
  })

  it('keeps the webhook-id across attempts and verifies under either key while rotating', async () => {
    server.handle((_r, res) => res.writeHead(204).end())
    const ch = hook('/rotating', { secrets: [SECRET_B, SECRET_A] })
    const msg = testMessage(ch)
    const before = server.received.length
    await deliverVia(transport, msg, ch)
    await deliverVia(transport, msg, ch, { context: { attempt: 2 } })
    const [one, two] = server.received.slice(before)
    expect(one!.headers['webhook-id']).toBe(msg.id)
    expect(two!.headers['webhook-id']).toBe(msg.id)
    expect(String(one!.headers['webhook-signature']).split(' ')).toHaveLength(2)
    for (const secret of [SECRET_A, SECRET_B]) {
      expect(new Webhook(secret).verify(one!.body, headersOf(one!.headers))).toEqual(msg.payload)
      expect(new Webhook(secret).verify(two!.body, headersOf(two!.headers))).toEqual(msg.payload)
    }
  })

  it('signs with secrets the module opened from their sealed form, and holds no key of its own', async () => {
    server.handle((_r, res) => res.writeHead(200).end())
    const box = createSecretBox({ keys: { k1: Buffer.alloc(32, 7).toString('base64') }, activeKeyId: 'k1' })
    const plain = hook('/sealed')
    const ch = {
      ...plain,
      config: sealConfig(box, webhookChannelType, plain.config, {
        infrastructureId: plain.infrastructureId,
        channelId: plain.id,
      }),
    }
    expect(JSON.stringify(ch.config)).not.toContain(SECRET_A)
    const msg = testMessage(ch)
    const before = server.received.length
    expect(await deliverVia(transport, msg, ch, { secrets: channelSecrets(box) })).toEqual({
      status: 'delivered',
    })
    const req = server.received[before]!
    expect(new Webhook(SECRET_A).verify(req.body, headersOf(req.headers))).toEqual(msg.payload)

    // Without the key, or copied onto another channel, the sealed secret does not open: the
    // channel is not handed to the transport at all, and nothing is sent.
    expect(() => opened(transport, ch, keylessSecrets)).toThrow(/SECRET_UNAVAILABLE.*MESSAGING_SECRET_KEYS/)
    expect(() => opened(transport, { ...ch, id: plain.infrastructureId }, channelSecrets(box))).toThrow(
      /SECRET_UNREADABLE/,
    )
    expect(server.received.length).toBe(before + 1)
  })

  it.each([
    [200, { status: 'delivered' }],
    [202, { status: 'delivered' }],
    [204, { status: 'delivered' }],
    [400, { status: 'permanent', code: 'HTTP_400' }],
    [401, { status: 'permanent', code: 'HTTP_401' }],
    [404, { status: 'permanent', code: 'HTTP_404' }],
    [410, { status: 'permanent', code: 'HTTP_410' }],
    [408, { status: 'retryable', code: 'HTTP_408' }],
    [500, { status: 'retryable', code: 'HTTP_500' }],
    [502, { status: 'retryable', code: 'HTTP_502' }],
    [503, { status: 'retryable', code: 'HTTP_503' }],
  ])('maps HTTP %i to %o', async (status, expected) => {
    server.handle((_r, res) => res.writeHead(status).end(status === 204 ? undefined : 'detail'))
    const ch = hook(`/status/${status}`)
    const msg = testMessage(ch)
    const outcome = await deliverVia(transport, msg, ch)
    expect(outcome).toMatchObject(expected)
    expect(outcome).not.toHaveProperty('retryAfterMs')
  })

  it('honours Retry-After as seconds and as an HTTP date', async () => {
    const now = new Date('2026-03-01T12:00:00.000Z')
    const clocked = createWebhookTransport({ allowHttp: true, ssrf: LOOPBACK, now: () => now })
    const ch = hook('/busy')
    const msg = testMessage(ch)

    server.handle((_r, res) => res.writeHead(429, { 'retry-after': '120' }).end('slow down'))
    expect(await deliverVia(clocked, msg, ch)).toMatchObject({
      status: 'retryable',
      code: 'HTTP_429',
      retryAfterMs: 120_000,
    })

    const later = new Date(now.getTime() + 90_000).toUTCString()
    server.handle((_r, res) => res.writeHead(503, { 'retry-after': later }).end())
    expect(await deliverVia(clocked, msg, ch)).toMatchObject({
      status: 'retryable',
      code: 'HTTP_503',
      retryAfterMs: 90_000,
    })
  })

  it('never follows a redirect, even to the allowed loopback', async () => {
    const target = await startHttpServer()
    try {
      for (const status of [301, 302, 303, 307, 308]) {
        server.handle((_r, res) => res.writeHead(status, { location: `${target.url}/internal` }).end())
        const ch = hook('/moved')
        const msg = testMessage(ch)
        expect(await deliverVia(transport, msg, ch)).toMatchObject({
          status: 'permanent',
          code: 'REDIRECT_REFUSED',
        })
      }
      expect(target.received).toHaveLength(0)
    } finally {
      await target.close()
    }
  })

  it('redacts the signing secrets from a provider error text that echoes them', async () => {
    const b64 = SECRET_A.slice('whsec_'.length)
    server.handle((_r, res) => res.writeHead(500).end(`bad key ${SECRET_A} (raw ${b64})`))
    const ch = hook('/echo')
    const msg = testMessage(ch)
    const outcome = await deliverVia(transport, msg, ch)
    expect(outcome.status).toBe('retryable')
    const text = JSON.stringify(outcome)
    expect(text).toContain('[redacted]')
    expect(text).not.toContain(b64)
  })

  it('requires https unless the host allows http, sending nothing', async () => {
    const strict = createWebhookTransport({ ssrf: LOOPBACK })
    const ch = hook('/plain')
    const msg = testMessage(ch)
    const before = server.received.length
    expect(await deliverVia(strict, msg, ch)).toMatchObject({ status: 'permanent', code: 'INSECURE_URL' })
    expect(server.received.length).toBe(before)
  })

  it('gives up on a receiver that never answers, within the channel timeout, as retryable', async () => {
    server.handle(() => {
      // never respond
    })
    const ch = hook('/hang', { timeoutMs: 300 })
    const msg = testMessage(ch)
    const started = Date.now()
    const outcome = await deliverVia(transport, msg, ch)
    expect(outcome).toMatchObject({ status: 'retryable' })
    expect(Date.now() - started).toBeLessThan(3_000)
  })

  it('cuts off a slow endless body at the deadline and decides on the status', async () => {
    let hungUp = false
    server.handle((_r, res) => {
      res.writeHead(503)
      const timer = setInterval(() => res.write('.'), 20)
      res.on('close', () => {
        clearInterval(timer)
        hungUp = true
      })
    })
    const ch = hook('/drip', { timeoutMs: 400 })
    const msg = testMessage(ch)
    const started = Date.now()
    const outcome = await deliverVia(transport, msg, ch)
    expect(outcome).toMatchObject({ status: 'retryable', code: 'HTTP_503' })
    expect(Date.now() - started).toBeLessThan(3_000)
    // The hang-up reaches the server's socket a moment later: waited for, not slept on.
    await until(() => hungUp)
  })

  it('reads at most maxResponseBytes of a fast endless body and hangs up', async () => {
    const capped = createWebhookTransport({ allowHttp: true, ssrf: LOOPBACK, maxResponseBytes: 1024 })
    let hungUp = false
    server.handle((_r, res) => {
      res.on('close', () => {
        hungUp = true
      })
      res.writeHead(500)
      const chunk = 'x'.repeat(16 * 1024)
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) {}
        if (!res.destroyed) res.once('drain', pump)
      }
      pump()
    })
    const ch = hook('/flood', { timeoutMs: 5_000 })
    const msg = testMessage(ch)
    const started = Date.now()
    const outcome = await deliverVia(capped, msg, ch)
    expect(outcome).toMatchObject({ status: 'retryable', code: 'HTTP_500' })
    expect(Date.now() - started).toBeLessThan(2_000)
    if (outcome.status === 'retryable') expect(outcome.error.length).toBeLessThan(400)
    // The hang-up reaches the server's socket a moment later: waited for, not slept on.
    await until(() => hungUp)
  })

  it('treats a refused connection and an aborted attempt as retryable', async () => {
    const gone = await startHttpServer()
    const url = gone.url
    await gone.close()
    const ch = testChannel('webhook', { url, secrets: [SECRET_A] })
    const msg = testMessage(ch)
    expect(await deliverVia(transport, msg, ch)).toMatchObject({
      status: 'retryable',
      code: 'ECONNREFUSED',
    })

    server.handle(() => {
      // never respond; the worker aborts
    })
    const slow = hook('/abort')
    const ac = new AbortController()
    setTimeout(() => ac.abort(), 100)
    expect(await deliverVia(transport, msg, slow, { signal: ac.signal })).toMatchObject({
      status: 'retryable',
      code: 'ABORTED',
    })
  })

  it("ignores the module's own rateLimit key next to the type's config", async () => {
    server.handle((_r, res) => res.writeHead(204).end())
    const ch = hook('/limited', { rateLimit: { perSecond: 5, burst: 10 } })
    const msg = testMessage(ch)
    expect(await deliverVia(transport, msg, ch)).toEqual({ status: 'delivered' })
  })

  it('is never handed a config that no longer validates: the module fails such a channel for good', async () => {
    const ch = testChannel('webhook', { url: `${server.url}/x`, secrets: ['not-a-whsec'] })
    const lookup = openChannel(
      { channelTypes: new ChannelTypeRegistry([transport.channelType]), secrets: plaintextSecrets },
      ch,
    )
    expect(lookup).toMatchObject({ status: 'invalid', reason: expect.stringContaining('config.secrets') })
    expect(JSON.stringify(lookup)).not.toContain('not-a-whsec')
  })
})
