import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEmailTransport } from '../../src/adapters/transports/email/index.js'
import { createSmsTransport } from '../../src/adapters/transports/sms/index.js'
import { createWebhookTransport } from '../../src/adapters/transports/webhook/index.js'
import type { DeliveryOutcome } from '../../src/ports/transport.js'
import {
  deliverVia,
  LOOPBACK,
  type LoopbackServer,
  startHttpServer,
  testChannel,
  testMessage,
} from './support.js'

const WEBHOOK_SECRET = `whsec_${Buffer.from('webhook-signing-key-for-redaction!!').toString('base64')}`
const API_KEY = 'sk_redaction_3c1f0e9d8b7a6f5e4d3c2b1a'
const SID = `AC${'fedcba9876543210'.repeat(2)}`
const TOKEN = 'twilio-token-redaction-9a8b7c6d5e4f'
const SMTP_PASS = 'smtp-pass-redaction-0f1e2d3c4b5a'

/** Every 8-character window of a secret and of its encodings: a half-redacted secret still leaks. */
function leaks(text: string, secret: string): string[] {
  const forms = [secret, Buffer.from(secret).toString('base64'), encodeURIComponent(secret)]
  const found: string[] = []
  for (const f of forms)
    for (let i = 0; i + 8 <= f.length; i++)
      if (text.includes(f.slice(i, i + 8))) found.push(f.slice(i, i + 8))
  return found
}

/** The secret placed so that the 300-character cut of an error text falls inside it. */
const straddling = (secret: string) => `${'.'.repeat(300 - 12 - Math.floor(secret.length / 2))}${secret} tail`

describe('no secret survives in an outcome, even when a provider echoes it back', () => {
  let echo: LoopbackServer
  let smtp: SMTPServer
  let smtpPort: number
  beforeAll(async () => {
    // Answers every request with what it got: headers and body, the secret-bearing ones at the 300-char cut.
    echo = await startHttpServer('127.0.0.1', (req, res) => {
      const auth = String(req.headers.authorization ?? '')
      const key = String(req.headers['x-api-key'] ?? '')
      const text = [
        straddling(auth || key || WEBHOOK_SECRET),
        req.body.toString(),
        JSON.stringify(req.headers),
      ].join('\n')
      res.writeHead(req.url?.includes('/perm') ? 400 : 503).end(text)
    })
    smtp = new SMTPServer({
      logger: false,
      allowInsecureAuth: true,
      disabledCommands: ['STARTTLS'],
      onAuth(auth, _s, cb) {
        cb(
          Object.assign(new Error(`denied ${auth.username}/${auth.password} ${auth.password}`), {
            responseCode: 535,
          }),
        )
      },
    })
    await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', () => r()))
    smtpPort = (smtp.server.address() as AddressInfo).port
  })
  afterAll(async () => {
    await echo.close()
    await new Promise<void>((r) => smtp.close(() => r()))
  })

  it('scans every outcome of every transport for every secret and finds none', async () => {
    const outcomes: DeliveryOutcome[] = []
    const webhook = createWebhookTransport({ allowHttp: true, ssrf: LOOPBACK })
    const sms = createSmsTransport({ allowHttp: true, ssrf: LOOPBACK })
    const email = createEmailTransport({ ssrf: LOOPBACK })

    for (const path of ['/retry', '/perm']) {
      const hook = testChannel('webhook', { url: `${echo.url}${path}`, secrets: [WEBHOOK_SECRET] })
      outcomes.push(await deliverVia(webhook, testMessage(hook), hook))

      const json = testChannel('sms', {
        from: '+4915112345678',
        provider: { url: `${echo.url}${path}`, apiKey: API_KEY },
      })
      const jm = testMessage(json, {
        recipients: ['+4915199990001', '+4915199990002'],
        payload: { text: 'x' },
      })
      outcomes.push(await deliverVia(sms, jm, json))

      const twilio = testChannel('sms', {
        from: '+4915112345678',
        twilio: { accountSid: SID, authToken: TOKEN, baseUrl: `${echo.url}${path}` },
      })
      const tm = testMessage(twilio, { recipients: ['+4915199990001'], payload: { text: 'x' } })
      outcomes.push(await deliverVia(sms, tm, twilio))
    }
    const mail = testChannel('email', {
      from: 'a@acme.test',
      smtp: { host: '127.0.0.1', port: smtpPort, auth: { user: 'mailer', pass: SMTP_PASS } },
    })
    const mm = testMessage(mail, { recipients: ['b@example.org'], payload: { subject: 's', text: 't' } })
    outcomes.push(await deliverVia(email, mm, mail))

    // Each scenario failed, and the echo did reach the outcome (redacted), so the scan means something.
    expect(outcomes.map((o) => o.status)).toEqual([
      'retryable',
      'retryable',
      'retryable',
      'permanent',
      'permanent',
      'permanent',
      'permanent',
    ])
    const text = JSON.stringify(outcomes)
    expect(text).toContain('[redacted]')
    for (const secret of [
      WEBHOOK_SECRET,
      WEBHOOK_SECRET.slice(6),
      API_KEY,
      TOKEN,
      `${SID}:${TOKEN}`,
      SMTP_PASS,
    ]) {
      expect(leaks(text, secret), secret).toEqual([])
    }
  })
})
