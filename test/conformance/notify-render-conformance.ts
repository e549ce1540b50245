import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEmailTransport } from '../../src/adapters/transports/email/index.js'
import { createInAppTransport } from '../../src/adapters/transports/in-app/index.js'
import { createMessaging, type Messaging, type MessagingStorage } from '../../src/index.js'
import { createSecretBox } from '../../src/secrets/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { principal, tenant } from '../support/fixtures.js'
import { type LoopbackSmtp, startSmtpServer } from '../transports/smtp-support.js'
import type { StorageFactory } from './repository-conformance.js'

/** The SMTP server listens on loopback: channels are saved and delivered with this allow-list. */
const LOOPBACK = { allowedRanges: ['127.0.0.0/8'] }

/**
 * Templates rendered at delivery, on every store, end to end through the delivery worker: a
 * notify's messages go out over a real SMTP server on loopback and into the in-app inbox,
 * each rendered with its recipient's profile, the notification's data and the tenant, in
 * the recipient's locale (else its language, else the tenant's default), with the template
 * version that was current when the notify was written; a template that fails to render
 * fails its message for good with the template's error.
 */
export function describeNotifyRenderConformance(name: string, factory: StorageFactory): void {
  describe(`templates rendered at delivery: ${name}`, () => {
    let storage: MessagingStorage
    let messaging: Messaging
    let smtp: LoopbackSmtp
    const smtpPass = `pw-${randomBytes(8).toString('hex')}`

    beforeAll(async () => {
      storage = await factory()
      smtp = await startSmtpServer({ user: 'billing', pass: smtpPass })
      messaging = createMessaging({
        storage,
        secrets: createSecretBox({ keys: { k1: randomBytes(32).toString('base64') }, activeKeyId: 'k1' }),
        destinations: LOOPBACK,
      })
    })
    afterAll(async () => {
      await storage?.close()
      await smtp?.close()
    })

    async function seeded() {
      const t = tenant()
      const i = t.infra
      const admin = principal('infra_admin', [[i, null]])
      const service = principal('service', [[i, null]])
      await messaging.createChannel(admin, { infrastructureId: i, channelKey: 'alerts', type: 'in_app' })
      await messaging.createChannel(admin, {
        infrastructureId: i,
        channelKey: 'billing-email',
        type: 'email',
        config: {
          from: 'billing@example.com',
          smtp: {
            host: '127.0.0.1',
            port: smtp.port,
            secure: false,
            auth: { user: 'billing', pass: smtpPass },
          },
        },
      })
      await messaging.createCategory(admin, {
        infrastructureId: i,
        key: 'invoice.paid',
        name: 'Invoice paid',
        channels: { in_app: { channelKey: 'alerts' }, email: { channelKey: 'billing-email' } },
      })
      await messaging.setTemplateSettings(admin, { infrastructureId: i, defaultLocale: 'en' })
      const template = (channelType: 'email' | 'in_app', locale: string, content: Record<string, string>) =>
        messaging.createTemplate(admin, {
          infrastructureId: i,
          categoryKey: 'invoice.paid',
          channelType,
          locale,
          content,
        } as never)
      await template('email', 'en', {
        subject: 'Invoice {{ data.invoice }} paid',
        html: '<p>Hello {{ recipient.properties.firstName }}, {{ data.note }}</p>',
        text: 'Hello {{ recipient.properties.firstName }}, we received {{ data.amount }}.',
      })
      await template('email', 'de', {
        subject: 'Rechnung {{ data.invoice }} bezahlt',
        html: '<p>Hallo {{ recipient.properties.firstName }}, {{ data.note }}</p>',
        text: 'Hallo {{ recipient.properties.firstName }}, wir haben {{ data.amount }} erhalten.',
      })
      await template('in_app', 'en', {
        title: 'Invoice {{ data.invoice }} paid',
        body: '{{ data.amount }} received ({{ tenant.locale }})',
        actionUrl: '/invoices/{{ data.invoice }}',
      })
      await template('in_app', 'de', {
        title: 'Rechnung {{ data.invoice }} bezahlt',
        body: '{{ data.amount }} erhalten ({{ tenant.locale }})',
        actionUrl: '/invoices/{{ data.invoice }}',
      })
      const person = async (firstName: string, locale: string) => {
        const p = principal('member', [[i, null]])
        await messaging.upsertProfile(admin, {
          infrastructureId: i,
          userId: p.userId,
          email: `${firstName.toLowerCase()}.${p.userId.slice(0, 8)}@example.com`,
          locale,
          properties: { firstName },
        })
        return { p, email: `${firstName.toLowerCase()}.${p.userId.slice(0, 8)}@example.com` }
      }
      return {
        i,
        admin,
        service,
        ada: await person('Ada', 'de-DE'),
        bob: await person('Bob', 'en-GB'),
        cyd: await person('Cyd', 'fr'),
      }
    }

    const workerOf = (service: ReturnType<typeof principal>) =>
      createDeliveryWorker({
        messaging,
        principal: service,
        transports: [createInAppTransport({ messaging }), createEmailTransport({ ssrf: LOOPBACK })],
        pollIntervalMs: 20,
      })

    it("delivers each recipient's email and in-app message rendered in their locale, with the version current at enqueue", async () => {
      const s = await seeded()
      const data = { invoice: 'INV-1042', amount: '€120.00', note: '<b>thanks</b>' }
      const { notification: n } = await messaging.notify(s.service, {
        infrastructureId: s.i,
        category: 'invoice.paid',
        to: { users: [s.ada.p.userId, s.bob.p.userId, s.cyd.p.userId] },
        data,
      })
      // Edited after the notify: its messages still render with the versions they recorded.
      await messaging.updateTemplate(s.admin, {
        infrastructureId: s.i,
        categoryKey: 'invoice.paid',
        channelType: 'email',
        locale: 'de',
        content: { subject: 'GEÄNDERT', text: 'geändert' },
      } as never)
      const worker = workerOf(s.service)
      expect(await worker.drain()).toBe(6)
      await worker.stop()

      const st = await messaging.getNotification(s.admin, { infrastructureId: s.i, notificationId: n.id })
      expect(st.counts).toMatchObject({ delivered: 6, failed: 0, pending: 0 })

      const mailTo = (address: string) => smtp.received.find((m) => m.rcptTo.includes(address))
      // Ada (de-DE) falls back to her language, de.
      const ada = mailTo(s.ada.email)!
      expect(ada.mailFrom).toBe('billing@example.com')
      expect(ada.headers.subject).toBe('Rechnung INV-1042 bezahlt')
      expect(ada.text).toBe('Hallo Ada, wir haben €120.00 erhalten.')
      // HTML bodies escape the data.
      expect(ada.html).toBe('<p>Hallo Ada, &lt;b&gt;thanks&lt;/b&gt;</p>')
      // Bob (en-GB) falls back to en; Cyd (fr) has none in French: the tenant's default, en.
      expect(mailTo(s.bob.email)!.headers.subject).toBe('Invoice INV-1042 paid')
      expect(mailTo(s.bob.email)!.text).toBe('Hello Bob, we received €120.00.')
      expect(mailTo(s.cyd.email)!.text).toBe('Hello Cyd, we received €120.00.')
      expect(smtp.received.filter((m) => m.headers.subject === 'GEÄNDERT')).toEqual([])

      const inbox = async (p: ReturnType<typeof principal>) =>
        (await messaging.listInbox(p, { infrastructureId: s.i })).map((e) => e.payload)
      expect(await inbox(s.ada.p)).toEqual([
        {
          title: 'Rechnung INV-1042 bezahlt',
          body: '€120.00 erhalten (de)',
          actionUrl: '/invoices/INV-1042',
          data,
        },
      ])
      expect(await inbox(s.cyd.p)).toEqual([
        {
          title: 'Invoice INV-1042 paid',
          body: '€120.00 received (en)',
          actionUrl: '/invoices/INV-1042',
          data,
        },
      ])
    }, 60_000)

    it("fails a message whose template does not render for good, with the template's error, and sends nothing for it", async () => {
      const s = await seeded()
      // Strict variables: `data.total` is not in the notification's data.
      await messaging.updateTemplate(s.admin, {
        infrastructureId: s.i,
        categoryKey: 'invoice.paid',
        channelType: 'email',
        locale: 'en',
        content: { subject: 'Total {{ data.total }}', text: 'x' },
      } as never)
      const before = smtp.received.length
      const { notification: n } = await messaging.notify(s.service, {
        infrastructureId: s.i,
        category: 'invoice.paid',
        to: { users: [s.bob.p.userId, s.ada.p.userId] },
        data: { invoice: 'INV-7', amount: '€1.00', note: 'n' },
      })
      const worker = workerOf(s.service)
      await worker.drain()
      await worker.stop()
      const st = await messaging.getNotification(s.admin, { infrastructureId: s.i, notificationId: n.id })
      const bobMail = st.deliveries.find((d) => d.userId === s.bob.p.userId && d.channelType === 'email')!
      expect(bobMail).toMatchObject({ state: 'failed', attempts: 1 })
      expect(bobMail.lastError).toContain('template content.subject')
      expect(bobMail.lastError).toContain('total')
      const attempts = await messaging.listAttempts(s.admin, {
        infrastructureId: s.i,
        messageId: bobMail.messageId!,
      })
      expect(attempts).toMatchObject([{ outcome: 'permanent', errorCode: 'template_error' }])
      // Ada's German email and both in-app messages went out.
      expect(st.counts).toMatchObject({ delivered: 3, failed: 1 })
      expect(smtp.received.slice(before).map((m) => m.rcptTo)).toEqual([[s.ada.email]])
    }, 60_000)
  })
}
