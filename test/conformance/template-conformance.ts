import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ConflictError,
  createMessaging,
  ForbiddenRoleError,
  type Messaging,
  type MessagingStorage,
  NotFoundError,
  type Repositories,
  type TemplateVersion,
  TenantScope,
  TenantScopeViolationError,
  ValidationError,
} from '../../src/index.js'
import { at, ManualClock, principal, scopeOf, tenant, uuid } from '../support/fixtures.js'
import type { StorageFactory } from './repository-conformance.js'

/**
 * Templates on every storage adapter, the same suite unchanged: versions are appended and
 * never changed, reads stay inside the tenant, only `infra_admin` writes, and a message
 * renders the version it recorded whatever is saved after.
 */
export function describeTemplateConformance(name: string, factory: StorageFactory): void {
  describe(`template conformance: ${name}`, () => {
    let storage: MessagingStorage
    let messaging: Messaging
    const clock = new ManualClock()
    beforeAll(async () => {
      storage = await factory()
      messaging = createMessaging({ storage, clock })
    })
    afterAll(async () => {
      await storage?.close()
    })
    const run = <T>(scope: TenantScope, work: (r: Repositories) => Promise<T>) =>
      storage.unitOfWork.run(scope, work)

    function version(infrastructureId: string, over: Partial<TemplateVersion> = {}): TemplateVersion {
      return {
        id: uuid(),
        infrastructureId,
        categoryKey: 'invoice.paid',
        channelType: 'email',
        locale: 'en',
        version: 1,
        content: { subject: 'Invoice {{ data.n }} paid', text: 'Thanks, {{ recipient.email }}' },
        createdBy: uuid(),
        createdAt: at(0),
        ...over,
      }
    }

    function seeded() {
      const t = tenant()
      const admin = principal('infra_admin', [[t.infra, null]])
      return {
        t,
        admin,
        adminScope: TenantScope.of(admin),
        /** A version of this tenant written by its admin. */
        v: (over: Partial<TemplateVersion> = {}) => version(t.infra, { createdBy: admin.userId, ...over }),
        member: principal('member', [[t.infra, t.bizA]]),
        service: principal('service', [[t.infra, null]]),
      }
    }

    describe('the repository', () => {
      it('appends versions and reads the current one, each by number and by id, and the history', async () => {
        const { t, adminScope: a, v } = seeded()
        const key = {
          infrastructureId: t.infra,
          categoryKey: 'invoice.paid',
          channelType: 'email',
          locale: 'en',
        } as const
        const v1 = v()
        const v2 = v({
          version: 2,
          content: { subject: 'v2', html: '<p>2</p>' },
          createdBy: a.userId,
          createdAt: at(1000),
        })
        expect(await run(a, (r) => r.templates.append(a, v1))).toEqual(v1)
        await run(a, (r) => r.templates.append(a, v2))
        expect(await run(a, (r) => r.templates.findCurrent(a, key))).toEqual(v2)
        expect(await run(a, (r) => r.templates.findVersion(a, key, 1))).toEqual(v1)
        expect(await run(a, (r) => r.templates.findVersion(a, key, 3))).toBeNull()
        expect(await run(a, (r) => r.templates.findById(a, t.infra, v1.id))).toEqual(v1)
        expect(await run(a, (r) => r.templates.listVersions(a, key, { limit: 10 }))).toEqual([v2, v1])
        expect(await run(a, (r) => r.templates.listVersions(a, key, { limit: 1 }))).toEqual([v2])
        expect(await run(a, (r) => r.templates.listVersions(a, key, { before: 2, limit: 10 }))).toEqual([v1])
        expect(await run(a, (r) => r.templates.findCurrent(a, { ...key, locale: 'de' }))).toBeNull()
      })

      it('lists the current version of each key in key order, filtered by category, type and locale', async () => {
        const { t, adminScope: a, v } = seeded()
        const rows = [
          v({
            categoryKey: 'b.cat',
            channelType: 'sms',
            locale: 'en',
            content: { text: 'b' },
          }),
          v({ categoryKey: 'a.cat', locale: 'fr' }),
          v({ categoryKey: 'a.cat', locale: 'de-CH' }),
          v({ categoryKey: 'a.cat', locale: 'de-CH', version: 2 }),
          v({ categoryKey: 'a.cat', locale: 'de' }),
          v({
            categoryKey: 'a.cat',
            channelType: 'sms',
            locale: 'de',
            content: { text: 'x' },
          }),
        ]
        for (const v of rows) await run(a, (r) => r.templates.append(a, v))
        const list = await run(a, (r) => r.templates.listCurrent(a, { infrastructureId: t.infra }))
        expect(list.map((v) => `${v.categoryKey}/${v.channelType}/${v.locale}@${v.version}`)).toEqual([
          'a.cat/email/de@1',
          'a.cat/email/de-CH@2',
          'a.cat/email/fr@1',
          'a.cat/sms/de@1',
          'b.cat/sms/en@1',
        ])
        const narrow = (f: object) =>
          run(a, (r) => r.templates.listCurrent(a, { infrastructureId: t.infra, ...f })).then((l) =>
            l.map((v) => `${v.categoryKey}/${v.channelType}/${v.locale}@${v.version}`),
          )
        expect(await narrow({ categoryKey: 'b.cat' })).toEqual(['b.cat/sms/en@1'])
        expect(await narrow({ channelType: 'sms' })).toEqual(['a.cat/sms/de@1', 'b.cat/sms/en@1'])
        expect(await narrow({ locale: 'de-CH' })).toEqual(['a.cat/email/de-CH@2'])
        expect(await narrow({ categoryKey: 'a.cat', channelType: 'email', locale: 'fr' })).toEqual([
          'a.cat/email/fr@1',
        ])
      })

      it('refuses a version number the key already has, and writes nothing', async () => {
        const { t, adminScope: a, v } = seeded()
        const v1 = v()
        await run(a, (r) => r.templates.append(a, v1))
        await expect(
          run(a, (r) => r.templates.append(a, v({ content: { subject: 'twin', text: 't' } }))),
        ).rejects.toBeInstanceOf(ConflictError)
        // The same number in another locale, category or tenant is another key.
        await run(a, (r) => r.templates.append(a, v({ locale: 'de' })))
        const other = seeded()
        await run(other.adminScope, (r) => r.templates.append(other.adminScope, other.v()))
        const key = {
          infrastructureId: t.infra,
          categoryKey: 'invoice.paid',
          channelType: 'email',
          locale: 'en',
        } as const
        expect(await run(a, (r) => r.templates.listVersions(a, key, { limit: 10 }))).toEqual([v1])
      })

      it('refuses versions written outside the scope, by a role other than infra_admin, or naming another author', async () => {
        const { t } = seeded()
        const stranger = scopeOf('infra_admin', [[uuid(), null]])
        const by = (s: TenantScope) => version(t.infra, { createdBy: s.userId })
        await expect(run(stranger, (r) => r.templates.append(stranger, by(stranger)))).rejects.toBeInstanceOf(
          TenantScopeViolationError,
        )
        for (const role of ['member', 'service'] as const) {
          const s = scopeOf(role, [[t.infra, null]])
          await expect(
            run(s, (r) => r.templates.append(s, by(s))),
            role,
          ).rejects.toBeInstanceOf(ForbiddenRoleError)
        }
        // An admin of the tenant writes under its own name only.
        const admin = scopeOf('infra_admin', [[t.infra, null]])
        await expect(run(admin, (r) => r.templates.append(admin, version(t.infra)))).rejects.toMatchObject({
          code: 'VALIDATION_FAILED',
          field: 'createdBy',
          rule: 'must_be_caller',
        })
        const other = scopeOf('infra_admin', [[t.infra, null]])
        await expect(
          run(admin, (r) =>
            r.templates.saveSettings(admin, {
              infrastructureId: t.infra,
              defaultLocale: 'de',
              updatedBy: other.userId,
              updatedAt: at(1),
            }),
          ),
        ).rejects.toMatchObject({ code: 'VALIDATION_FAILED', rule: 'must_be_caller' })
        expect(
          await run(admin, (r) => r.templates.listCurrent(admin, { infrastructureId: t.infra })),
        ).toEqual([])
        expect(await run(admin, (r) => r.templates.findSettings(admin, t.infra))).toBeNull()
      })

      it('hides templates and settings of other infrastructures from every read; any role of the tenant reads', async () => {
        const { t, adminScope: a, v: make } = seeded()
        const v = make()
        await run(a, (r) => r.templates.append(a, v))
        await run(a, (r) =>
          r.templates.saveSettings(a, {
            infrastructureId: t.infra,
            defaultLocale: 'de',
            updatedBy: a.userId,
            updatedAt: at(5),
          }),
        )
        const key = {
          infrastructureId: t.infra,
          categoryKey: v.categoryKey,
          channelType: v.channelType,
          locale: v.locale,
        }
        const outsider = scopeOf('infra_admin', [[uuid(), null]])
        expect(await run(outsider, (r) => r.templates.findCurrent(outsider, key))).toBeNull()
        expect(await run(outsider, (r) => r.templates.findVersion(outsider, key, 1))).toBeNull()
        expect(await run(outsider, (r) => r.templates.findById(outsider, t.infra, v.id))).toBeNull()
        expect(
          await run(outsider, (r) => r.templates.listCurrent(outsider, { infrastructureId: t.infra })),
        ).toEqual([])
        expect(await run(outsider, (r) => r.templates.listVersions(outsider, key, { limit: 5 }))).toEqual([])
        expect(await run(outsider, (r) => r.templates.findSettings(outsider, t.infra))).toBeNull()
        for (const role of ['member', 'service'] as const) {
          const s = scopeOf(role, [[t.infra, t.bizA]])
          expect(await run(s, (r) => r.templates.findById(s, t.infra, v.id)), role).toEqual(v)
          expect(await run(s, (r) => r.templates.findSettings(s, t.infra)), role).toMatchObject({
            defaultLocale: 'de',
          })
        }
      })

      it('saves settings for the tenant admin only, replacing what was there', async () => {
        const { t, adminScope: a } = seeded()
        const save = (s: TenantScope, defaultLocale: string) =>
          run(s, (r) =>
            r.templates.saveSettings(s, {
              infrastructureId: t.infra,
              defaultLocale,
              updatedBy: s.userId,
              updatedAt: at(9),
            }),
          )
        expect(await save(a, 'fr')).toEqual({
          infrastructureId: t.infra,
          defaultLocale: 'fr',
          updatedBy: a.userId,
          updatedAt: at(9),
        })
        const other = scopeOf('infra_admin', [[t.infra, null]])
        await save(other, 'de-AT')
        expect(await run(a, (r) => r.templates.findSettings(a, t.infra))).toEqual({
          infrastructureId: t.infra,
          defaultLocale: 'de-AT',
          updatedBy: other.userId,
          updatedAt: at(9),
        })
        await expect(save(scopeOf('member', [[t.infra, null]]), 'it')).rejects.toBeInstanceOf(
          ForbiddenRoleError,
        )
        await expect(save(scopeOf('infra_admin', [[uuid(), null]]), 'it')).rejects.toBeInstanceOf(
          TenantScopeViolationError,
        )
        expect(await run(a, (r) => r.templates.findSettings(a, t.infra))).toMatchObject({
          defaultLocale: 'de-AT',
        })
      })

      it('keeps nothing of a unit of work that failed after appending', async () => {
        const { t, adminScope: a, v } = seeded()
        await expect(
          run(a, async (r) => {
            await r.templates.append(a, v())
            throw new Error('boom')
          }),
        ).rejects.toThrow('boom')
        expect(await run(a, (r) => r.templates.listCurrent(a, { infrastructureId: t.infra }))).toEqual([])
      })
    })

    describe('the facade', () => {
      const email = { subject: 'Invoice {{ data.number }} paid', html: '<p>Hi {{ recipient.email }}</p>' }

      it('creates, updates and reads templates; every save is a new, audited version', async () => {
        const { t, admin, member } = seeded()
        const base = {
          infrastructureId: t.infra,
          categoryKey: 'invoice.paid',
          channelType: 'email' as const,
          locale: 'de-ch',
        }
        const v1 = await messaging.createTemplate(admin, { ...base, content: email })
        expect(v1).toMatchObject({ version: 1, locale: 'de-CH', createdBy: admin.userId, content: email })
        clock.advance(1000)
        const v2 = await messaging.updateTemplate(admin, {
          ...base,
          baseVersion: 1,
          content: { ...email, text: 'Hi' },
        })
        expect(v2).toMatchObject({ version: 2, locale: 'de-CH' })
        expect(v2.id).not.toBe(v1.id)
        expect(await messaging.getTemplate(member, { ...base, locale: 'de-CH' })).toEqual(v2)
        expect(await messaging.getTemplate(member, { ...base, version: 1 })).toEqual(v1)
        expect(await messaging.listTemplateVersions(member, { ...base })).toEqual([v2, v1])
        expect(await messaging.listTemplates(member, { infrastructureId: t.infra })).toEqual([v2])
        const audit = await messaging.listAudit(admin, { infrastructureId: t.infra })
        expect(audit.map((e) => [e.action, e.targetType, e.targetId, e.details])).toEqual([
          [
            'template.update',
            'template',
            v2.id,
            { categoryKey: 'invoice.paid', channelType: 'email', locale: 'de-CH', version: 2 },
          ],
          [
            'template.create',
            'template',
            v1.id,
            { categoryKey: 'invoice.paid', channelType: 'email', locale: 'de-CH', version: 1 },
          ],
        ])
      })

      it('refuses a second create, an update of nothing and a save based on a stale version', async () => {
        const { t, admin } = seeded()
        const base = {
          infrastructureId: t.infra,
          categoryKey: 'order.shipped',
          channelType: 'sms' as const,
          locale: 'en',
        }
        await expect(
          messaging.updateTemplate(admin, { ...base, content: { text: 'x' } }),
        ).rejects.toBeInstanceOf(NotFoundError)
        await messaging.createTemplate(admin, { ...base, content: { text: 'Shipped' } })
        await expect(
          messaging.createTemplate(admin, { ...base, content: { text: 'again' } }),
        ).rejects.toBeInstanceOf(ConflictError)
        await messaging.updateTemplate(admin, { ...base, baseVersion: 1, content: { text: 'Shipped!' } })
        const stale = messaging.updateTemplate(admin, {
          ...base,
          baseVersion: 1,
          content: { text: 'lost edit' },
        })
        await expect(stale).rejects.toMatchObject({ code: 'CONFLICT', entity: 'template version' })
        const versions = await messaging.listTemplateVersions(admin, base)
        expect(versions.map((v) => v.content.text)).toEqual(['Shipped!', 'Shipped'])
      })

      it('lets two saves race without a base version: both land, one after the other', async () => {
        const { t, admin } = seeded()
        const base = {
          infrastructureId: t.infra,
          categoryKey: 'race',
          channelType: 'sms' as const,
          locale: 'en',
        }
        await messaging.createTemplate(admin, { ...base, content: { text: 'v1' } })
        const saved = await Promise.all([
          messaging.updateTemplate(admin, { ...base, content: { text: 'a' } }),
          messaging.updateTemplate(admin, { ...base, content: { text: 'b' } }),
        ])
        expect(saved.map((v) => v.version).sort()).toEqual([2, 3])
        expect((await messaging.getTemplate(admin, base)).version).toBe(3)
      })

      it('refuses members and outsiders, audits the refusal, and writes no template', async () => {
        const { t, admin, member } = seeded()
        const input = {
          infrastructureId: t.infra,
          categoryKey: 'x',
          channelType: 'sms' as const,
          locale: 'en',
          content: { text: 'x' },
        }
        await expect(messaging.createTemplate(member, input)).rejects.toBeInstanceOf(ForbiddenRoleError)
        const outsider = principal('infra_admin', [[uuid(), null]])
        await expect(messaging.createTemplate(outsider, input)).rejects.toBeInstanceOf(
          TenantScopeViolationError,
        )
        await expect(
          messaging.setTemplateSettings(member, { infrastructureId: t.infra, defaultLocale: 'de' }),
        ).rejects.toBeInstanceOf(ForbiddenRoleError)
        await expect(messaging.listTemplates(outsider, { infrastructureId: t.infra })).rejects.toBeInstanceOf(
          TenantScopeViolationError,
        )
        expect(await messaging.listTemplates(admin, { infrastructureId: t.infra })).toEqual([])
        const audit = await messaging.listAudit(admin, { infrastructureId: t.infra })
        expect(audit.map((e) => [e.action, e.outcome, e.errorCode])).toEqual([
          ['template.settings', 'refused', 'FORBIDDEN_ROLE'],
          // The outsider's refusal is not in this tenant's trail (it goes to the security log).
          ['template.create', 'refused', 'FORBIDDEN_ROLE'],
        ])
      })

      it('refuses a template that does not parse, naming each field and the rule, and stores nothing', async () => {
        const { t, admin } = seeded()
        const error = await messaging
          .createTemplate(admin, {
            infrastructureId: t.infra,
            categoryKey: 'broken',
            channelType: 'email',
            locale: 'en',
            content: { subject: '{% if data.x %}', html: '{% include "/etc/passwd" %}' },
          })
          .then(
            () => null,
            (e: unknown) => e,
          )
        expect(error).toBeInstanceOf(ValidationError)
        expect((error as ValidationError).issues.map((i) => `${i.path}:${i.rule}`)).toEqual([
          'content.subject:template_syntax',
          'content.html:template_syntax',
        ])
        expect(await messaging.listTemplates(admin, { infrastructureId: t.infra })).toEqual([])
      })

      it("picks each recipient's template along the locale fallbacks, down to the tenant's default", async () => {
        const { t, admin, member } = seeded()
        const save = (channelType: 'email' | 'sms', locale: string, text: string) =>
          messaging.createTemplate(admin, {
            infrastructureId: t.infra,
            categoryKey: 'invoice.paid',
            channelType,
            locale,
            content: channelType === 'sms' ? { text } : { subject: text, text },
          } as never)
        await save('email', 'de', 'de')
        await save('email', 'en', 'en')
        await save('email', 'fr', 'fr')
        await save('sms', 'de-CH', 'sms de-CH')
        const scope = TenantScope.of(member)
        let choice = await messaging.templates.choose(scope, t.infra, 'invoice.paid')
        expect(choice.defaultLocale).toBe('en')
        expect(choice.pick('email', 'de-CH')?.locale).toBe('de')
        expect(choice.pick('email', 'ja')?.locale).toBe('en')
        expect(choice.pick('sms', 'de-CH')?.locale).toBe('de-CH')
        expect(choice.pick('sms', 'fr')).toBeNull()
        expect(choice.pick('in_app', 'de')).toBeNull()
        await messaging.setTemplateSettings(admin, { infrastructureId: t.infra, defaultLocale: 'fr' })
        choice = await messaging.templates.choose(scope, t.infra, 'invoice.paid')
        expect(choice.pick('email', 'ja')?.locale).toBe('fr')
        expect(await messaging.getTemplateSettings(member, { infrastructureId: t.infra })).toMatchObject({
          defaultLocale: 'fr',
          updatedBy: admin.userId,
        })
        const outsider = TenantScope.of(principal('member', [[uuid(), null]]))
        await expect(messaging.templates.choose(outsider, t.infra, 'invoice.paid')).rejects.toBeInstanceOf(
          TenantScopeViolationError,
        )
      })

      it('renders for delivery the version a message recorded, whatever was saved after it', async () => {
        const { t, admin, service } = seeded()
        const base = {
          infrastructureId: t.infra,
          categoryKey: 'invoice.paid',
          channelType: 'email' as const,
          locale: 'en',
        }
        const v1 = await messaging.createTemplate(admin, { ...base, content: email })
        await messaging.updateTemplate(admin, {
          ...base,
          content: { subject: 'NEW {{ data.number }}', text: 'new' },
        })
        const request = {
          infrastructureId: t.infra,
          businessId: t.bizA,
          templateId: v1.id,
          channelType: 'email',
          data: { number: 'A-1' },
          recipient: { userId: uuid(), email: 'ada@example.com' },
        }
        expect(await messaging.templates.renderForDelivery(TenantScope.of(service), request)).toEqual({
          ok: true,
          rendered: {
            channelType: 'email',
            payload: { subject: 'Invoice A-1 paid', html: '<p>Hi ada@example.com</p>' },
          },
        })
        const failed = await messaging.templates.renderForDelivery(TenantScope.of(service), {
          ...request,
          data: {},
        })
        expect(failed).toMatchObject({ ok: false, problem: { field: 'subject', rule: 'template_render' } })
        const wrongType = await messaging.templates.renderForDelivery(TenantScope.of(service), {
          ...request,
          channelType: 'sms',
        })
        expect(wrongType).toMatchObject({ ok: false, problem: { rule: 'template_missing' } })
        // Another tenant's worker cannot render it: to its scope the version does not exist.
        const foreign = TenantScope.of(principal('service', [[uuid(), null]]))
        expect(await messaging.templates.renderForDelivery(foreign, request)).toMatchObject({
          ok: false,
          problem: { rule: 'template_missing' },
        })
      })

      it('previews a draft with sample data for admins, sends and stores nothing', async () => {
        const { t, admin, member } = seeded()
        const preview = await messaging.previewTemplate(admin, {
          infrastructureId: t.infra,
          channelType: 'in_app',
          locale: 'de',
          content: {
            title: '{{ data.count }} neue Nachrichten',
            body: 'für {{ recipient.email }} ({{ tenant.locale }})',
          },
          data: { count: 3 },
        })
        expect(preview).toEqual({
          channelType: 'in_app',
          locale: 'de',
          payload: {
            title: '3 neue Nachrichten',
            body: 'für recipient@example.com (de)',
            data: { count: 3 },
          },
        })
        const bad = await messaging
          .previewTemplate(admin, {
            infrastructureId: t.infra,
            channelType: 'sms',
            content: { text: 'Code {{ data.code }}' },
          })
          .then(
            () => null,
            (e: unknown) => e,
          )
        expect(bad).toBeInstanceOf(ValidationError)
        expect((bad as ValidationError).issues).toEqual([
          { path: 'content.text', rule: 'template_render', message: expect.stringContaining('data.code') },
        ])
        await expect(
          messaging.previewTemplate(member, {
            infrastructureId: t.infra,
            channelType: 'sms',
            content: { text: 'x' },
          }),
        ).rejects.toBeInstanceOf(ForbiddenRoleError)
        expect(await messaging.listTemplates(admin, { infrastructureId: t.infra })).toEqual([])
        expect(await messaging.listMessages(admin, { infrastructureId: t.infra })).toEqual([])
      })
    })
  })
}
