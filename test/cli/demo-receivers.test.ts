import { createConnection } from 'node:net'
import nodemailer from 'nodemailer'
import { Webhook } from 'standardwebhooks'
import { describe, expect, it } from 'vitest'
import { startSmtpSink } from '../../src/cli/demo/smtp-sink.js'
import { verifyStandardWebhook } from '../../src/cli/demo/webhook-verify.js'

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'

/** Signs as the reference library does, for the demo's own verifier to check. */
function signed(body: string, secret = SECRET, at = new Date()) {
  const id = `msg_${Math.random().toString(36).slice(2)}`
  const signature = new Webhook(secret).sign(id, at, body)
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': signature,
  }
}

describe("the demo's Standard Webhooks verifier", () => {
  it("accepts what the reference library signs and what the library's verify accepts", () => {
    const body = '{"test": 2432232314}'
    const headers = signed(body)
    expect(verifyStandardWebhook(SECRET, body, headers)).toBe(true)
    expect(() => new Webhook(SECRET).verify(body, headers)).not.toThrow()
  })

  it("reproduces the specification's test vector", () => {
    const headers = {
      'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      'webhook-timestamp': '1614265330',
      'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    }
    expect(verifyStandardWebhook(SECRET, '{"test": 2432232314}', headers, 1614265330)).toBe(true)
  })

  it('refuses a changed body, another secret, a stale or future timestamp and missing headers', () => {
    const body = '{"n":1}'
    const headers = signed(body)
    expect(verifyStandardWebhook(SECRET, '{"n":2}', headers)).toBe(false)
    expect(verifyStandardWebhook('whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', body, headers)).toBe(false)
    const now = Number(headers['webhook-timestamp'])
    expect(verifyStandardWebhook(SECRET, body, headers, now + 301)).toBe(false)
    expect(verifyStandardWebhook(SECRET, body, headers, now - 301)).toBe(false)
    expect(verifyStandardWebhook(SECRET, body, headers, now + 299)).toBe(true)
    const { 'webhook-signature': _, ...unsigned } = headers
    expect(verifyStandardWebhook(SECRET, body, unsigned)).toBe(false)
    expect(verifyStandardWebhook(SECRET, body, { ...headers, 'webhook-signature': 'v2,abc' })).toBe(false)
  })

  it('accepts a list of signatures when any one of them is valid (key rotation)', () => {
    const body = '{"rotating":true}'
    const headers = signed(body)
    const other = signed(body, 'whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')['webhook-signature']
    expect(
      verifyStandardWebhook(SECRET, body, {
        ...headers,
        'webhook-signature': `${other} ${headers['webhook-signature']}`,
      }),
    ).toBe(true)
  })
})

describe("the demo's SMTP server", () => {
  it('receives mails from nodemailer over one connection: envelope, Subject, Message-ID; a body line of one dot does not end the data early', async () => {
    const sink = await startSmtpSink()
    try {
      const transport = nodemailer.createTransport({
        host: '127.0.0.1',
        port: sink.port,
        secure: false,
        ignoreTLS: true,
        pool: true,
        maxConnections: 1,
      })
      await transport.sendMail({
        from: 'billing@acme.test',
        to: 'a@example.test',
        bcc: ['b@example.test', 'c@example.test'],
        subject: 'Invoice INV-1 paid',
        messageId: '<m1@acme.test>',
        text: 'line one\n.leading dot\n.\nend',
      })
      await transport.sendMail({
        from: 'billing@acme.test',
        to: 'd@example.test',
        subject:
          'A subject long enough that a mailer might fold it onto a second header line, as RFC 5322 allows',
        messageId: '<m2@acme.test>',
        text: 'second',
      })
      transport.close()
      expect(sink.received).toEqual([
        {
          rcptTo: ['a@example.test', 'b@example.test', 'c@example.test'],
          subject: 'Invoice INV-1 paid',
          messageId: '<m1@acme.test>',
        },
        {
          rcptTo: ['d@example.test'],
          subject:
            'A subject long enough that a mailer might fold it onto a second header line, as RFC 5322 allows',
          messageId: '<m2@acme.test>',
        },
      ])
    } finally {
      await sink.close()
    }
  })

  it('answers out-of-order and unknown commands with SMTP errors and closes on QUIT', async () => {
    const sink = await startSmtpSink()
    try {
      const socket = createConnection(sink.port, '127.0.0.1')
      let text = ''
      socket.setEncoding('utf8')
      socket.on('data', (c: string) => {
        text += c
      })
      const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
      socket.write('EHLO test\r\nRCPT TO:<x@example.test>\r\nDATA\r\nVRFY root\r\nMAIL FROM:bad\r\nQUIT\r\n')
      await closed
      expect(text.split('\r\n').filter(Boolean)).toEqual([
        '220 localhost ESMTP messaging demo',
        '250-localhost',
        '250 8BITMIME',
        '503 5.5.1 MAIL first',
        '503 5.5.1 RCPT first',
        '502 5.5.2 command not implemented',
        '501 5.5.4 syntax: MAIL FROM:<address>',
        '221 2.0.0 bye',
      ])
      expect(sink.received).toEqual([])
    } finally {
      await sink.close()
    }
  })
})
