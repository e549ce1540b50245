import type { AddressInfo } from 'node:net'
import { createServer, type Server } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createEmailTransport, emailChannelType } from '../../src/adapters/transports/email/index.js'
import { BUILTIN_CHANNEL_TYPE_DEFINITIONS } from '../../src/domain/channel.js'
import { channelSecrets, createSecretBox, sealConfig } from '../../src/secrets/index.js'
import { type LoopbackSmtp, startSmtpServer } from './smtp-support.js'
import { deliverVia, LOOPBACK, testChannel, testMessage } from './support.js'

const USER = 'mailer'
const PASS = 'Tr0ub4dor&3-smtp-password'

describe('email transport against a loopback SMTP server', () => {
  let smtp: LoopbackSmtp
  beforeAll(async () => {
    smtp = await startSmtpServer({ user: USER, pass: PASS })
  })
  afterAll(async () => {
    await smtp.close()
  })
  beforeEach(() => {
    smtp.behave({})
  })

  const transport = createEmailTransport({ ssrf: LOOPBACK })
  const relay = () => ({ host: '127.0.0.1', port: smtp.port, auth: { user: USER, pass: PASS } })
  const mailChannel = (over: Record<string, unknown> = {}) =>
    testChannel('email', { from: 'alerts@acme.test', smtp: relay(), ...over })
  const lastMail = () => smtp.received[smtp.received.length - 1]!

  it('carries the built-in email definition the registry holds', () => {
    expect(transport.channelType).toBe(BUILTIN_CHANNEL_TYPE_DEFINITIONS.find((d) => d.type === 'email'))
    expect(transport.channelType.secretPaths).toEqual([
      'smtp.auth.pass',
      'fallbacks.*.auth.pass',
      'receiptSecret',
    ])
  })

  it('sends text and html from the payload, authenticated, with a stable Message-ID', async () => {
    const ch = mailChannel({ fromName: 'Acme Alerts', replyTo: 'support@acme.test' })
    const msg = testMessage(ch, {
      recipients: ['ada@example.org'],
      payload: {
        subject: 'Invoice paid',
        text: 'Your invoice 42 was paid.',
        html: '<p>Your invoice <b>42</b> was paid.</p>',
      },
    })
    const before = smtp.received.length
    const outcome = await deliverVia(transport, msg, ch)
    expect(outcome).toEqual({
      status: 'delivered',
      providerMessageId: `<${msg.id}@acme.test>`,
      provider: `smtp:${(ch.config.smtp as { host: string }).host}:${(ch.config.smtp as { port: number }).port}`,
    })
    expect(smtp.received.length).toBe(before + 1)
    const mail = lastMail()
    expect(mail.user).toBe(USER)
    expect(mail.mailFrom).toBe('alerts@acme.test')
    expect(mail.rcptTo).toEqual(['ada@example.org'])
    expect(mail.headers.from).toBe('Acme Alerts <alerts@acme.test>')
    expect(mail.headers.to).toBe('ada@example.org')
    expect(mail.headers['reply-to']).toBe('support@acme.test')
    expect(mail.headers.subject).toBe('Invoice paid')
    expect(mail.headers['message-id']).toBe(`<${msg.id}@acme.test>`)
    expect(mail.text).toBe('Your invoice 42 was paid.')
    expect(mail.html).toBe('<p>Your invoice <b>42</b> was paid.</p>')
  })

  it('renders the channel template with the payload data, escaping values in html only', async () => {
    const ch = mailChannel({
      template: {
        subject: 'Welcome, {{user.name}}',
        text: 'Hello {{user.name}}, your plan is {{plan}}.',
        html: '<h1>Hello {{user.name}}</h1><p>Plan: {{plan}}</p>',
      },
    })
    const msg = testMessage(ch, {
      recipients: ['bob@example.org'],
      payload: { data: { user: { name: '<script>alert(1)</script>' }, plan: 'Pro & Co' } },
    })
    expect(await deliverVia(transport, msg, ch)).toMatchObject({ status: 'delivered' })
    const mail = lastMail()
    expect(mail.headers.subject).toBe('Welcome, <script>alert(1)</script>')
    expect(mail.text).toBe('Hello <script>alert(1)</script>, your plan is Pro & Co.')
    expect(mail.html).toBe('<h1>Hello &lt;script&gt;alert(1)&lt;/script&gt;</h1><p>Plan: Pro &amp; Co</p>')
  })

  it('sends one transaction to several recipients who do not see each other', async () => {
    const ch = mailChannel()
    const recipients = ['a@example.org', 'b@example.org', 'c@example.org']
    const msg = testMessage(ch, {
      recipients,
      payload: { subject: 'Digest', text: 'Three things happened.' },
    })
    const before = smtp.received.length
    expect(await deliverVia(transport, msg, ch)).toMatchObject({ status: 'delivered' })
    expect(smtp.received.length).toBe(before + 1)
    const mail = lastMail()
    expect(mail.rcptTo).toEqual(recipients)
    expect(mail.headers.to).toBeUndefined()
    expect(mail.headers.bcc).toBeUndefined()
    for (const r of recipients) expect(mail.raw).not.toContain(r)
  })

  it("uses the host's relay for a channel without smtp, which the SSRF guard does not judge", async () => {
    const hosted = createEmailTransport({ relay: relay() })
    const ch = testChannel('email', { from: 'noreply@acme.test' })
    const msg = testMessage(ch, {
      recipients: ['ops@example.org'],
      payload: { subject: 'Hosted', text: 'via relay' },
    })
    expect(await deliverVia(hosted, msg, ch)).toMatchObject({ status: 'delivered' })
    expect(lastMail().text).toBe('via relay')
    // The same transport refuses a channel that names a loopback relay itself.
    const before = smtp.connections
    const own = mailChannel()
    expect(
      await deliverVia(
        hosted,
        testMessage(own, { recipients: ['x@example.org'], payload: { subject: 's', text: 't' } }),
        own,
      ),
    ).toMatchObject({
      status: 'permanent',
      code: 'SSRF_REFUSED',
    })
    expect(smtp.connections).toBe(before)
  })

  it('logs in with a password the module opened from its sealed form, and holds no key of its own', async () => {
    const box = createSecretBox({ keys: { k1: Buffer.alloc(32, 3).toString('base64') }, activeKeyId: 'k1' })
    const plain = mailChannel()
    const ch = {
      ...plain,
      config: sealConfig(box, emailChannelType, plain.config, {
        infrastructureId: plain.infrastructureId,
        channelId: plain.id,
      }),
    }
    expect(JSON.stringify(ch.config)).not.toContain(PASS)
    const msg = testMessage(ch, {
      recipients: ['ada@example.org'],
      payload: { subject: 'Sealed', text: 'ok' },
    })
    expect(await deliverVia(transport, msg, ch, { secrets: channelSecrets(box) })).toMatchObject({
      status: 'delivered',
    })
    expect(smtp.authAttempts[smtp.authAttempts.length - 1]).toEqual({ user: USER, pass: PASS })
  })

  it.each([
    ['RCPT 450', { rcpt: () => 450 }, { status: 'retryable', code: 'SMTP_450' }],
    ['RCPT 550', { rcpt: () => 550 }, { status: 'permanent', code: 'SMTP_550' }],
    ['DATA 451', { data: () => 451 }, { status: 'retryable', code: 'SMTP_451' }],
    ['DATA 554', { data: () => 554 }, { status: 'permanent', code: 'SMTP_554' }],
  ])('maps a %s reply to %o', async (_name, behaviour, expected) => {
    smtp.behave(behaviour)
    const ch = mailChannel()
    const msg = testMessage(ch, { recipients: ['ada@example.org'], payload: { subject: 's', text: 't' } })
    const before = smtp.received.length
    expect(await deliverVia(transport, msg, ch)).toMatchObject(expected)
    expect(smtp.received.length).toBe(before)
  })

  it('delivers when only some recipients are refused', async () => {
    smtp.behave({ rcpt: (a) => (a === 'gone@example.org' ? 550 : undefined) })
    const ch = mailChannel()
    const msg = testMessage(ch, {
      recipients: ['ada@example.org', 'gone@example.org'],
      payload: { subject: 's', text: 't' },
    })
    expect(await deliverVia(transport, msg, ch)).toMatchObject({ status: 'delivered' })
    expect(lastMail().rcptTo).toEqual(['ada@example.org'])
  })

  it('fails a wrong password permanently without the password in the error', async () => {
    const ch = mailChannel({ smtp: { ...relay(), auth: { user: USER, pass: `${PASS}-wrong` } } })
    const msg = testMessage(ch, { recipients: ['ada@example.org'], payload: { subject: 's', text: 't' } })
    const outcome = await deliverVia(transport, msg, ch)
    expect(outcome).toMatchObject({ status: 'permanent', code: 'SMTP_535' })
    const text = JSON.stringify(outcome)
    expect(text).not.toContain(PASS)
    expect(text).not.toContain(Buffer.from(`\u0000${USER}\u0000${PASS}-wrong`).toString('base64'))
  })

  it('refuses bad input permanently without connecting', async () => {
    const before = smtp.connections
    const cases: [Record<string, unknown>, string[] | null, Record<string, unknown>, string][] = [
      [{}, null, { subject: 's', text: 't' }, 'NO_RECIPIENTS'],
      [{}, ['not an address'], { subject: 's', text: 't' }, 'INVALID_RECIPIENT'],
      [{}, ['a@example.org'], { text: 'no subject' }, 'MISSING_SUBJECT'],
      [{}, ['a@example.org'], { subject: 'no body' }, 'EMPTY_BODY'],
      [
        { template: { subject: 'Hi {{name}}', text: 'x' } },
        ['a@example.org'],
        { data: {} },
        'TEMPLATE_ERROR',
      ],
      [{}, ['a@example.org'], { subject: 42 }, 'INVALID_PAYLOAD'],
    ]
    for (const [config, recipients, payload, code] of cases) {
      const ch = mailChannel(config)
      const msg = testMessage(ch, { recipients, payload: payload as never })
      expect(await deliverVia(transport, msg, ch)).toMatchObject({ status: 'permanent', code })
    }
    expect(smtp.connections).toBe(before)
  })
})

