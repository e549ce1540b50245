import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { SMTPServer } from 'smtp-server'
import { afterAll, describe, expect, it } from 'vitest'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { createEmailTransport } from '../../src/adapters/transports/email/index.js'
import { createSmsTransport } from '../../src/adapters/transports/sms/index.js'
import { createWebhookTransport } from '../../src/adapters/transports/webhook/index.js'
import { createFetchHandler } from '../../src/http/index.js'
import { createMessaging, type Principal } from '../../src/index.js'
import { createSecretBox } from '../../src/secrets/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { principal, uuid } from '../support/fixtures.js'

const dir = mkdtempSync(join(tmpdir(), 'messaging-leaks-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Receivers and providers listen on loopback: channels are saved and delivered with this allow-list. */
const LOOPBACK = { allowedRanges: ['127.0.0.0/8'] }

/**
 * Every secret a tenant configures, pushed through the whole module (store, worker, three
 * real transports against servers that echo it back in their errors, the HTTP surface, the
 * logs), then looked for everywhere: the database file, every response, every log line.
 */
describe('credentials never leave the module', () => {
  it('appear in no stored byte, no response and no log line, even when providers echo them', async () => {
    const webhookSecret = `whsec_${randomBytes(24).toString('base64')}`
    const smtpPass = `smtp-${randomBytes(12).toString('hex')}`
    const smsKey = `sk_${randomBytes(16).toString('hex')}`
    const secrets = [webhookSecret, webhookSecret.slice(6), smtpPass, smsKey]

    // Providers that refuse and quote the credential back in their error.
    const web = createServer((req, res) => {
      req.resume()
      req.on('end', () =>
        res
          .writeHead(400, { 'content-type': 'text/plain' })
          .end(`signature made with ${webhookSecret} rejected`),
      )
    })
    const sms = createServer((req, res) => {
      req.resume()
      req.on('end', () =>
        res.writeHead(401).end(JSON.stringify({ error: `invalid api key ${req.headers['x-api-key']}` })),
      )
    })
    const smtp = new SMTPServer({
      authOptional: false,
      disabledCommands: ['STARTTLS'],
      onAuth(auth, _session, cb) {
        cb(new Error(`535 authentication failed for password ${auth.password}`))
      },
    })
    await Promise.all([
      new Promise<void>((r) => web.listen(0, '127.0.0.1', r)),
      new Promise<void>((r) => sms.listen(0, '127.0.0.1', r)),
      new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r)),
    ])
    const port = (s: { address(): AddressInfo | string | null }) => (s.address() as AddressInfo).port

    const path = join(dir, 'leaks.db')
    const box = createSecretBox({ keys: { k1: randomBytes(32).toString('base64') }, activeKeyId: 'k1' })
    const messaging = createMessaging({
      storage: createSqliteStorage({ path }),
      secrets: box,
      destinations: LOOPBACK,
    })
    const infrastructureId = uuid()
    const admin = principal('infra_admin', [[infrastructureId, null]])
    const service = principal('service', [[infrastructureId, null]])
    const channels = [
      {
        channelKey: 'hooks',
        type: 'webhook',
        config: { url: `http://127.0.0.1:${port(web)}/in`, secrets: [webhookSecret] },
      },
      {
        channelKey: 'mail',
        type: 'email',
        config: {
          from: 'ops@example.com',
          smtp: {
            host: '127.0.0.1',
            port: (smtp.server.address() as AddressInfo).port,
            secure: false,
            auth: { user: 'ops', pass: smtpPass },
          },
        },
      },
      {
        channelKey: 'texts',
        type: 'sms',
        config: {
          from: '+4915112345678',
          provider: { url: `http://127.0.0.1:${port(sms)}/send`, apiKey: smsKey },
        },
      },
    ]
    for (const c of channels) await messaging.createChannel(admin, { infrastructureId, maxAttempts: 1, ...c })
    const ids: string[] = []
    for (const [channelKey, recipients] of [
      ['hooks', null],
      ['mail', ['dest@example.com']],
      ['texts', ['+4915199999999']],
    ] as const) {
      const { message } = await messaging.enqueue(admin, {
        infrastructureId,
        channelKey,
        payload: { subject: 'hello', text: 'hello' },
        recipients: recipients ? [...recipients] : null,
      })
      ids.push(message.id)
    }

    const lines: string[] = []
    const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(s) })
    const worker = createDeliveryWorker({
      messaging,
      principal: service,
      logger,
      transports: [
        createWebhookTransport({ allowHttp: true, ssrf: LOOPBACK }),
        createEmailTransport({ ssrf: LOOPBACK }),
        createSmsTransport({ allowHttp: true, ssrf: LOOPBACK }),
      ],
    })
    await worker.drain()

    // Every message failed for good (dead after its one attempt or failed), each with a redacted error.
    const bodies: string[] = []
    const tokens = new Map<string, Principal>([
      ['admin', admin],
      ['service', service],
    ])
    const handler = createFetchHandler({
      messaging,
      authenticate: (req) =>
        tokens.get(req.headers.get('authorization')?.replace('Bearer ', '') ?? '') ?? null,
    })
    const base = 'http://local/functions/v1/messaging'
    const get = async (path: string, token = 'admin') => {
      const res = await handler(
        new Request(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } }),
      )
      const text = await res.text()
      bodies.push(text)
      expect(res.status, `${path}: ${text}`).toBeLessThan(300)
      return JSON.parse(text) as unknown
    }
    const q = `infrastructureId=${infrastructureId}`
    const listed = (await get(`/channels?${q}`)) as Array<{ id: string }>
    for (const c of listed) await get(`/channels/${c.id}?${q}`)
    await get(`/messages?${q}`)
    for (const id of ids) {
      const m = (await get(`/messages/${id}?${q}`)) as { status: string; lastError: string }
      expect(['dead', 'failed']).toContain(m.status)
      expect(m.lastError).toBeTruthy()
      const attempts = (await get(`/messages/${id}/attempts?${q}`)) as Array<{ error: string }>
      expect(attempts).toHaveLength(1)
    }
    await get(`/dead-letters?${q}`)
    await get(`/audit?${q}`)
    await get(`/stats?${q}`, 'service')
    await get('/channel-types')
    // Redaction happened (the providers did quote the secrets), rather than nothing to redact.
    expect(bodies.join('\n')).toContain('[redacted]')

    await messaging.close()
    const stored = readdirSync(dir)
      .filter((f) => f.startsWith('leaks.db'))
      .map((f) => readFileSync(join(dir, f)).toString('latin1'))
      .join('\n')
    const everything = { stored, responses: bodies.join('\n'), logs: lines.join('') }
    expect(lines.length).toBeGreaterThan(0)
    for (const [where, text] of Object.entries(everything)) {
      for (const s of secrets) {
        expect(text.includes(s), `${where} contains a secret`).toBe(false)
        expect(text.includes(Buffer.from(s).toString('base64')), `${where} contains a secret in base64`).toBe(
          false,
        )
      }
    }
    await Promise.all([
      new Promise((r) => web.close(r)),
      new Promise((r) => sms.close(r)),
      new Promise((r) => smtp.close(() => r(undefined))),
    ])
  }, 60_000)
})
