import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createInAppTransport } from '../../src/adapters/transports/in-app/index.js'
import {
  ConflictError,
  createMessaging,
  ForbiddenRoleError,
  type Messaging,
  type MessagingStorage,
  NotFoundError,
  type Principal,
  TenantScopeViolationError,
  ValidationError,
} from '../../src/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { principal, scopeOf, T0, tenant, uuid } from '../support/fixtures.js'
import type { StorageFactory } from './repository-conformance.js'

const code = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: { code?: string }) => e.code ?? String(e),
  )

/**
 * Profiles, categories and preferences on every storage adapter, through the facade and,
 * where a store's own rule is the point, through the repositories: a member sees and
 * changes only its own, admins reach only the businesses of their grants, and the
 * resolution order comes out the same everywhere.
 */
export function describeRecipientsConformance(name: string, factory: StorageFactory): void {
  describe(`recipients conformance: ${name}`, () => {
    let storage: MessagingStorage
    let messaging: Messaging
    beforeAll(async () => {
      storage = await factory()
      messaging = createMessaging({ storage })
    })
    afterAll(async () => {
      await storage?.close()
    })

    /** A tenant with an in-app and an email channel, a category over both, and its people. */
    async function seeded() {
      const t = tenant()
      const i = t.infra
      const admin = principal('infra_admin', [[i, null]])
      const adminA = principal('infra_admin', [[i, t.bizA]])
      const service = principal('service', [[i, null]])
      const alice = principal('member', [[i, t.bizA]])
      const bob = principal('member', [[i, t.bizB]])
      const stranger = principal('infra_admin', [[uuid(), null]])
      const alerts = await messaging.createChannel(admin, {
        infrastructureId: i,
        channelKey: 'alerts',
        type: 'in_app',
      })
      await messaging.createChannel(admin, {
        infrastructureId: i,
        channelKey: 'billing-email',
        type: 'email',
        config: { from: 'billing@example.com' },
      })
      const category = await messaging.createCategory(admin, {
        infrastructureId: i,
        key: 'invoice.paid',
        name: 'Invoice paid',
        channels: {
          in_app: { channelKey: 'alerts' },
          email: { channelKey: 'billing-email', enabled: false },
        },
      })
      for (const [p, businessId] of [
        [alice, t.bizA],
        [bob, t.bizB],
      ] as const) {
        await messaging.upsertProfile(admin, {
          infrastructureId: i,
          userId: p.userId,
          businessId,
          email: `${p.userId.slice(0, 8)}@example.com`,
          locale: 'en',
        })
      }
      return { t, i, admin, adminA, service, alice, bob, stranger, alerts, category }
    }

    const cell = async (m: Messaging, p: Principal, i: string, userId: string, type: string) => {
      const grid = await m.getPreferences(p, { infrastructureId: i, userId })
      return grid.categories.find((c) => c.key === 'invoice.paid')?.cells.find((c) => c.channelType === type)
    }

    describe('profiles', () => {
      it('an admin creates and changes a profile; fields left out stay, null clears', async () => {
        const { i, admin } = await seeded()
        const userId = uuid()
        const created = await messaging.upsertProfile(admin, {
          infrastructureId: i,
          userId,
          email: 'ada@example.com',
          phone: '+4915112345678',
          locale: 'de-de',
          timeZone: 'Europe/Berlin',
          properties: { firstName: 'Ada', plan: { tier: 'pro', seats: 3 } },
        })
        expect(created).toMatchObject({
          infrastructureId: i,
          userId,
          businessId: null,
          email: 'ada@example.com',
          phone: '+4915112345678',
          locale: 'de-DE',
          timeZone: 'Europe/Berlin',
          properties: { firstName: 'Ada', plan: { tier: 'pro', seats: 3 } },
          updatedBy: admin.userId,
        })
        const changed = await messaging.upsertProfile(admin, {
          infrastructureId: i,
          userId,
          phone: null,
          locale: 'fr',
        })
        expect(changed).toMatchObject({
          email: 'ada@example.com',
          phone: null,
          locale: 'fr',
          timeZone: 'Europe/Berlin',
        })
        expect(await messaging.getProfile(admin, { infrastructureId: i, userId })).toEqual(changed)
        const audit = await messaging.listAudit(admin, { infrastructureId: i, action: 'profile.update' })
        expect(audit[0]).toMatchObject({
          targetType: 'profile',
          targetId: userId,
          details: { fields: ['phone', 'locale'] },
        })
        // Audit entries name the fields, never the contact points themselves.
        const all = JSON.stringify(await messaging.listAudit(admin, { infrastructureId: i }))
        expect(all).not.toContain('ada@example.com')
        expect(all).not.toContain('+4915112345678')
      })

      it('a member reads and changes only its own contact points, locale and time zone', async () => {
        const { i, alice, bob } = await seeded()
        const own = await messaging.upsertProfile(alice, {
          infrastructureId: i,
          email: 'alice@example.org',
          timeZone: 'America/New_York',
        })
        expect(own).toMatchObject({
          userId: alice.userId,
          email: 'alice@example.org',
          timeZone: 'America/New_York',
        })
        expect((await messaging.getProfile(alice, { infrastructureId: i })).email).toBe('alice@example.org')
        expect(await code(messaging.getProfile(alice, { infrastructureId: i, userId: bob.userId }))).toBe(
          'NOT_FOUND',
        )
        expect(
          await code(
            messaging.upsertProfile(alice, {
              infrastructureId: i,
              userId: bob.userId,
              email: 'x@example.org',
            }),
          ),
        ).toBe('FORBIDDEN_ROLE')
        expect(
          await code(messaging.upsertProfile(alice, { infrastructureId: i, properties: { vip: true } })),
        ).toBe('FORBIDDEN_ROLE')
        expect(await code(messaging.upsertProfile(alice, { infrastructureId: i, businessId: null }))).toBe(
          'FORBIDDEN_ROLE',
        )
        expect(await code(messaging.listProfiles(alice, { infrastructureId: i }))).toBe('FORBIDDEN_ROLE')
        // Bob's profile is untouched.
        expect((await messaging.getProfile(bob, { infrastructureId: i })).email).toBe(
          `${bob.userId.slice(0, 8)}@example.com`,
        )
      })

      it('a member without a profile cannot make one; an admin does', async () => {
        const { i, admin } = await seeded()
        const carol = principal('member', [[i, null]])
        expect(
          await code(messaging.upsertProfile(carol, { infrastructureId: i, email: 'c@example.org' })),
        ).toBe('NOT_FOUND')
        expect(await code(messaging.getProfile(carol, { infrastructureId: i }))).toBe('NOT_FOUND')
        await messaging.upsertProfile(admin, { infrastructureId: i, userId: carol.userId })
        expect(
          (await messaging.upsertProfile(carol, { infrastructureId: i, email: 'c@example.org' })).email,
        ).toBe('c@example.org')
      })

      it("a business's admin reaches only its business's profiles; lists page by user id", async () => {
        const { t, i, admin, adminA, service, alice, bob } = await seeded()
        const ids = (ps: { userId: string }[]) => ps.map((p) => p.userId)
        const sorted = [alice.userId, bob.userId].sort()
        expect(ids(await messaging.listProfiles(admin, { infrastructureId: i }))).toEqual(sorted)
        expect(ids(await messaging.listProfiles(service, { infrastructureId: i }))).toEqual(sorted)
        expect(ids(await messaging.listProfiles(adminA, { infrastructureId: i }))).toEqual([alice.userId])
        expect(ids(await messaging.listProfiles(admin, { infrastructureId: i, businessId: t.bizB }))).toEqual(
          [bob.userId],
        )
        expect(ids(await messaging.listProfiles(admin, { infrastructureId: i, limit: 1 }))).toEqual([
          sorted[0],
        ])
        expect(ids(await messaging.listProfiles(admin, { infrastructureId: i, after: sorted[0]! }))).toEqual([
          sorted[1],
        ])
        expect(await code(messaging.getProfile(adminA, { infrastructureId: i, userId: bob.userId }))).toBe(
          'NOT_FOUND',
        )
        expect(
          await code(
            messaging.upsertProfile(adminA, {
              infrastructureId: i,
              userId: bob.userId,
              email: 'b@x.example',
            }),
          ),
        ).toBe('TENANT_SCOPE_VIOLATION')
        // A user has one profile per infrastructure: the key is taken, whichever business holds it.
        expect(
          await code(
            messaging.upsertProfile(adminA, { infrastructureId: i, userId: bob.userId, businessId: t.bizA }),
          ),
        ).toBe('CONFLICT')
        // Moving Alice to business B is out of adminA's reach; creating a profile there too.
        expect(
          await code(
            messaging.upsertProfile(adminA, {
              infrastructureId: i,
              userId: alice.userId,
              businessId: t.bizB,
            }),
          ),
        ).toBe('TENANT_SCOPE_VIOLATION')
        expect(
          await code(
            messaging.upsertProfile(adminA, { infrastructureId: i, userId: uuid(), businessId: t.bizB }),
          ),
        ).toBe('TENANT_SCOPE_VIOLATION')
        expect(
          (await messaging.getProfile(admin, { infrastructureId: i, userId: alice.userId })).businessId,
        ).toBe(t.bizA)
        expect(await code(messaging.deleteProfile(adminA, { infrastructureId: i, userId: bob.userId }))).toBe(
          'NOT_FOUND',
        )
        await messaging.deleteProfile(admin, { infrastructureId: i, userId: bob.userId })
        expect(await code(messaging.getProfile(bob, { infrastructureId: i }))).toBe('NOT_FOUND')
      })

      it('refuses another infrastructure, a worker writing, and a member deleting, writing nothing', async () => {
        const { i, admin, service, alice, stranger } = await seeded()
        const before = await messaging.listProfiles(admin, { infrastructureId: i })
        expect(await code(messaging.upsertProfile(stranger, { infrastructureId: i, userId: uuid() }))).toBe(
          'TENANT_SCOPE_VIOLATION',
        )
        expect(await code(messaging.listProfiles(stranger, { infrastructureId: i }))).toBe(
          'TENANT_SCOPE_VIOLATION',
        )
        expect(await code(messaging.upsertProfile(service, { infrastructureId: i, userId: uuid() }))).toBe(
          'FORBIDDEN_ROLE',
        )
        expect(
          await code(messaging.deleteProfile(alice, { infrastructureId: i, userId: alice.userId })),
        ).toBe('FORBIDDEN_ROLE')
        expect(await messaging.listProfiles(admin, { infrastructureId: i })).toEqual(before)
        const refused = await messaging.listAudit(admin, { infrastructureId: i, action: 'profile.upsert' })
        // The stranger's refusal is not in this tenant's trail (it goes to the security log).
        expect(refused.map((e) => [e.outcome, e.errorCode])).toEqual([['refused', 'FORBIDDEN_ROLE']])
      })

      it('the store itself refuses what the service would (repositories called directly)', async () => {
        const { t, i, alice } = await seeded()
        const memberScope = scopeOf('member', [[i, t.bizA]], alice.userId)
        const adminA = scopeOf('infra_admin', [[i, t.bizA]])
        const profile = (over: object = {}) => ({
          infrastructureId: i,
          userId: uuid(),
          businessId: t.bizB,
          email: null,
          phone: null,
          locale: null,
          timeZone: null,
          quietHours: null,
          properties: {},
          createdAt: T0,
          updatedAt: T0,
          updatedBy: uuid(),
          ...over,
        })
        const run = <T>(s: typeof adminA, w: (r: import('../../src/index.js').Repositories) => Promise<T>) =>
          storage.unitOfWork.run(s, w)
        await expect(
          run(memberScope, (r) => r.profiles.insert(memberScope, profile())),
        ).rejects.toBeInstanceOf(ForbiddenRoleError)
        await expect(run(adminA, (r) => r.profiles.insert(adminA, profile()))).rejects.toBeInstanceOf(
          TenantScopeViolationError,
        )
        await expect(
          run(memberScope, (r) =>
            r.profiles.update(memberScope, i, alice.userId, {
              properties: { vip: true },
              updatedAt: T0,
              updatedBy: alice.userId,
            }),
          ),
        ).rejects.toBeInstanceOf(ForbiddenRoleError)
        const bobs = await run(memberScope, (r) =>
          r.profiles.findMany(memberScope, i, [alice.userId, uuid()]),
        )
        expect(bobs.map((p) => p.userId)).toEqual([alice.userId])
        expect(
          await run(memberScope, (r) => r.profiles.list(memberScope, { infrastructureId: i, limit: 10 })),
        ).toHaveLength(1)
      })
    })

    describe('categories', () => {
      it('stores the channel map and checks each channel exists with the type it serves', async () => {
        const { i, admin, alice, category } = await seeded()
        expect(category).toMatchObject({
          key: 'invoice.paid',
          name: 'Invoice paid',
          description: null,
          critical: false,
          channels: {
            in_app: { channelKey: 'alerts', enabled: true },
            email: { channelKey: 'billing-email', enabled: false },
          },
        })
        expect(
          await messaging.getCategory(alice, { infrastructureId: i, categoryKey: 'invoice.paid' }),
        ).toEqual(category)
        const bad = await messaging
          .createCategory(admin, {
            infrastructureId: i,
            key: 'order.shipped',
            name: 'Shipped',
            channels: { email: { channelKey: 'alerts' }, sms: { channelKey: 'nope' } },
          })
          .catch((e: ValidationError) => e)
        expect(bad).toBeInstanceOf(ValidationError)
        expect((bad as ValidationError).issues.map((x) => [x.path, x.rule])).toEqual([
          ['channels.email.channelKey', 'channel_type_mismatch'],
          ['channels.sms.channelKey', 'unknown_channel'],
        ])
        await expect(
          messaging.createCategory(admin, { infrastructureId: i, key: 'invoice.paid', name: 'again' }),
        ).rejects.toBeInstanceOf(ConflictError)
        await messaging.createCategory(admin, { infrastructureId: i, key: 'a.first', name: 'First' })
        expect((await messaging.listCategories(alice, { infrastructureId: i })).map((c) => c.key)).toEqual([
          'a.first',
          'invoice.paid',
        ])
      })

      it('only an admin marks a category critical, and it is audited (refusals too)', async () => {
        const { i, admin, alice } = await seeded()
        expect(
          await code(
            messaging.updateCategory(alice, {
              infrastructureId: i,
              categoryKey: 'invoice.paid',
              critical: true,
            }),
          ),
        ).toBe('FORBIDDEN_ROLE')
        expect(
          (await messaging.getCategory(admin, { infrastructureId: i, categoryKey: 'invoice.paid' })).critical,
        ).toBe(false)
        const marked = await messaging.updateCategory(admin, {
          infrastructureId: i,
          categoryKey: 'invoice.paid',
          critical: true,
          name: 'Invoice paid (legal)',
        })
        expect(marked).toMatchObject({ critical: true, name: 'Invoice paid (legal)' })
        const audit = await messaging.listAudit(admin, { infrastructureId: i })
        expect(audit.find((e) => e.action === 'category.mark_critical')).toMatchObject({
          actorId: admin.userId,
          targetType: 'category',
          targetId: 'invoice.paid',
          outcome: 'ok',
        })
        expect(audit.find((e) => e.action === 'category.update' && e.outcome === 'refused')).toMatchObject({
          actorId: alice.userId,
          errorCode: 'FORBIDDEN_ROLE',
        })
        await messaging.updateCategory(admin, {
          infrastructureId: i,
          categoryKey: 'invoice.paid',
          critical: false,
        })
        expect(
          (await messaging.listAudit(admin, { infrastructureId: i, action: 'category.unmark_critical' }))
            .length,
        ).toBe(1)
        expect(
          await code(
            messaging.updateCategory(admin, { infrastructureId: i, categoryKey: 'no.such', name: 'x' }),
          ),
        ).toBe('NOT_FOUND')
      })
    })

    describe('preferences', () => {
      it('resolves the user, then the channel opt-out, then the business and tenant defaults, then the category', async () => {
        const { t, i, admin, alice, bob, alerts } = await seeded()
        const c = (type: string) => cell(messaging, alice, i, alice.userId, type)
        expect(await c('in_app')).toMatchObject({ enabled: true, source: 'category', channelKey: 'alerts' })
        expect(await c('email')).toMatchObject({ enabled: false, source: 'category', categoryDefault: false })
        const def = (businessId: string | null, channelType: string, enabled: boolean | null) =>
          messaging.setTenantDefault(admin, {
            infrastructureId: i,
            businessId,
            categoryKey: 'invoice.paid',
            channelType,
            enabled,
          })
        await def(null, 'email', true)
        expect(await c('email')).toMatchObject({ enabled: true, source: 'tenant', tenantDefault: true })
        await def(t.bizA, 'email', false)
        expect(await c('email')).toMatchObject({ enabled: false, source: 'business', businessDefault: false })
        // Bob is in business B: the business A default is not his.
        expect(await cell(messaging, bob, i, bob.userId, 'email')).toMatchObject({
          enabled: true,
          source: 'tenant',
        })
        await messaging.setPreference(alice, {
          infrastructureId: i,
          categoryKey: 'invoice.paid',
          channelType: 'email',
          enabled: true,
        })
        expect(await c('email')).toMatchObject({ enabled: true, source: 'user', userChoice: true })
        // The membership opt-in is the user's own word about a channel: opted out of alerts, in-app falls silent.
        await messaging.addMember(admin, {
          infrastructureId: i,
          channelId: alerts.id,
          userId: alice.userId,
          optedIn: false,
        })
        expect(await c('in_app')).toMatchObject({ enabled: false, source: 'channel', channelOptedOut: true })
        // ... unless the user's own choice for the category says otherwise.
        const back = await messaging.setPreference(alice, {
          infrastructureId: i,
          categoryKey: 'invoice.paid',
          channelType: 'in_app',
          enabled: true,
        })
        expect(back).toMatchObject({ enabled: true, source: 'user' })
        await messaging.setPreference(alice, {
          infrastructureId: i,
          categoryKey: 'invoice.paid',
          channelType: 'in_app',
          enabled: null,
        })
        expect(await c('in_app')).toMatchObject({ enabled: false, source: 'channel' })
        await def(t.bizA, 'email', null)
        expect(
          (await messaging.listTenantDefaults(alice, { infrastructureId: i })).map((d) => d.businessId),
        ).toEqual([null])
      })

      it('a critical category ignores opt-outs but keeps the admins’ defaults', async () => {
        const { i, admin, alice, alerts } = await seeded()
        await messaging.addMember(admin, {
          infrastructureId: i,
          channelId: alerts.id,
          userId: alice.userId,
          optedIn: false,
        })
        await messaging.setPreference(alice, {
          infrastructureId: i,
          categoryKey: 'invoice.paid',
          channelType: 'in_app',
          enabled: false,
        })
        expect(await cell(messaging, alice, i, alice.userId, 'in_app')).toMatchObject({
          enabled: false,
          source: 'user',
        })
        await messaging.updateCategory(admin, {
          infrastructureId: i,
          categoryKey: 'invoice.paid',
          critical: true,
        })
        expect(await cell(messaging, alice, i, alice.userId, 'in_app')).toMatchObject({
          enabled: true,
          source: 'category',
          critical: true,
          userChoice: false,
          channelOptedOut: true,
        })
        await messaging.setTenantDefault(admin, {
          infrastructureId: i,
          categoryKey: 'invoice.paid',
          channelType: 'in_app',
          enabled: false,
        })
        expect(await cell(messaging, alice, i, alice.userId, 'in_app')).toMatchObject({
          enabled: false,
          source: 'tenant',
        })
      })

      it('a member edits only its own; an admin anyone’s; a worker reads but writes none', async () => {
        const { i, admin, service, alice, bob } = await seeded()
        const set = (p: Principal, userId?: string) =>
          messaging.setPreference(p, {
            infrastructureId: i,
            categoryKey: 'invoice.paid',
            channelType: 'in_app',
            enabled: false,
            ...(userId && { userId }),
          })
        expect(await code(set(alice, bob.userId))).toBe('FORBIDDEN_ROLE')
        expect(await code(set(service, bob.userId))).toBe('FORBIDDEN_ROLE')
        expect(await code(messaging.getPreferences(alice, { infrastructureId: i, userId: bob.userId }))).toBe(
          'FORBIDDEN_ROLE',
        )
        expect((await cell(messaging, bob, i, bob.userId, 'in_app'))?.enabled).toBe(true)
        await set(admin, bob.userId)
        expect(await cell(messaging, service, i, bob.userId, 'in_app')).toMatchObject({
          enabled: false,
          source: 'user',
        })
        expect(await cell(messaging, alice, i, alice.userId, 'in_app')).toMatchObject({ enabled: true })
        const audit = await messaging.listAudit(admin, { infrastructureId: i, action: 'preference.set' })
        expect(audit.map((e) => [e.outcome, e.actorId])).toEqual(
          expect.arrayContaining([
            ['ok', admin.userId],
            ['refused', alice.userId],
          ]),
        )
        // The store keeps a member's reads to its own rows.
        const memberScope = scopeOf('member', [[i, null]], alice.userId)
        const seen = await storage.unitOfWork.run(memberScope, (r) =>
          r.preferences.listForUsers(memberScope, i, [alice.userId, bob.userId]),
        )
        expect(seen).toEqual([])
      })

      it('refuses a channel type the category does not use, an unknown category, and a default beyond the grant', async () => {
        const { t, i, adminA, alice } = await seeded()
        const err = await messaging
          .setPreference(alice, {
            infrastructureId: i,
            categoryKey: 'invoice.paid',
            channelType: 'sms',
            enabled: true,
          })
          .catch((e: ValidationError) => e)
        expect(err).toBeInstanceOf(ValidationError)
        expect((err as ValidationError).field).toBe('channelType')
        await expect(
          messaging.setPreference(alice, {
            infrastructureId: i,
            categoryKey: 'no.such',
            channelType: 'email',
            enabled: true,
          }),
        ).rejects.toBeInstanceOf(NotFoundError)
        expect(
          await code(
            messaging.setTenantDefault(adminA, {
              infrastructureId: i,
              categoryKey: 'invoice.paid',
              channelType: 'email',
              enabled: true,
            }),
          ),
        ).toBe('TENANT_SCOPE_VIOLATION')
        const own = await messaging.setTenantDefault(adminA, {
          infrastructureId: i,
          businessId: t.bizA,
          categoryKey: 'invoice.paid',
          channelType: 'email',
          enabled: true,
        })
        expect(own).toMatchObject({ businessId: t.bizA, enabled: true, updatedBy: adminA.userId })
        expect(
          await code(
            messaging.setTenantDefault(alice, {
              infrastructureId: i,
              businessId: t.bizA,
              categoryKey: 'invoice.paid',
              channelType: 'email',
              enabled: false,
            }),
          ),
        ).toBe('FORBIDDEN_ROLE')
        expect(
          await messaging.listTenantDefaults(alice, { infrastructureId: i, businessId: t.bizA }),
        ).toHaveLength(1)
      })
    })

    describe('preferences hold on the in-app path', () => {
      it('an enqueue naming recipients no longer reaches a member who opted out of the channel', async () => {
        const { i, admin, service, alerts } = await seeded()
        const [optedOut, optedIn, outsider] = [0, 1, 2].map(() => principal('member', [[i, null]]))
        await messaging.addMember(admin, {
          infrastructureId: i,
          channelId: alerts.id,
          userId: optedOut!.userId,
          optedIn: false,
        })
        await messaging.addMember(admin, {
          infrastructureId: i,
          channelId: alerts.id,
          userId: optedIn!.userId,
          optedIn: true,
        })
        const worker = createDeliveryWorker({
          messaging,
          principal: service,
          transports: [createInAppTransport({ messaging })],
          pollIntervalMs: 20,
        })
        const { message } = await messaging.enqueue(admin, {
          infrastructureId: i,
          channelId: alerts.id,
          payload: { title: 'named' },
          recipients: [optedOut!.userId, optedIn!.userId, outsider!.userId],
        })
        await worker.drain()
        await worker.stop()
        const inbox = async (p: Principal) =>
          (await messaging.listInbox(p, { infrastructureId: i })).map((e) => e.messageId)
        expect(await inbox(optedOut!)).toEqual([])
        expect(await inbox(optedIn!)).toEqual([message.id])
        // Not a member at all: naming the user is the host's word, and it stands.
        expect(await inbox(outsider!)).toEqual([message.id])
        expect(
          (await messaging.getMessage(admin, { infrastructureId: i, messageId: message.id })).status,
        ).toBe('processed')
      })
    })
  })
}
