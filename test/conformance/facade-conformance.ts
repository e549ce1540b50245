import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createFetchHandler } from '../../src/http/index.js'
import { createNodeListener } from '../../src/http/mounts/node.js'
import {
  createMessaging,
  isMessagingError,
  type Messaging,
  type MessagingStorage,
  type Principal,
  ValidationError,
} from '../../src/index.js'
import { createSecretBox } from '../../src/secrets/index.js'
import { ManualClock, principal, tenant, uuid } from '../support/fixtures.js'
import type { StorageFactory } from './repository-conformance.js'

const WEBHOOK = { url: 'https://hooks.example.com/in', secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'] }
const NIL = '00000000-0000-0000-0000-000000000000'

/** What the suite needs of a store beyond the facade: a look at its tables, as the store holds them. */
export interface FacadeConformanceOptions {
  /**
   * Every row of every table that holds tenant data (all of them but the module-level
   * security log), read past the facade: what a test compares before and after.
   */
  readonly tenantTables: (storage: MessagingStorage) => Promise<Record<string, unknown>>
}

/**
 * The facade's answers that must not depend on the store: bad input is one typed
 * ValidationError naming the field and the rule, with nothing written; an outsider's
 * refusals write nothing into the tenant it named; on memory, SQLite and PostgreSQL alike.
 * It never branches on a store's name.
 */
export function describeFacadeConformance(
  name: string,
  factory: StorageFactory,
  options: FacadeConformanceOptions,
): void {
  describe(`facade conformance: ${name}`, () => {
    let storage: MessagingStorage
    let messaging: Messaging
    let t: ReturnType<typeof tenant>
    let admin: Principal
    let worker: Principal
    let member: Principal
    let channelId: string
    beforeAll(async () => {
      storage = await factory()
      // Stores that persist keep credentials only sealed: every run seals them alike.
      messaging = createMessaging({
        storage,
        clock: new ManualClock(),
        secrets: createSecretBox({ keys: { k1: randomBytes(32).toString('base64') }, activeKeyId: 'k1' }),
      })
    })
    afterAll(async () => {
      await storage?.close()
    })
    beforeEach(async () => {
      t = tenant()
      admin = principal('infra_admin', [[t.infra, null]])
      worker = principal('service', [[t.infra, null]])
      member = principal('member', [[t.infra, t.bizA]])
      const c = await messaging.createChannel(admin, {
        infrastructureId: t.infra,
        channelKey: 'ops-alerts',
        type: 'webhook',
        config: WEBHOOK,
      })
      channelId = c.id
    })

    /** Everything the store holds for the tenant, read by an all-seeing admin and worker. */
    async function snapshot() {
      const infrastructureId = t.infra
      return {
        channels: await messaging.listChannels(admin, { infrastructureId }),
        memberships: await messaging.listMemberships(admin, { infrastructureId }),
        messages: await messaging.listMessages(worker, { infrastructureId, limit: 1000 }),
        audit: await messaging.listAudit(admin, { infrastructureId, limit: 1000 }),
        events: await messaging.listEvents(admin, { infrastructureId, limit: 1000 }),
        eventEndpoints: await messaging.listEventEndpoints(admin, { infrastructureId }),
        templates: await messaging.listTemplates(admin, { infrastructureId }),
        templateSettings: await messaging.getTemplateSettings(admin, { infrastructureId }),
        profiles: await messaging.listProfiles(admin, { infrastructureId, limit: 1000 }),
        categories: await messaging.listCategories(admin, { infrastructureId }),
        tenantDefaults: await messaging.listTenantDefaults(admin, { infrastructureId }),
        notifications: await messaging.listNotifications(admin, { infrastructureId, limit: 200 }),
      }
    }

    describe('refusals write nothing into a tenant the caller has no grant on', () => {
      it('leaves every table of the tenant unchanged after 1,000 refused requests by an outsider, and counts them per caller, action and hour in the security log', async () => {
        const { message } = await messaging.enqueue(member, {
          infrastructureId: t.infra,
          businessId: t.bizA,
          channelId,
          payload: { n: 1 },
        })
        await messaging.addMember(admin, { infrastructureId: t.infra, channelId, userId: member.userId })
        const outsider = principal('infra_admin', [[uuid(), null]])
        const nobody = principal('service', []) // no grant at all
        const i = t.infra
        // [action the refusal is counted under (null: a read, not recorded), the call]
        const calls: Array<[string | null, (p: Principal) => Promise<unknown>]> = [
          [
            'outbox.enqueue',
            (p) => messaging.enqueue(p, { infrastructureId: i, channelId, payload: { x: 1 } }),
          ],
          [
            'outbox.enqueue',
            (p) => messaging.enqueueMany(p, [{ infrastructureId: i, channelKey: 'ops-alerts', payload: 2 }]),
          ],
          [
            'channel.create',
            (p) => messaging.createChannel(p, { infrastructureId: i, channelKey: 'evil', type: 'in_app' }),
          ],
          [
            'channel.configure',
            (p) => messaging.configureChannel(p, { infrastructureId: i, channelId, enabled: false }),
          ],
          ['channel.reseal_secrets', (p) => messaging.resealSecrets(p, { infrastructureId: i })],
          ['member.add', (p) => messaging.addMember(p, { infrastructureId: i, channelId, userId: uuid() })],
          [
            'member.remove',
            (p) => messaging.removeMember(p, { infrastructureId: i, channelId, userId: member.userId }),
          ],
          [
            'member.opt_out',
            (p) =>
              messaging.setOptIn(p, {
                infrastructureId: i,
                channelId,
                userId: member.userId,
                optedIn: false,
              }),
          ],
          [
            'outbox.ack',
            (p) =>
              messaging.ack(p, {
                infrastructureId: i,
                messageId: message.id,
                leaseToken: uuid(),
                outcome: 'failed',
                reason: 'x',
              }),
          ],
          ['outbox.redrive', (p) => messaging.redrive(p, { infrastructureId: i, messageId: message.id })],
          ['outbox.redrive_channel', (p) => messaging.redriveChannel(p, { infrastructureId: i, channelId })],
          [null, (p) => messaging.listChannels(p, { infrastructureId: i })],
          [null, (p) => messaging.listMessages(p, { infrastructureId: i })],
          [null, (p) => messaging.listAudit(p, { infrastructureId: i })],
          [null, (p) => messaging.listEvents(p, { infrastructureId: i })],
          [
            null,
            (p) =>
              messaging.recordRefusal(p, {
                infrastructureId: i,
                action: 'outbox.enqueue',
                targetType: 'message',
                errorCode: 'RATE_LIMITED',
              }),
          ],
        ]
        const before = await options.tenantTables(storage)
        const expected = new Map<string, number>()
        for (let k = 0; k < 1000; k++) {
          const who = k % 2 === 0 ? outsider : nobody
          const [action, call] = calls[k % calls.length]!
          const error = await call(who).then(
            () => null,
            (e: unknown) => e,
          )
          expect(isMessagingError(error) && error.code, `${action} #${k}`).toMatch(
            /^(TENANT_SCOPE_VIOLATION|FORBIDDEN_ROLE)$/,
          )
          if (action)
            expected.set(`${who.userId} ${action}`, (expected.get(`${who.userId} ${action}`) ?? 0) + 1)
        }
        // The nil UUID is no tenant at all: refused as bad input, recorded nowhere.
        await expect(
          messaging.createChannel(outsider, { infrastructureId: NIL, channelKey: 'nil', type: 'in_app' }),
        ).rejects.toMatchObject({ code: 'VALIDATION_FAILED', field: 'infrastructureId' })
        expect(await options.tenantTables(storage)).toEqual(before)

        // Counted, per caller, action and hour: a handful of rows, not a thousand.
        const events = [
          ...(await messaging.listSecurityEvents({ actorId: outsider.userId, limit: 1000 })),
          ...(await messaging.listSecurityEvents({ actorId: nobody.userId, limit: 1000 })),
        ]
        const counted = new Map<string, number>()
        for (const e of events) {
          expect(e.lastInfrastructureId).toBe(i)
          expect(e.refusals).toBeGreaterThanOrEqual(1)
          const key = `${e.actorId} ${e.action}`
          counted.set(key, (counted.get(key) ?? 0) + e.refusals)
        }
        expect(Object.fromEntries(counted)).toEqual(Object.fromEntries(expected))
        // One row per caller, action and code an hour (a run crosses at most one hour's end).
        const keys = new Set(events.map((e) => `${e.actorId} ${e.action} ${e.errorCode}`))
        expect(events.length).toBeLessThanOrEqual(2 * keys.size)
        expect(keys.size).toBeLessThanOrEqual(2 * 2 * expected.size)
      })

      it('leaves every table unchanged after 1,000 refused POST /queue over HTTP naming a tenant the caller has no grant on (and the nil UUID), counted in one row per caller and hour', async () => {
        // A member of its own tenant A, sending to tenant B (this test's tenant) over a real
        // loopback server; four requests in flight at a time, so counts race in the store.
        const ownTenant = uuid()
        const outsider = principal('member', [[ownTenant, null]])
        const handler = createFetchHandler({ messaging, authenticate: () => outsider })
        const server = createServer(createNodeListener(handler))
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
        const { port } = server.address() as AddressInfo
        try {
          const post = async (infrastructureId: string) => {
            const res = await fetch(`http://127.0.0.1:${port}/functions/v1/messaging/queue`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ infrastructureId, channelId, payload: { flood: true } }),
            })
            return { status: res.status, code: ((await res.json()) as { code: string }).code }
          }
          const before = await options.tenantTables(storage)
          const lanes = 4
          const answers: Array<{ status: number; code: string }> = []
          await Promise.all(
            Array.from({ length: lanes }, async (_, lane) => {
              for (let k = lane; k < 1000; k += lanes) answers.push(await post(k % 100 === 0 ? NIL : t.infra))
            }),
          )
          expect(answers).toHaveLength(1000)
          const refused = answers.filter((a) => a.status === 403)
          expect(refused.every((a) => a.code === 'TENANT_SCOPE_VIOLATION')).toBe(true)
          // The nil UUID is no tenant: bad input (400), recorded nowhere.
          expect(answers.filter((a) => a.status === 400 && a.code === 'VALIDATION_FAILED')).toHaveLength(10)
          expect(refused).toHaveLength(990)
          expect(await options.tenantTables(storage)).toEqual(before)

          const events = await messaging.listSecurityEvents({ actorId: outsider.userId, limit: 1000 })
          // One row an hour (two if the run crosses an hour's end), counting every refusal.
          expect(events.length).toBeGreaterThanOrEqual(1)
          expect(events.length).toBeLessThanOrEqual(2)
          expect(events.reduce((n, e) => n + e.refusals, 0)).toBe(990)
          for (const e of events) {
            expect(e).toMatchObject({
              actorId: outsider.userId,
              actorRole: 'member',
              action: 'outbox.enqueue',
              errorCode: 'TENANT_SCOPE_VIOLATION',
              lastInfrastructureId: t.infra,
            })
          }
        } finally {
          server.closeAllConnections()
          await new Promise((resolve) => server.close(resolve))
        }
      }, 180_000)
    })

    describe('who queued message X: one audit entry per batch and tenant, naming its messages', () => {
      it("appends one entry per tenant of a batch listing the messages it created, found by each message's id", async () => {
        const item = (businessId: string | null, n: number, idempotencyKey?: string) => ({
          infrastructureId: t.infra,
          businessId,
          channelId,
          payload: { n },
          ...(idempotencyKey ? { idempotencyKey } : {}),
        })
        const [single] = await messaging.enqueueMany(admin, [item(t.bizA, 0, 'k-0')])
        const batch = await messaging.enqueueMany(admin, [
          item(t.bizA, 1),
          item(null, 2),
          item(t.bizA, 3),
          item(t.bizA, 4, 'k-0'),
        ])
        expect(batch.map((r) => r.created)).toEqual([true, true, true, false])
        const entries = await messaging.listAudit(admin, {
          infrastructureId: t.infra,
          action: 'outbox.enqueue',
        })
        // The replayed key wrote nothing and is in no entry; an entry of one message names it as target too.
        expect(entries.map((e) => [e.businessId, e.targetId, e.details?.messageIds]).sort()).toEqual(
          [
            [t.bizA, single!.message.id, [single!.message.id]],
            [t.bizA, null, [batch[0]!.message.id, batch[2]!.message.id]],
            [null, batch[1]!.message.id, [batch[1]!.message.id]],
          ].sort(),
        )
        for (const e of entries) {
          expect(e).toMatchObject({
            actorId: admin.userId,
            actorRole: 'infra_admin',
            outcome: 'ok',
            targetType: 'message',
            details: { channelIds: [channelId] },
          })
        }
        for (const [k, r] of [single!, ...batch.slice(0, 3)].entries()) {
          const found = await messaging.listAudit(admin, {
            infrastructureId: t.infra,
            targetId: r.message.id,
          })
          expect(found, `message ${k}`).toHaveLength(1)
          expect(found[0]!.details?.messageIds, `message ${k}`).toContain(r.message.id)
        }
        expect(await messaging.listAudit(admin, { infrastructureId: t.infra, targetId: uuid() })).toEqual([])
      })

      it("finds one enqueue's entry and a channel's entries by their target id", async () => {
        const { message } = await messaging.enqueue(member, {
          infrastructureId: t.infra,
          businessId: t.bizA,
          channelId,
          payload: { n: 1 },
        })
        const own = await messaging.listAudit(admin, { infrastructureId: t.infra, targetId: message.id })
        expect(own).toEqual([
          expect.objectContaining({ action: 'outbox.enqueue', targetId: message.id, actorId: member.userId }),
        ])
        const channel = await messaging.listAudit(admin, { infrastructureId: t.infra, targetId: channelId })
        expect(channel.map((e) => e.action)).toEqual(['channel.create'])
      })
    })

    describe('identifiers are canonical: every spelling of an id is the same id', () => {
      const U = (s: string) => s.toUpperCase()

      it("takes an upper-case spelling of the caller's own tenant and channel id exactly as the lower-case one", async () => {
        const lower = { infrastructureId: t.infra, channelId }
        const upper = { infrastructureId: U(t.infra), channelId: U(channelId) }
        expect(await messaging.getChannel(admin, upper)).toEqual(await messaging.getChannel(admin, lower))
        expect(await messaging.listChannels(member, { infrastructureId: U(t.infra) })).toEqual(
          await messaging.listChannels(member, { infrastructureId: t.infra }),
        )
        const first = await messaging.enqueue(member, {
          ...upper,
          businessId: U(t.bizA),
          payload: { n: 1 },
          idempotencyKey: 'spelling',
        })
        expect(first.created).toBe(true)
        expect(first.message).toMatchObject({ infrastructureId: t.infra, businessId: t.bizA, channelId })
        // The same key in the other spelling is the same message.
        const again = await messaging.enqueue(member, {
          ...lower,
          businessId: t.bizA,
          payload: { n: 2 },
          idempotencyKey: 'spelling',
        })
        expect(again).toEqual({ created: false, message: first.message })
        expect(
          await messaging.getMessage(member, {
            infrastructureId: U(t.infra),
            messageId: U(first.message.id),
          }),
        ).toEqual(first.message)
        expect(
          await messaging.listMessages(worker, { infrastructureId: U(t.infra), channelId: U(channelId) }),
        ).toEqual(await messaging.listMessages(worker, { infrastructureId: t.infra, channelId }))
        // The counts alike; the oldest message's age runs on the store's clock between the reads.
        const counts = async (infrastructureId: string) =>
          (await messaging.stats(worker, { infrastructureId })).map(({ oldestPendingAgeMs, ...c }) => ({
            ...c,
            due: oldestPendingAgeMs !== null,
          }))
        expect(await counts(U(t.infra))).toEqual(await counts(t.infra))
        // Nothing was refused: no spelling is an outsider.
        const audit = await messaging.listAudit(admin, { infrastructureId: t.infra })
        expect(audit.filter((e) => e.outcome === 'refused')).toEqual([])
      })

      it('takes a principal whose ids are spelt in upper case as the same principal', async () => {
        const shouty: Principal = {
          userId: U(admin.userId),
          role: 'infra_admin',
          grants: [{ infrastructureId: U(t.infra), businessId: null }],
        }
        const created = await messaging.createChannel(shouty, {
          infrastructureId: t.infra,
          channelKey: 'shouty',
          type: 'in_app',
        })
        expect(created.createdBy).toBe(admin.userId)
        const user = uuid()
        const m = await messaging.addMember(shouty, {
          infrastructureId: U(t.infra),
          channelId: U(created.id),
          userId: U(user),
          businessId: U(t.bizA),
        })
        expect(m).toMatchObject({ userId: user, businessId: t.bizA, channelId: created.id })
        const self: Principal = {
          userId: U(user),
          role: 'member',
          grants: [{ infrastructureId: t.infra, businessId: U(t.bizA) }],
        }
        expect(
          await messaging.setOptIn(self, {
            infrastructureId: t.infra,
            channelId: created.id,
            optedIn: false,
          }),
        ).toMatchObject({ userId: user, optedIn: false })
        expect(
          await messaging.listMemberships(admin, { infrastructureId: t.infra, userId: U(user) }),
        ).toEqual(await messaging.listMemberships(admin, { infrastructureId: t.infra, userId: user }))
        const audit = await messaging.listAudit(admin, { infrastructureId: t.infra })
        expect(audit.filter((e) => e.outcome === 'refused')).toEqual([])
        expect(new Set(audit.map((e) => e.actorId))).toEqual(new Set([admin.userId, user]))
      })

      it('answers an upper-case id in a route the same as the lower-case one over HTTP', async () => {
        const handle = createFetchHandler({ messaging, authenticate: () => admin })
        const get = async (channel: string, infra: string) => {
          const r = await handle(
            new Request(
              `http://localhost/functions/v1/messaging/channels/${channel}?infrastructureId=${infra}`,
            ),
          )
          return { status: r.status, body: await r.json() }
        }
        const lower = await get(channelId, t.infra)
        expect(lower.status).toBe(200)
        expect(await get(U(channelId), U(t.infra))).toEqual(lower)
      })
    })

    describe('bad input: a typed error naming the field and the rule, and nothing written', () => {
      type Case = [name: string, call: (m: Messaging) => Promise<unknown>, field: string, rule?: string]
      const tplKey = (infrastructureId: string) => ({
        infrastructureId,
        categoryKey: 'invoice.paid',
        channelType: 'sms' as const,
        locale: 'en',
      })
      const cases = (): Case[] => {
        const i = t.infra
        const receipt = {
          kind: 'email' as const,
          infrastructureId: i,
          channelId: uuid(),
          url: 'https://api.example.com/receipts',
          body: '{}',
        }
        return [
          [
            'createChannel: key not a slug',
            (m) => m.createChannel(admin, { infrastructureId: i, channelKey: 'Bad Key', type: 'in_app' }),
            'channelKey',
            'format:regex',
          ],
          [
            'createChannel: infrastructureId not a uuid',
            (m) => m.createChannel(admin, { infrastructureId: 'nope', channelKey: 'k', type: 'in_app' }),
            'infrastructureId',
            'format:uuid',
          ],
          [
            'createChannel: unknown type',
            (m) => m.createChannel(admin, { infrastructureId: i, channelKey: 'k', type: 'pigeon' }),
            'type',
            'unknown_channel_type',
          ],
          [
            'createChannel: webhook url missing',
            (m) =>
              m.createChannel(admin, {
                infrastructureId: i,
                channelKey: 'k',
                type: 'webhook',
                config: { secrets: WEBHOOK.secrets },
              }),
            'config.url',
          ],
          [
            'createChannel: webhook url not http(s)',
            (m) =>
              m.createChannel(admin, {
                infrastructureId: i,
                channelKey: 'k',
                type: 'webhook',
                config: { ...WEBHOOK, url: 'ftp://x.example' },
              }),
            'config.url',
          ],
          [
            'createChannel: email from not an address',
            (m) =>
              m.createChannel(admin, {
                infrastructureId: i,
                channelKey: 'k',
                type: 'email',
                config: { from: 'nobody' },
              }),
            'config.from',
            'format:email',
          ],
          [
            'createChannel: sms from not E.164',
            (m) =>
              m.createChannel(admin, {
                infrastructureId: i,
                channelKey: 'k',
                type: 'sms',
                config: { from: '0800' },
              }),
            'config.from',
          ],
          [
            'createChannel: unknown field',
            (m) =>
              m.createChannel(admin, {
                infrastructureId: i,
                channelKey: 'k',
                type: 'in_app',
                colour: 'red',
              } as never),
            '(input)',
            'unrecognized_keys',
          ],
          [
            'createChannel: maxAttempts 0',
            (m) =>
              m.createChannel(admin, {
                infrastructureId: i,
                channelKey: 'k',
                type: 'in_app',
                maxAttempts: 0,
              }),
            'maxAttempts',
            'too_small',
          ],
          [
            'createChannel: digest window over 7 days',
            (m) =>
              m.createChannel(admin, {
                infrastructureId: i,
                channelKey: 'k',
                type: 'in_app',
                config: { digest: { windowSeconds: 604_801, maxItems: 10 } },
              }),
            'config.digest.windowSeconds',
            'too_big',
          ],
          [
            'configureChannel: digest of one item',
            (m) =>
              m.configureChannel(admin, {
                infrastructureId: i,
                channelId,
                config: {
                  url: 'https://example.com/h',
                  secrets: WEBHOOK.secrets,
                  digest: { windowSeconds: 60, maxItems: 1 },
                },
              }),
            'config.digest.maxItems',
            'too_small',
          ],
          [
            'configureChannel: empty patch',
            (m) => m.configureChannel(admin, { infrastructureId: i, channelId }),
            'config',
            'non_empty_patch',
          ],
          [
            'configureChannel: bad config',
            (m) =>
              m.configureChannel(admin, {
                infrastructureId: i,
                channelId,
                config: { url: 'nope', secrets: WEBHOOK.secrets },
              }),
            'config.url',
          ],
          [
            'configureChannel: channelId not a uuid',
            (m) => m.configureChannel(admin, { infrastructureId: i, channelId: '1', enabled: false }),
            'channelId',
            'format:uuid',
          ],
          [
            'getChannel: channelId missing',
            (m) => m.getChannel(admin, { infrastructureId: i } as never),
            'channelId',
            'invalid_type',
          ],
          [
            'listChannels: enabled not boolean',
            (m) => m.listChannels(admin, { infrastructureId: i, enabled: 'yes' } as never),
            'enabled',
            'invalid_type',
          ],
          [
            'addMember: userId not a uuid',
            (m) => m.addMember(admin, { infrastructureId: i, channelId, userId: 'bob' }),
            'userId',
            'format:uuid',
          ],
          [
            'removeMember: channelId missing',
            (m) => m.removeMember(admin, { infrastructureId: i, userId: uuid() } as never),
            'channelId',
          ],
          [
            'setOptIn: optedIn missing',
            (m) => m.setOptIn(member, { infrastructureId: i, channelId } as never),
            'optedIn',
            'invalid_type',
          ],
          [
            'listMembers: infrastructureId missing',
            (m) => m.listMembers(admin, { channelId } as never),
            'infrastructureId',
          ],
          [
            'listMemberships: userId not a uuid',
            (m) => m.listMemberships(admin, { infrastructureId: i, userId: 'x' }),
            'userId',
            'format:uuid',
          ],
          [
            'enqueue: no channel',
            (m) => m.enqueue(member, { infrastructureId: i, businessId: t.bizA, payload: {} }),
            'channelId',
            'exactly_one_channel_ref',
          ],
          [
            'enqueue: both channel refs',
            (m) =>
              m.enqueue(member, {
                infrastructureId: i,
                businessId: t.bizA,
                channelId,
                channelKey: 'ops-alerts',
                payload: {},
              }),
            'channelId',
            'exactly_one_channel_ref',
          ],
          [
            'enqueue: payload missing',
            (m) => m.enqueue(member, { infrastructureId: i, businessId: t.bizA, channelId } as never),
            'payload',
          ],
          [
            'enqueue: payload not JSON',
            (m) =>
              m.enqueue(member, {
                infrastructureId: i,
                businessId: t.bizA,
                channelId,
                payload: { f: () => 1 } as never,
              }),
            'payload.f',
          ],
          [
            'enqueue: payload with U+0000',
            (m) =>
              m.enqueue(member, {
                infrastructureId: i,
                businessId: t.bizA,
                channelId,
                payload: { s: 'a\u0000b' },
              }),
            'payload.s',
          ],
          [
            'enqueue: payload with NaN',
            (m) =>
              m.enqueue(member, {
                infrastructureId: i,
                businessId: t.bizA,
                channelId,
                payload: { n: Number.NaN },
              }),
            'payload.n',
          ],
          [
            'enqueueMany: a bad item among good ones (nothing written)',
            (m) =>
              m.enqueueMany(member, [
                { infrastructureId: i, businessId: t.bizA, channelId, payload: { n: 1 } },
                { infrastructureId: i, businessId: t.bizA, channelId, payload: { n: 2 }, recipients: [] },
              ]),
            'items.1.recipients',
            'too_small',
          ],
          ['enqueueMany: empty batch', (m) => m.enqueueMany(member, []), 'items', 'too_small'],
          [
            'enqueueMany: over 1,000 items',
            (m) =>
              m.enqueueMany(
                member,
                Array.from({ length: 1001 }, () => ({
                  infrastructureId: i,
                  businessId: t.bizA,
                  channelId,
                  payload: {},
                })),
              ),
            'items',
            'too_big',
          ],
          [
            'enqueue: empty recipients',
            (m) =>
              m.enqueue(member, {
                infrastructureId: i,
                businessId: t.bizA,
                channelId,
                payload: {},
                recipients: [],
              }),
            'recipients',
            'too_small',
          ],
          [
            'enqueue: recipient empty string',
            (m) =>
              m.enqueue(member, {
                infrastructureId: i,
                businessId: t.bizA,
                channelId,
                payload: {},
                recipients: ['a', ''],
              }),
            'recipients.1',
            'too_small',
          ],
          [
            'enqueue: idempotency key with spaces',
            (m) =>
              m.enqueue(member, {
                infrastructureId: i,
                businessId: t.bizA,
                channelId,
                payload: {},
                idempotencyKey: 'a b',
              }),
            'idempotencyKey',
            'format:regex',
          ],
          [
            'enqueue: availableAt not a date',
            (m) =>
              m.enqueue(member, {
                infrastructureId: i,
                businessId: t.bizA,
                channelId,
                payload: {},
                availableAt: 'soon' as never,
              }),
            'availableAt',
            'invalid_type',
          ],
          [
            'enqueue: businessId not a uuid',
            (m) => m.enqueue(member, { infrastructureId: i, businessId: 'biz', channelId, payload: {} }),
            'businessId',
            'format:uuid',
          ],
          [
            'enqueue: payload nested too deep',
            (m) => {
              let deep: unknown = 1
              for (let k = 0; k < 100; k++) deep = [deep]
              return m.enqueue(member, {
                infrastructureId: i,
                businessId: t.bizA,
                channelId,
                payload: deep as never,
              })
            },
            `payload${'.0'.repeat(65)}`,
            'max_depth',
          ],
          [
            'getMessage: messageId not a uuid',
            (m) => m.getMessage(member, { infrastructureId: i, messageId: '42' }),
            'messageId',
            'format:uuid',
          ],
          [
            'listMessages: limit too big',
            (m) => m.listMessages(worker, { infrastructureId: i, limit: 5000 }),
            'limit',
            'too_big',
          ],
          [
            'listMessages: an empty recipient',
            (m) => m.listMessages(worker, { infrastructureId: i, recipient: '  ' }),
            'recipient',
            'too_small',
          ],
          [
            'listMessages: unknown status',
            (m) => m.listMessages(worker, { infrastructureId: i, status: 'lost' as never }),
            'status',
            'invalid_value',
          ],
          ['claim: limit 0', (m) => m.claim(worker, { limit: 0 }), 'limit', 'too_small'],
          ['claim: lease too short', (m) => m.claim(worker, { leaseMs: 5 }), 'leaseMs', 'too_small'],
          [
            'ack: unknown outcome',
            (m) =>
              m.ack(worker, {
                infrastructureId: i,
                messageId: uuid(),
                leaseToken: uuid(),
                outcome: 'maybe',
              } as never),
            'outcome',
            'invalid_union',
          ],
          [
            'ack: failed without reason',
            (m) =>
              m.ack(worker, {
                infrastructureId: i,
                messageId: uuid(),
                leaseToken: uuid(),
                outcome: 'failed',
              } as never),
            'reason',
            'invalid_type',
          ],
          [
            'ack: negative retry',
            (m) =>
              m.ack(worker, {
                infrastructureId: i,
                messageId: uuid(),
                leaseToken: uuid(),
                outcome: 'failed',
                reason: 'x',
                retryAfterMs: -1,
              }),
            'retryAfterMs',
            'too_small',
          ],
          [
            'listAudit: limit not an integer',
            (m) => m.listAudit(admin, { infrastructureId: i, limit: 1.5 }),
            'limit',
            'invalid_type',
          ],
          [
            'listEvents: after not an event cursor',
            (m) => m.listEvents(admin, { infrastructureId: i, after: '12' }),
            'after',
            'event_cursor',
          ],
          [
            'listEvents: limit over 1000',
            (m) => m.listEvents(admin, { infrastructureId: i, limit: 1001 }),
            'limit',
            'too_big',
          ],
          [
            'listDeadLetters: channelId not a uuid',
            (m) => m.listDeadLetters(admin, { infrastructureId: i, channelId: 'x' }),
            'channelId',
            'format:uuid',
          ],
          [
            'listAttempts: messageId missing',
            (m) => m.listAttempts(admin, { infrastructureId: i } as never),
            'messageId',
            'invalid_type',
          ],
          [
            'redrive: infrastructureId not a uuid',
            (m) => m.redrive(admin, { infrastructureId: 'i', messageId: uuid() }),
            'infrastructureId',
            'format:uuid',
          ],
          [
            'cancel: no target named',
            (m) => m.cancel(admin, { infrastructureId: i }),
            'messageId',
            'exactly_one_cancel_target',
          ],
          [
            'cancel: idempotencyKey empty',
            (m) => m.cancel(admin, { infrastructureId: i, idempotencyKey: '' }),
            'idempotencyKey',
            'too_small',
          ],
          [
            'reschedule: availableAt missing',
            (m) => m.reschedule(admin, { infrastructureId: i, messageId: uuid() } as never),
            'availableAt',
          ],
          [
            'redriveChannel: channelId missing',
            (m) => m.redriveChannel(admin, { infrastructureId: i } as never),
            'channelId',
            'invalid_type',
          ],
          [
            'listBreakers: infrastructureId missing',
            (m) => m.listBreakers(admin, {} as never),
            'infrastructureId',
            'invalid_type',
          ],
          [
            'stats: infrastructureId not a uuid',
            (m) => m.stats(admin, { infrastructureId: 'x' }),
            'infrastructureId',
            'format:uuid',
          ],
          [
            'queueHistory: minutes above 120',
            (m) => m.queueHistory(admin, { infrastructureId: i, minutes: 121 }),
            'minutes',
            'too_big',
          ],
          [
            'queueHistory: minutes not a whole number',
            (m) => m.queueHistory(admin, { infrastructureId: i, minutes: 1.5 }),
            'minutes',
          ],
          [
            'queueHistory: infrastructureId missing',
            (m) => m.queueHistory(admin, {} as never),
            'infrastructureId',
            'invalid_type',
          ],
          [
            'prune: olderThan not a date',
            (m) => m.prune({ olderThan: 'last week' as never }),
            'olderThan',
            'invalid_type',
          ],
          [
            'prune: batchSize 0',
            (m) => m.prune({ olderThan: new Date(), batchSize: 0 }),
            'batchSize',
            'too_small',
          ],
          [
            'listInbox: limit too big',
            (m) => m.listInbox(member, { infrastructureId: i, limit: 1000 }),
            'limit',
            'too_big',
          ],
          [
            'countUnread: infrastructureId missing',
            (m) => m.countUnread(member, {} as never),
            'infrastructureId',
            'invalid_type',
          ],
          [
            'markInbox: unknown mark',
            (m) => m.markInbox(member, { infrastructureId: i, entryIds: 'all', mark: 'burnt' as never }),
            'mark',
            'invalid_value',
          ],
          [
            'markInbox: entry id not a uuid',
            (m) => m.markInbox(member, { infrastructureId: i, entryIds: ['x'], mark: 'read' }),
            'entryIds.0',
          ],
          [
            'recordRefusal: infrastructureId not a uuid',
            (m) =>
              m.recordRefusal(member, {
                infrastructureId: 'i',
                action: 'outbox.enqueue',
                targetType: 'message',
                errorCode: 'RATE_LIMITED',
              }),
            'infrastructureId',
            'format:uuid',
          ],
          [
            'resealSecrets: infrastructureId missing',
            (m) => m.resealSecrets(admin, {} as never),
            'infrastructureId',
            'invalid_type',
          ],
          [
            'createTemplate: locale not a BCP 47 tag',
            (m) =>
              m.createTemplate(admin, { ...tplKey(i), locale: 'english please', content: { text: 'x' } }),
            'locale',
            'bcp47',
          ],
          [
            'createTemplate: category key not a key',
            (m) =>
              m.createTemplate(admin, { ...tplKey(i), categoryKey: 'Invoice Paid', content: { text: 'x' } }),
            'categoryKey',
            'format:regex',
          ],
          [
            'createTemplate: unknown channel type',
            (m) =>
              m.createTemplate(admin, {
                ...tplKey(i),
                channelType: 'pigeon' as never,
                content: { text: 'x' },
              }),
            'channelType',
          ],
          [
            'createTemplate: email without html or text',
            (m) =>
              m.createTemplate(admin, { ...tplKey(i), channelType: 'email', content: { subject: 'Hi' } }),
            'content.html',
            'html_or_text',
          ],
          [
            'createTemplate: Liquid that does not parse',
            (m) => m.createTemplate(admin, { ...tplKey(i), content: { text: 'Hi {{ data.name ' } }),
            'content.text',
            'template_syntax',
          ],
          [
            'createTemplate: a tag that reads files',
            (m) =>
              m.createTemplate(admin, { ...tplKey(i), content: { text: '{% include "/etc/passwd" %}' } }),
            'content.text',
            'template_syntax',
          ],
          [
            'createTemplate: unknown content field',
            (m) => m.createTemplate(admin, { ...tplKey(i), content: { text: 'x', colour: 'red' } as never }),
            'content',
            'unrecognized_keys',
          ],
          [
            'createTemplate: U+0000 in a source',
            (m) => m.createTemplate(admin, { ...tplKey(i), content: { text: 'a\u0000b' } }),
            'content.text',
            'no_nul_character',
          ],
          [
            'createTemplate: sms text too long',
            (m) => m.createTemplate(admin, { ...tplKey(i), content: { text: 'x'.repeat(4001) } }),
            'content.text',
            'too_big',
          ],
          [
            'updateTemplate: baseVersion 0',
            (m) => m.updateTemplate(admin, { ...tplKey(i), baseVersion: 0, content: { text: 'x' } }),
            'baseVersion',
            'too_small',
          ],
          [
            'getTemplate: version not a number',
            (m) => m.getTemplate(admin, { ...tplKey(i), version: 'latest' as never }),
            'version',
            'invalid_type',
          ],
          [
            'listTemplates: unknown channel type',
            (m) => m.listTemplates(admin, { infrastructureId: i, channelType: 'fax' as never }),
            'channelType',
            'invalid_value',
          ],
          [
            'listTemplateVersions: limit 0',
            (m) => m.listTemplateVersions(admin, { ...tplKey(i), limit: 0 }),
            'limit',
            'too_small',
          ],
          [
            'previewTemplate: data not an object',
            (m) =>
              m.previewTemplate(admin, {
                infrastructureId: i,
                channelType: 'sms',
                content: { text: 'x' },
                data: [1, 2] as never,
              }),
            'data',
            'invalid_type',
          ],
          [
            'previewTemplate: a variable the sample data lacks',
            (m) =>
              m.previewTemplate(admin, {
                infrastructureId: i,
                channelType: 'sms',
                content: { text: 'Code {{ data.code }}' },
              }),
            'content.text',
            'template_render',
          ],
          [
            'previewTemplate: an action URL that is not http(s)',
            (m) =>
              m.previewTemplate(admin, {
                infrastructureId: i,
                channelType: 'in_app',
                content: { title: 'x', actionUrl: 'javascript:alert(1)' },
              }),
            'content.actionUrl',
            'template_output',
          ],
          [
            'getTemplateSettings: infrastructureId missing',
            (m) => m.getTemplateSettings(admin, {} as never),
            'infrastructureId',
            'invalid_type',
          ],
          [
            'setTemplateSettings: default locale not a BCP 47 tag',
            (m) => m.setTemplateSettings(admin, { infrastructureId: i, defaultLocale: '12' }),
            'defaultLocale',
            'bcp47',
          ],
          [
            'createEventEndpoint: url not a URL',
            (m) => m.createEventEndpoint(admin, { infrastructureId: i, url: 'hooks.example.com/x' }),
            'url',
            undefined,
          ],
          [
            'createEventEndpoint: url a private address',
            (m) => m.createEventEndpoint(admin, { infrastructureId: i, url: 'https://10.1.2.3/hook' }),
            'url',
            'destination_refused',
          ],
          [
            'createEventEndpoint: no event type',
            (m) =>
              m.createEventEndpoint(admin, {
                infrastructureId: i,
                url: 'https://h.example.com/',
                eventTypes: [],
              }),
            'eventTypes',
            'too_small',
          ],
          [
            'createEventEndpoint: an unknown event type',
            (m) =>
              m.createEventEndpoint(admin, {
                infrastructureId: i,
                url: 'https://h.example.com/',
                eventTypes: ['message.sent' as never],
              }),
            'eventTypes.0',
            'invalid_value',
          ],
          [
            'createEventEndpoint: an event type twice',
            (m) =>
              m.createEventEndpoint(admin, {
                infrastructureId: i,
                url: 'https://h.example.com/',
                eventTypes: ['message.dead', 'message.dead'],
              }),
            'eventTypes',
            'unique',
          ],
          [
            'listEventEndpoints: nil infrastructure',
            (m) => m.listEventEndpoints(admin, { infrastructureId: NIL }),
            'infrastructureId',
            undefined,
          ],
          [
            'getEventEndpoint: endpointId not a uuid',
            (m) => m.getEventEndpoint(admin, { infrastructureId: i, endpointId: 'e-1' }),
            'endpointId',
            'format:uuid',
          ],
          [
            'updateEventEndpoint: url with user:password@',
            (m) =>
              m.updateEventEndpoint(admin, {
                infrastructureId: i,
                endpointId: uuid(),
                url: 'https://u:p@h.example.com/',
              }),
            'url',
            'no_userinfo',
          ],
          [
            'updateEventEndpoint: enabled not a boolean',
            (m) =>
              m.updateEventEndpoint(admin, {
                infrastructureId: i,
                endpointId: uuid(),
                enabled: 'yes' as never,
              }),
            'enabled',
            'invalid_type',
          ],
          [
            'rotateEventEndpointSecret: endpointId missing',
            (m) => m.rotateEventEndpointSecret(admin, { infrastructureId: i } as never),
            'endpointId',
            'invalid_type',
          ],
          [
            'deleteEventEndpoint: endpointId not a uuid',
            (m) => m.deleteEventEndpoint(admin, { infrastructureId: i, endpointId: '1' }),
            'endpointId',
            'format:uuid',
          ],
          [
            'eventDispatchPort: fleet worker id not a uuid',
            async (m) => m.eventDispatchPort({ fleet: true, workerId: 'worker-1' }),
            'workerId',
            'format:uuid',
          ],
          [
            'deliveryPort: fleet worker id not a uuid',
            async (m) => m.deliveryPort({ fleet: true, workerId: 'worker-1' }),
            'workerId',
            'format:uuid',
          ],
          [
            'deliveryPort: principal without a valid role',
            async (m) => m.deliveryPort({ principal: { ...worker, role: 'root' as never } }),
            'principal.role',
            'invalid_value',
          ],
          ['listSecurityEvents: limit 0', (m) => m.listSecurityEvents({ limit: 0 }), 'limit', 'too_small'],
          [
            'receiveReceipt: kind not a provider kind',
            (m) => m.receiveReceipt({ ...receipt, kind: 'fax' as never }),
            'kind',
            'invalid_value',
          ],
          [
            'receiveReceipt: infrastructureId not a uuid',
            (m) => m.receiveReceipt({ ...receipt, infrastructureId: 'tenant-1' }),
            'infrastructureId',
            'format:uuid',
          ],
          [
            'receiveReceipt: body over 64 KiB',
            (m) => m.receiveReceipt({ ...receipt, body: 'x'.repeat(64 * 1024 + 1) }),
            'body',
            'too_big',
          ],
          [
            'listSecurityEvents: since before 1970',
            (m) => m.listSecurityEvents({ since: new Date(-1) }),
            'since',
            'timestamp_range',
          ],
          [
            'principal: userId not a uuid',
            (m) => m.listChannels({ ...admin, userId: 'root' }, { infrastructureId: i }),
            'principal.userId',
            'format:uuid',
          ],
          [
            'principal: unknown role',
            (m) =>
              m.enqueue({ ...member, role: 'god' as never }, { infrastructureId: i, channelId, payload: {} }),
            'principal.role',
            'invalid_value',
          ],
          [
            'principal: grant without infrastructure',
            (m) => m.claim({ ...worker, grants: [{ businessId: null } as never] }),
            'principal.grants.0.infrastructureId',
            'invalid_type',
          ],
          // Text every store can hold: U+0000 and lone surrogates anywhere (issue 13, item 5).
          [
            'enqueue: payload string with a lone surrogate',
            (m) =>
              m.enqueue(member, {
                infrastructureId: i,
                businessId: t.bizA,
                channelId,
                payload: { s: '\ud800x' },
              }),
            'payload.s',
            'well_formed_unicode',
          ],
          [
            'enqueue: payload string with a lone trail surrogate deep in a list',
            (m) =>
              m.enqueue(member, {
                infrastructureId: i,
                businessId: t.bizA,
                channelId,
                payload: { list: ['ok', { t: 'x\udc00' }] },
              }),
            'payload.list.1.t',
            'well_formed_unicode',
          ],
          [
            'enqueue: payload key with U+0000',
            (m) =>
              m.enqueue(member, {
                infrastructureId: i,
                businessId: t.bizA,
                channelId,
                payload: { 'a\u0000b': 1 },
              }),
            'payload.a\ufffdb',
            'no_nul_character',
          ],
          [
            'enqueue: payload key with a lone surrogate',
            (m) =>
              m.enqueue(member, {
                infrastructureId: i,
                businessId: t.bizA,
                channelId,
                payload: { '\udbff': 1 },
              }),
            'payload.\ufffd',
            'well_formed_unicode',
          ],
          [
            'enqueue: idempotency key with U+0000',
            (m) =>
              m.enqueue(member, {
                infrastructureId: i,
                businessId: t.bizA,
                channelId,
                payload: {},
                idempotencyKey: 'k\u0000',
              }),
            'idempotencyKey',
            'no_nul_character',
          ],
          [
            'enqueue: recipient with a lone surrogate',
            (m) =>
              m.enqueue(member, {
                infrastructureId: i,
                businessId: t.bizA,
                channelId,
                payload: {},
                recipients: ['\ud83d@example.com'],
              }),
            'recipients.0',
            'well_formed_unicode',
          ],
          [
            'enqueueMany: an item whose payload holds U+0000',
            (m) =>
              m.enqueueMany(member, [
                { infrastructureId: i, businessId: t.bizA, channelId, payload: { n: 1 } },
                { infrastructureId: i, businessId: t.bizA, channelId, payload: { s: '\u0000' } },
              ]),
            'items.1.payload.s',
            'no_nul_character',
          ],
          [
            'createChannel: name with U+0000',
            (m) =>
              m.createChannel(admin, {
                infrastructureId: i,
                channelKey: 'k',
                type: 'in_app',
                name: 'ops\u0000',
              }),
            'name',
            'no_nul_character',
          ],
          [
            'createChannel: name with a lone surrogate',
            (m) =>
              m.createChannel(admin, {
                infrastructureId: i,
                channelKey: 'k',
                type: 'in_app',
                name: '\udc00ops',
              }),
            'name',
            'well_formed_unicode',
          ],
          [
            'createChannel: config header value with U+0000',
            (m) =>
              m.createChannel(admin, {
                infrastructureId: i,
                channelKey: 'k',
                type: 'webhook',
                config: { ...WEBHOOK, headers: { 'x-tenant': 'a\u0000' } },
              }),
            'config.headers.x-tenant',
            'no_nul_character',
          ],
          [
            'createChannel: config key with a lone surrogate',
            (m) =>
              m.createChannel(admin, {
                infrastructureId: i,
                channelKey: 'k',
                type: 'webhook',
                config: { ...WEBHOOK, '\ud800': 1 },
              }),
            'config.\ufffd',
            'well_formed_unicode',
          ],
          [
            'configureChannel: name with U+0000',
            (m) => m.configureChannel(admin, { infrastructureId: i, channelId, name: '\u0000' }),
            'name',
            'no_nul_character',
          ],
          [
            'configureChannel: config url with U+0000',
            (m) =>
              m.configureChannel(admin, {
                infrastructureId: i,
                channelId,
                config: { ...WEBHOOK, url: 'https://hooks.example.com/\u0000' },
              }),
            'config.url',
            'no_nul_character',
          ],
          [
            'ack: reason with a lone surrogate',
            (m) =>
              m.ack(worker, {
                infrastructureId: i,
                messageId: uuid(),
                leaseToken: uuid(),
                outcome: 'failed',
                reason: 'timeout \ud800',
              }),
            'reason',
            'well_formed_unicode',
          ],
          [
            'listAudit: empty target id',
            (m) => m.listAudit(admin, { infrastructureId: i, targetId: '' }),
            'targetId',
            'too_small',
          ],
          [
            'listAudit: action with U+0000',
            (m) => m.listAudit(admin, { infrastructureId: i, action: 'channel.\u0000' }),
            'action',
            'no_nul_character',
          ],
          [
            'recordRefusal: a detail with U+0000',
            (m) =>
              m.recordRefusal(member, {
                infrastructureId: i,
                action: 'outbox.enqueue',
                targetType: 'message',
                errorCode: 'RATE_LIMITED',
                details: { why: '\u0000' },
              }),
            'details.why',
            'no_nul_character',
          ],
          [
            'principal: userId with U+0000',
            (m) => m.listChannels({ ...admin, userId: `${admin.userId}\u0000` }, { infrastructureId: i }),
            'principal.userId',
            'no_nul_character',
          ],
          // Instants every store holds alike: 1970 to 9999 (item 5).
          [
            'enqueue: availableAt in year 275760',
            (m) =>
              m.enqueue(member, {
                infrastructureId: i,
                businessId: t.bizA,
                channelId,
                payload: {},
                availableAt: '+275760-09-13T00:00:00.000Z' as never,
              }),
            'availableAt',
            'timestamp_range',
          ],
          [
            'enqueue: availableAt before 1970',
            (m) =>
              m.enqueue(member, {
                infrastructureId: i,
                businessId: t.bizA,
                channelId,
                payload: {},
                availableAt: new Date('1969-12-31T23:59:59.999Z'),
              }),
            'availableAt',
            'timestamp_range',
          ],
          [
            'prune: olderThan in year 10000',
            (m) => m.prune({ olderThan: new Date('+010000-01-01T00:00:00.000Z') }),
            'olderThan',
            'timestamp_range',
          ],
          // The nil UUID is no tenant, business or user (item 6).
          [
            'createChannel: the nil UUID as infrastructure',
            (m) => m.createChannel(admin, { infrastructureId: NIL, channelKey: 'k', type: 'in_app' }),
            'infrastructureId',
            'not_nil_uuid',
          ],
          [
            'enqueue: the nil UUID as business',
            (m) => m.enqueue(member, { infrastructureId: i, businessId: NIL, channelId, payload: {} }),
            'businessId',
            'not_nil_uuid',
          ],
          [
            'addMember: the nil UUID as user',
            (m) => m.addMember(admin, { infrastructureId: i, channelId, userId: NIL }),
            'userId',
            'not_nil_uuid',
          ],
          [
            'listMessages: the nil UUID as business',
            (m) => m.listMessages(worker, { infrastructureId: i, businessId: NIL }),
            'businessId',
            'not_nil_uuid',
          ],
          [
            'upsertProfile: email not an address',
            (m) => m.upsertProfile(admin, { infrastructureId: i, userId: uuid(), email: 'ada at example' }),
            'email',
            'format:email',
          ],
          [
            'upsertProfile: phone not E.164',
            (m) => m.upsertProfile(admin, { infrastructureId: i, userId: uuid(), phone: '0151 1234567' }),
            'phone',
            'format:regex',
          ],
          [
            'upsertProfile: locale not BCP 47',
            (m) => m.upsertProfile(admin, { infrastructureId: i, userId: uuid(), locale: 'en_US!' }),
            'locale',
            'bcp47',
          ],
          [
            'upsertProfile: time zone not IANA',
            (m) => m.upsertProfile(admin, { infrastructureId: i, userId: uuid(), timeZone: 'GMT+2:00' }),
            'timeZone',
            'iana_time_zone',
          ],
          [
            'upsertProfile: properties over 8 KiB',
            (m) =>
              m.upsertProfile(admin, {
                infrastructureId: i,
                userId: uuid(),
                properties: { bio: 'x'.repeat(9000) },
              }),
            'properties',
            'max_bytes',
          ],
          [
            'upsertProfile: the nil UUID as user',
            (m) => m.upsertProfile(admin, { infrastructureId: i, userId: NIL, email: 'a@example.com' }),
            'userId',
            'not_nil_uuid',
          ],
          [
            'getProfile: userId not a uuid',
            (m) => m.getProfile(admin, { infrastructureId: i, userId: 'ada' }),
            'userId',
            'format:uuid',
          ],
          [
            'followEvents: after is not an event cursor',
            (m) => m.followEvents(admin, { infrastructureId: i, after: 'yesterday' }, {} as never),
            'after',
            'event_cursor',
          ],
          [
            'followInbox: after is not an entry event id',
            (m) => m.followInbox(member, { infrastructureId: i, after: 'yesterday' }, {} as never),
            'after',
            'format:regex',
          ],
          [
            'setQuietHoursDefault: quiet hours of no length',
            (m) =>
              m.setQuietHoursDefault(admin, {
                infrastructureId: i,
                quietHours: { start: '22:00', end: '22:00' },
              }),
            'quietHours.end',
            'empty_window',
          ],
          [
            'getQuietHoursDefault: infrastructureId not a uuid',
            (m) => m.getQuietHoursDefault(admin, { infrastructureId: 'nope' }),
            'infrastructureId',
            'format:uuid',
          ],
          [
            'throttledCounts: since is not a time',
            (m) => m.throttledCounts(admin, { infrastructureId: i, since: 'last week' as never }),
            'since',
          ],
          [
            'listProfiles: limit over 1000',
            (m) => m.listProfiles(admin, { infrastructureId: i, limit: 1001 }),
            'limit',
            'too_big',
          ],
          [
            'deleteProfile: userId missing',
            (m) => m.deleteProfile(admin, { infrastructureId: i } as never),
            'userId',
            'invalid_type',
          ],
          [
            'createCategory: key not dotted lower-case',
            (m) => m.createCategory(admin, { infrastructureId: i, key: 'Invoice Paid', name: 'x' }),
            'key',
            'format:regex',
          ],
          [
            'createCategory: unknown channel type',
            (m) =>
              m.createCategory(admin, {
                infrastructureId: i,
                key: 'invoice.paid',
                name: 'x',
                channels: { pigeon: { channelKey: 'ops-alerts' } },
              }),
            'channels.pigeon',
            'unknown_channel_type',
          ],
          [
            'createCategory: channel of another type',
            (m) =>
              m.createCategory(admin, {
                infrastructureId: i,
                key: 'invoice.paid',
                name: 'x',
                channels: { email: { channelKey: 'ops-alerts' } },
              }),
            'channels.email.channelKey',
            'channel_type_mismatch',
          ],
          [
            'createCategory: digest window over 7 days',
            (m) =>
              m.createCategory(admin, {
                infrastructureId: i,
                key: 'comment.new',
                name: 'x',
                digest: { windowSeconds: 604_801, maxItems: 10 },
              }),
            'digest.windowSeconds',
            'too_big',
          ],
          [
            'createCategory: digest of one item',
            (m) =>
              m.createCategory(admin, {
                infrastructureId: i,
                key: 'comment.new',
                name: 'x',
                digest: { windowSeconds: 60, maxItems: 1 },
              }),
            'digest.maxItems',
            'too_small',
          ],
          [
            'createCategory: a throttle folding into a digest the category lacks',
            (m) =>
              m.createCategory(admin, {
                infrastructureId: i,
                key: 'comment.new',
                name: 'x',
                throttle: { limit: 1, windowSeconds: 60, onExceed: 'digest' },
              }),
            'throttle.onExceed',
            'requires_digest',
          ],
          [
            'updateCategory: digest key not a dotted path',
            (m) =>
              m.updateCategory(admin, {
                infrastructureId: i,
                categoryKey: 'invoice.paid',
                digest: { windowSeconds: 60, maxItems: 10, key: 'thread..id' },
              }),
            'digest.key',
            'format:regex',
          ],
          [
            'updateCategory: empty patch',
            (m) => m.updateCategory(admin, { infrastructureId: i, categoryKey: 'invoice.paid' }),
            'name',
            'non_empty_patch',
          ],
          [
            'getCategory: categoryKey empty',
            (m) => m.getCategory(admin, { infrastructureId: i, categoryKey: '' }),
            'categoryKey',
          ],
          [
            'listCategories: unknown parameter',
            (m) => m.listCategories(admin, { infrastructureId: i, all: true } as never),
            '(input)',
            'unrecognized_keys',
          ],
          [
            'setPreference: enabled missing',
            (m) =>
              m.setPreference(member, {
                infrastructureId: i,
                categoryKey: 'invoice.paid',
                channelType: 'email',
              } as never),
            'enabled',
            'invalid_type',
          ],
          [
            'getPreferences: businessId not a uuid',
            (m) => m.getPreferences(member, { infrastructureId: i, businessId: 'acme' }),
            'businessId',
            'format:uuid',
          ],
          [
            'setTenantDefault: channelType not an identifier',
            (m) =>
              m.setTenantDefault(admin, {
                infrastructureId: i,
                categoryKey: 'invoice.paid',
                channelType: 'E-Mail',
                enabled: true,
              }),
            'channelType',
            'format:regex',
          ],
          [
            'listTenantDefaults: infrastructureId not a uuid',
            (m) => m.listTenantDefaults(admin, { infrastructureId: 'x' }),
            'infrastructureId',
            'format:uuid',
          ],
          [
            'notify: neither users nor a channel',
            (m) => m.notify(worker, { infrastructureId: i, category: 'invoice.paid', to: {} as never }),
            'to',
            'invalid_union',
          ],
          [
            'notify: more than 10,000 users',
            (m) =>
              m.notify(worker, {
                infrastructureId: i,
                category: 'invoice.paid',
                to: { users: Array.from({ length: 10_001 }, () => uuid()) },
              }),
            'to',
          ],
          [
            'notify: category not a key',
            (m) =>
              m.notify(worker, { infrastructureId: i, category: 'Invoice Paid', to: { users: [uuid()] } }),
            'category',
            'format:regex',
          ],
          [
            'notify: data not an object',
            (m) =>
              m.notify(worker, {
                infrastructureId: i,
                category: 'invoice.paid',
                to: { users: [uuid()] },
                data: [1] as never,
              }),
            'data',
            'invalid_type',
          ],
          [
            'notify: idempotency key with a space',
            (m) =>
              m.notify(worker, {
                infrastructureId: i,
                category: 'invoice.paid',
                to: { users: [uuid()] },
                idempotencyKey: 'a b',
              }),
            'idempotencyKey',
            'format:regex',
          ],
          [
            'getNotification: after not user/type',
            (m) => m.getNotification(admin, { infrastructureId: i, notificationId: uuid(), after: 'nope' }),
            'after',
            'format:regex',
          ],
          [
            'listNotifications: since not a time',
            (m) => m.listNotifications(admin, { infrastructureId: i, since: 'yesterday' as never }),
            'since',
          ],
          [
            'principal: the nil UUID as user',
            (m) => m.listChannels({ ...admin, userId: NIL }, { infrastructureId: i }),
            'principal.userId',
            'not_nil_uuid',
          ],
          [
            'principal: a grant of the nil tenant',
            (m) =>
              m.createChannel(
                { ...admin, grants: [{ infrastructureId: NIL, businessId: null }] },
                { infrastructureId: NIL, channelKey: 'k', type: 'in_app' },
              ),
            'principal.grants.0.infrastructureId',
            'not_nil_uuid',
          ],
        ]
      }

      it('covers every facade call', () => {
        const calls = Object.getOwnPropertyNames(Object.getPrototypeOf(messaging)).filter(
          (n) => n !== 'constructor' && n !== 'close',
        )
        const covered = new Set(cases().map(([name]) => name.split(':')[0]))
        expect(calls.filter((c) => !covered.has(c))).toEqual([])
      })

      it('rejects each bad input with a ValidationError naming field and rule, leaving the store as it was', async () => {
        const before = await snapshot()
        for (const [name, call, field, rule] of cases()) {
          const error = await call(messaging).then(
            () => null,
            (e: unknown) => e,
          )
          expect(error, name).toBeInstanceOf(ValidationError)
          expect(isMessagingError(error) && error.code, name).toBe('VALIDATION_FAILED')
          const v = error as ValidationError
          expect(
            v.issues.map((x) => x.path),
            name,
          ).toContain(field)
          if (rule) expect(v.issues.find((x) => x.path === field)?.rule, name).toBe(rule)
          expect(v.message, name).toContain(field)
        }
        expect(await snapshot()).toEqual(before)
      })
    })
  })
}
