import { randomBytes } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import { gzipSync } from 'node:zlib'
import { SMTPServer } from 'smtp-server'
import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEmailTransport } from '../../src/adapters/transports/email/index.js'
import { createInAppTransport } from '../../src/adapters/transports/in-app/index.js'
import { createSmsTransport } from '../../src/adapters/transports/sms/index.js'
import { createWebhookTransport } from '../../src/adapters/transports/webhook/index.js'
import { createMessaging, type MessagingStorage } from '../../src/index.js'
import { createSecretBox } from '../../src/secrets/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { principal, tenant } from '../support/fixtures.js'
import { type LoopbackServer, type ReceivedRequest, startHttpServer } from '../transports/support.js'
import type { StorageFactory } from './repository-conformance.js'

/** Receivers and providers listen on loopback: channels are saved and delivered with this allow-list. */
const LOOPBACK = { allowedRanges: ['127.0.0.0/8'] }
const SID = `AC${'0123456789abcdef'.repeat(2)}`

interface Mail {
  from: string
  to: string[]
  raw: string
  user: string | undefined
}

/**
 * The four built-in transports driven by the delivery worker over a real store, against real
 * servers on loopback: a Standard Webhooks receiver that verifies every signature, an SMTP
 * server, a double of Twilio's Messages API, and the in-app inbox in the store itself.
 */