describe('email transport when the server misbehaves', () => {
  it('treats a refused connection as retryable', async () => {
    const closed = createServer()
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()))
    const { port } = closed.address() as AddressInfo
    await new Promise<void>((r) => closed.close(() => r()))
    const transport = createEmailTransport({ ssrf: LOOPBACK })
    const ch = testChannel('email', { from: 'a@acme.test', smtp: { host: '127.0.0.1', port } })
    const msg = testMessage(ch, { recipients: ['b@example.org'], payload: { subject: 's', text: 't' } })
    const outcome = await deliverVia(transport, msg, ch)
    expect(outcome).toMatchObject({ status: 'retryable', code: 'ESOCKET' })
    expect(JSON.stringify(outcome)).toContain('ECONNREFUSED')
  })

  it('gives up on a server that never greets within the channel timeout, as retryable', async () => {
    const silent: Server = createServer(() => {
      // accept and say nothing
    })
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()))
    try {
      const { port } = silent.address() as AddressInfo
      const transport = createEmailTransport({ ssrf: LOOPBACK })
      const ch = testChannel('email', {
        from: 'a@acme.test',
        smtp: { host: '127.0.0.1', port },
        timeoutMs: 300,
      })
      const msg = testMessage(ch, { recipients: ['b@example.org'], payload: { subject: 's', text: 't' } })
      const started = Date.now()
      expect(await deliverVia(transport, msg, ch)).toMatchObject({ status: 'retryable' })
      expect(Date.now() - started).toBeLessThan(3_000)
    } finally {
      silent.close()
    }
  })
})