export function describeTransportDelivery(name: string, factory: StorageFactory): void {
  describe(`transports driven by the worker: ${name}`, () => {
    let storage: MessagingStorage
    let hooks: LoopbackServer
    let twilio: LoopbackServer
    let smtp: SMTPServer
    let smtpPort = 0
    const mails: Mail[] = []
    const smtpPass = `pw-${randomBytes(8).toString('hex')}`
    const authToken = `tok-${randomBytes(12).toString('hex')}`
    const hookSecret = `whsec_${randomBytes(24).toString('base64')}`

    beforeAll(async () => {
      storage = await factory()
      hooks = await startHttpServer('127.0.0.1', (req: ReceivedRequest, res: ServerResponse) => {
        try {
          new Webhook(hookSecret).verify(req.body.toString(), req.headers as Record<string, string>)
          res.writeHead(204).end()
        } catch {
          res.writeHead(401).end('bad signature')
        }
      })
      twilio = await startHttpServer('127.0.0.1', (req, res) => {
        const ok =
          req.url === `/2010-04-01/Accounts/${SID}/Messages.json` &&
          req.headers.authorization === `Basic ${Buffer.from(`${SID}:${authToken}`).toString('base64')}`
        if (!ok)
          return res.writeHead(401, { 'content-type': 'application/json' }).end('{"code":20003,"status":401}')
        const form = new URLSearchParams(req.body.toString())
        const to = form.get('To') ?? ''
        if (to.endsWith('0000')) {
          return res.writeHead(400, { 'content-type': 'application/json' }).end(
            JSON.stringify({
              code: 21211,
              message: `The 'To' number ${to} is not a valid phone number.`,
              status: 400,
            }),
          )
        }
        res
          .writeHead(201, { 'content-type': 'application/json' })
          .end(JSON.stringify({ sid: `SM${randomBytes(16).toString('hex')}`, to, status: 'queued' }))
      })
      smtp = new SMTPServer({
        disabledCommands: ['STARTTLS'],
        // A mailbox that does not exist: the receiver refuses the message itself.
        onRcptTo(address, _s, cb) {
          if (address.address.startsWith('nobody@'))
            return cb(Object.assign(new Error('550 5.1.1 no such mailbox'), { responseCode: 550 }))
          cb()
        },
        onAuth(auth, _s, cb) {
          if (auth.password !== smtpPass) return cb(new Error('535 bad credentials'))
          cb(null, { user: auth.username })
        },
        onData(stream, session, cb) {
          let raw = ''
          stream.on('data', (d: Buffer) => {
            raw += d.toString()
          })
          stream.on('end', () => {
            mails.push({
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((r) => r.address),
              raw,
              user: session.user as string | undefined,
            })
            cb()
          })
        },
      })
      await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r))
      smtpPort = (smtp.server.address() as { port: number }).port
    })
    afterAll(async () => {
      await storage?.close()
      await hooks?.close()
      await twilio?.close()
      await new Promise<void>((r) => smtp?.close(() => r()))
    })

    it('delivers in-app, webhook, email and SMS messages end to end, and fails the undeliverable for good', async () => {
      const box = createSecretBox({ keys: { k1: randomBytes(32).toString('base64') }, activeKeyId: 'k1' })
      const messaging = createMessaging({ storage, secrets: box, destinations: LOOPBACK })
      const t = tenant()
      const admin = principal('infra_admin', [[t.infra, null]])
      const reader = principal('member', [[t.infra, null]])
      const service = principal('service', [[t.infra, null]])
      const create = (channelKey: string, type: string, config: Record<string, unknown>) =>
        messaging.createChannel(admin, {
          infrastructureId: t.infra,
          channelKey,
          type,
          config,
          maxAttempts: 2,
        })
      const inbox = await create('inbox', 'in_app', {})
      await messaging.addMember(admin, {
        infrastructureId: t.infra,
        channelId: inbox.id,
        userId: reader.userId,
      })
      await create('hooks', 'webhook', { url: `${hooks.url}/in`, secrets: [hookSecret] })
      await create('mail', 'email', {
        from: 'ops@example.com',
        smtp: { host: '127.0.0.1', port: smtpPort, secure: false, auth: { user: 'ops', pass: smtpPass } },
      })
      await create('texts', 'sms', {
        from: '+4915112345678',
        twilio: { accountSid: SID, authToken, baseUrl: twilio.url },
      })

      const send = async (channelKey: string, payload: object, recipients?: string[]) =>
        (
          await messaging.enqueue(admin, {
            infrastructureId: t.infra,
            channelKey,
            payload: payload as never,
            ...(recipients && { recipients }),
          })
        ).message.id
      const inApp = await send('inbox', { title: 'Disk 91% full' })
      const hook = await send('hooks', { event: 'order.paid', total: 42 })
      const mail = await send(
        'mail',
        { subject: 'Invoice {{n}}', text: 'Hello {{name}}', data: { n: 7, name: 'Ada' } },
        ['ada@example.com'],
      )
      const text = await send('texts', { text: 'Your code is 123456' }, ['+4915199999999'])
      const badNumber = await send('texts', { text: 'x' }, ['+4915190000000'])

      const worker = createDeliveryWorker({
        messaging,
        principal: service,
        transports: [
          createInAppTransport({ messaging }),
          createWebhookTransport({ allowHttp: true, ssrf: LOOPBACK }),
          createEmailTransport({ ssrf: LOOPBACK }),
          createSmsTransport({ allowHttp: true, ssrf: LOOPBACK }),
        ],
      })
      expect(await worker.drain()).toBe(5)
      const status = async (id: string) =>
        messaging.getMessage(admin, { infrastructureId: t.infra, messageId: id })
      for (const id of [inApp, hook, mail, text]) expect((await status(id)).status, id).toBe('processed')
      expect(await status(badNumber)).toMatchObject({ status: 'failed' })
      expect((await status(badNumber)).lastError).toContain('not a valid phone number')
      const refused = await messaging.listAttempts(admin, { infrastructureId: t.infra, messageId: badNumber })
      expect(refused).toMatchObject([{ outcome: 'permanent' }])
      expect(refused[0]!.errorCode).toContain('21211')

      expect(
        (await messaging.listInbox(reader, { infrastructureId: t.infra })).map((e) => e.payload),
      ).toEqual([{ title: 'Disk 91% full' }])
      const hookReq = hooks.received.find((r) => r.headers['webhook-id'] === hook)
      expect(JSON.parse(hookReq!.body.toString())).toEqual({ event: 'order.paid', total: 42 })
      expect(mails).toHaveLength(1)
      expect(mails[0]).toMatchObject({ from: 'ops@example.com', to: ['ada@example.com'], user: 'ops' })
      expect(mails[0]!.raw).toContain('Subject: Invoice 7')
      expect(mails[0]!.raw).toContain('Hello Ada')
      const sms = twilio.received.filter((r) => r.url.includes('/Messages.json'))
      expect(sms.map((r) => new URLSearchParams(r.body.toString()).get('Body'))).toContain(
        'Your code is 123456',
      )
      const attempts = await messaging.listAttempts(admin, { infrastructureId: t.infra, messageId: text })
      expect(attempts).toMatchObject([{ outcome: 'delivered' }])
      expect(attempts[0]!.providerMessageId).toMatch(/^SM/)
    }, 60_000)

    it('falls back to the next relay or SMS provider in the same attempt and records which one it used; a refusal of the message itself is final', async () => {
      const box = createSecretBox({ keys: { k1: randomBytes(32).toString('base64') }, activeKeyId: 'k1' })
      const messaging = createMessaging({ storage, secrets: box, destinations: LOOPBACK })
      const t = tenant()
      const admin = principal('infra_admin', [[t.infra, null]])
      const service = principal('service', [[t.infra, null]])
      const down = await startHttpServer('127.0.0.1', (_req, res) => res.writeHead(503).end('maintenance'))
      const wrongPass = `wrong-${randomBytes(8).toString('hex')}`
      const downKey = `key-${randomBytes(8).toString('hex')}`
      try {
        const mail = await messaging.createChannel(admin, {
          infrastructureId: t.infra,
          channelKey: 'mail',
          type: 'email',
          config: {
            from: 'ops@example.com',
            // Relay A refuses the login; relay B takes the message.
            smtp: {
              name: 'relay-a',
              host: '127.0.0.1',
              port: smtpPort,
              auth: { user: 'ops', pass: wrongPass },
            },
            fallbacks: [
              { name: 'relay-b', host: '127.0.0.1', port: smtpPort, auth: { user: 'ops', pass: smtpPass } },
            ],
          },
          maxAttempts: 1,
        })
        // Every relay's password is sealed and redacted like the first one's.
        expect(mail.config).toMatchObject({
          smtp: { auth: { pass: '[redacted]' } },
          fallbacks: [{ auth: { pass: '[redacted]' } }],
        })
        expect(mail.secrets).toContainEqual({ path: 'fallbacks.*.auth.pass', set: true, keyIds: ['k1'] })
        expect(JSON.stringify(mail)).not.toContain(smtpPass)
        // Relay C takes logins; its message refusals must not go on to D.
        await messaging.createChannel(admin, {
          infrastructureId: t.infra,
          channelKey: 'mail-direct',
          type: 'email',
          config: {
            from: 'ops@example.com',
            smtp: {
              name: 'relay-c',
              host: '127.0.0.1',
              port: smtpPort,
              auth: { user: 'ops', pass: smtpPass },
            },
            fallbacks: [
              { name: 'relay-d', host: '127.0.0.1', port: smtpPort, auth: { user: 'ops', pass: smtpPass } },
            ],
          },
          maxAttempts: 1,
        })
        await messaging.createChannel(admin, {
          infrastructureId: t.infra,
          channelKey: 'texts',
          type: 'sms',
          config: {
            from: '+4915112345678',
            provider: { url: `${down.url}/sms`, apiKey: downKey },
            fallbacks: [{ twilio: { name: 'twilio-eu', accountSid: SID, authToken, baseUrl: twilio.url } }],
          },
          maxAttempts: 1,
        })
        // A bad fallback is refused naming the field and the rule.
        await expect(
          messaging.createChannel(admin, {
            infrastructureId: t.infra,
            channelKey: 'bad',
            type: 'email',
            config: { from: 'ops@example.com', fallbacks: [{ host: '127.0.0.1', port: 0 }] },
          }),
        ).rejects.toMatchObject({
          code: 'VALIDATION_FAILED',
          issues: [{ path: 'config.fallbacks.0.port', rule: 'too_small' }],
        })

        const send = async (channelKey: string, payload: object, recipients: string[]) =>
          (
            await messaging.enqueue(admin, {
              infrastructureId: t.infra,
              channelKey,
              payload: payload as never,
              recipients,
            })
          ).message.id
        const before = mails.length
        const viaB = await send('mail', { subject: 'Fallback', text: 'via B' }, ['ada@example.com'])
        const refusedMail = await send('mail-direct', { subject: 'Nobody', text: 'x' }, [
          'nobody@example.com',
        ])
        const text = await send('texts', { text: 'Your code is 654321' }, ['+4915199999999'])
        const badNumber = await send('texts', { text: 'x' }, ['+4915190000000'])
        const worker = createDeliveryWorker({
          messaging,
          principal: service,
          transports: [
            createEmailTransport({ ssrf: LOOPBACK }),
            createSmsTransport({ allowHttp: true, ssrf: LOOPBACK }),
          ],
        })
        expect(await worker.drain()).toBe(4)
        const attempts = (messageId: string) =>
          messaging.listAttempts(admin, { infrastructureId: t.infra, messageId })

        const [b] = await attempts(viaB)
        expect(b).toMatchObject({ outcome: 'delivered', provider: 'relay-b', error: null })
        expect(mails.slice(before).filter((m) => m.raw.includes('Subject: Fallback'))).toHaveLength(1)
        // The mailbox does not exist: relay C refused the message itself, D was not asked.
        const [r] = await attempts(refusedMail)
        expect(r).toMatchObject({ outcome: 'permanent', provider: 'relay-c', errorCode: 'SMTP_550' })
        expect(r!.error).not.toContain('relay-d')
        // SMS: the JSON provider is down (503), Twilio takes the text.
        const [s] = await attempts(text)
        expect(s).toMatchObject({ outcome: 'delivered', provider: 'twilio-eu' })
        expect(s!.providerMessageId).toMatch(/^SM/)
        // An invalid number: the first provider was down, the second refused the number for good.
        const [n] = await attempts(badNumber)
        expect(n).toMatchObject({ outcome: 'permanent', provider: 'twilio-eu', errorCode: 'TWILIO_21211' })
        expect(n!.error).toContain(`provider:${new URL(down.url).host}: `)
        for (const a of [b, r, s, n])
          expect(JSON.stringify(a)).not.toMatch(
            new RegExp(`${smtpPass}|${wrongPass}|${authToken}|${downKey}`),
          )
      } finally {
        await down.close()
      }
    }, 60_000)

    it('settles every message from hostile receivers: a 256 MiB gzip bomb, NUL bytes, lone surrogates and huge texts leave it dead or failed with its one attempt recorded, cleaned', async () => {
      const box = createSecretBox({ keys: { k1: randomBytes(32).toString('base64') }, activeKeyId: 'k1' })
      const messaging = createMessaging({ storage, secrets: box, destinations: LOOPBACK })
      const t = tenant()
      const admin = principal('infra_admin', [[t.infra, null]])
      const service = principal('service', [[t.infra, null]])
      // 256 gzip members of 1 MiB of zeros each: a body that inflates to 256 MiB.
      const member = gzipSync(Buffer.alloc(1024 * 1024), { level: 9 })
      const bomb = Buffer.concat(Array.from({ length: 256 }, () => member))
      const hostile = await startHttpServer('127.0.0.1', (req, res) => {
        if (req.url === '/bomb') return res.writeHead(500, { 'content-encoding': 'gzip' }).end(bomb)
        if (req.url === '/nul') {
          // NULs, a lone surrogate's CESU bytes and invalid UTF-8, then 5 MB of text.
          const junk = Buffer.from([0, 0, 0x41, 0xed, 0xa0, 0x80, 0xff, 0xfe, 0])
          return res.writeHead(503).end(Buffer.concat([junk, Buffer.alloc(5_000_000, 0x78)]))
        }
        // A Twilio-like API whose error message is hostile JSON: escaped NULs and lone surrogates.
        const message = `bad ${'\\u0000'.repeat(10)} \\ud800 half \\udfff ${'y'.repeat(200_000)}`
        res
          .writeHead(400, { 'content-type': 'application/json' })
          .end(`{"code":21211,"status":400,"message":"${message}"}`)
      })
      const smtpHostile = new SMTPServer({
        disabledCommands: ['STARTTLS', 'AUTH'],
        onRcptTo(_address, _session, cb) {
          cb(
            Object.assign(new Error(`mailbox \u0000\u0000 refused ${'z'.repeat(3000)}`), {
              responseCode: 550,
            }),
          )
        },
      })
      await new Promise<void>((r) => smtpHostile.listen(0, '127.0.0.1', r))
      const hostilePort = (smtpHostile.server.address() as { port: number }).port
      try {
        const create = (channelKey: string, type: string, config: Record<string, unknown>) =>
          messaging.createChannel(admin, {
            infrastructureId: t.infra,
            channelKey,
            type,
            config,
            maxAttempts: 1,
          })
        await create('bomb', 'webhook', { url: `${hostile.url}/bomb`, secrets: [hookSecret] })
        await create('nul', 'webhook', { url: `${hostile.url}/nul`, secrets: [hookSecret] })
        await create('texts', 'sms', {
          from: '+4915112345678',
          twilio: { accountSid: SID, authToken, baseUrl: hostile.url },
        })
        await create('mail', 'email', {
          from: 'ops@example.com',
          smtp: { host: '127.0.0.1', port: hostilePort, secure: false },
        })
        const send = async (channelKey: string, payload: object, recipients?: string[]) =>
          (
            await messaging.enqueue(admin, {
              infrastructureId: t.infra,
              channelKey,
              payload: payload as never,
              ...(recipients && { recipients }),
            })
          ).message.id
        const expected = new Map([
          [await send('bomb', { n: 1 }), 'dead'],
          [await send('nul', { n: 2 }), 'dead'],
          [await send('texts', { text: 'x' }, ['+4915199999999']), 'failed'],
          [await send('mail', { subject: 's', text: 't' }, ['ada@example.com']), 'failed'],
        ])
        const worker = createDeliveryWorker({
          messaging,
          principal: service,
          transports: [
            createWebhookTransport({ allowHttp: true, ssrf: LOOPBACK }),
            createEmailTransport({ ssrf: { ...LOOPBACK, allowedPorts: [hostilePort] } }),
            createSmsTransport({ allowHttp: true, ssrf: LOOPBACK }),
          ],
        })
        const errors: unknown[] = []
        worker.events.on('error', (e) => errors.push(e))
        expect(await worker.drain()).toBe(4)
        expect(errors).toEqual([])
        for (const [id, status] of expected) {
          const m = await messaging.getMessage(admin, { infrastructureId: t.infra, messageId: id })
          const attempts = await messaging.listAttempts(admin, { infrastructureId: t.infra, messageId: id })
          expect([m.status, m.attempts, attempts.length], id).toEqual([status, 1, 1])
          for (const text of [m.lastError, attempts[0]!.error, attempts[0]!.errorCode]) {
            expect(text).toBeTruthy()
            expect(text!.includes('\u0000')).toBe(false)
            expect(() => encodeURIComponent(text!)).not.toThrow()
            expect(text!.length).toBeLessThanOrEqual(2000)
          }
        }
      } finally {
        await hostile.close()
        await new Promise<void>((r) => smtpHostile.close(() => r()))
      }
    }, 60_000)
  })
}
