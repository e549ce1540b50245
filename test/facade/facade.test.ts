import { beforeEach, describe, expect, it } from 'vitest'
import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { createMessaging, type Messaging, type Principal, REDACTED } from '../../src/index.js'
import { ManualClock, principal, tenant, uuid } from '../support/fixtures.js'

const WEBHOOK = { url: 'https://hooks.example.com/in', secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'] }

describe('the facade', () => {
  let messaging: Messaging
  let clock: ManualClock
  let t: ReturnType<typeof tenant>
  let admin: Principal
  let worker: Principal
  let member: Principal
  let channelId: string

  beforeEach(async () => {
    clock = new ManualClock()
    // The store resolves leases and retry delays against its own clock: the same one.
    messaging = createMessaging({ storage: createMemoryStorage({ clock }), clock })
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
  async function _snapshot() {
    const infrastructureId = t.infra
    return {
      channels: await messaging.listChannels(admin, { infrastructureId }),
      memberships: await messaging.listMemberships(admin, { infrastructureId }),
      messages: await messaging.listMessages(worker, { infrastructureId, limit: 1000 }),
      audit: await messaging.listAudit(admin, { infrastructureId, limit: 1000 }),
    }
  }

  it('redacts secrets in what it returns and keeps them when a redacted config is sent back', async () => {
    const [c] = await messaging.listChannels(member, { infrastructureId: t.infra })
    expect(c!.config).toMatchObject({ url: WEBHOOK.url, secrets: [REDACTED] })
    expect(JSON.stringify(c)).not.toContain(WEBHOOK.secrets[0])
    const updated = await messaging.configureChannel(admin, {
      infrastructureId: t.infra,
      channelId,
      config: { ...c!.config, url: 'https://hooks.example.com/v2' },
    })
    expect(updated.config).toMatchObject({ url: 'https://hooks.example.com/v2', secrets: [REDACTED] })
    // The stored secret survived: a config with the marker where no secret exists is refused.
    await expect(
      messaging.createChannel(admin, {
        infrastructureId: t.infra,
        channelKey: 'other',
        type: 'webhook',
        config: { url: WEBHOOK.url, secrets: [REDACTED] },
      }),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED', field: 'config.secrets.0' })
  })

  it('enqueues by channel key, deduplicates by idempotency key, and acks under the lease', async () => {
    const first = await messaging.enqueue(member, {
      infrastructureId: t.infra,
      businessId: t.bizA,
      channelKey: 'ops-alerts',
      payload: { text: 'disk 91%' },
      idempotencyKey: 'disk-91',
    })
    expect(first.created).toBe(true)
    const again = await messaging.enqueue(member, {
      infrastructureId: t.infra,
      businessId: t.bizA,
      channelId,
      payload: { text: 'something else' },
      idempotencyKey: 'disk-91',
    })
    expect(again).toEqual({ created: false, message: first.message })
    const [held] = await messaging.claim(worker, { limit: 5 })
    expect(held).toMatchObject({ id: first.message.id, status: 'processing', attempts: 1 })
    const stale = {
      infrastructureId: t.infra,
      messageId: held!.id,
      leaseToken: uuid(),
      outcome: 'processed' as const,
    }
    expect(await messaging.ack(worker, stale)).toEqual({ acked: false, status: 'processing' })
    const ok = await messaging.ack(worker, { ...stale, leaseToken: held!.leaseToken })
    expect(ok).toEqual({ acked: true, status: 'processed' })
    expect(await messaging.ack(worker, { ...stale, leaseToken: held!.leaseToken })).toEqual({
      acked: false,
      status: 'processed',
    })
  })

  it('retries a failed delivery until its attempts run out, then the message is dead with its last error', async () => {
    await messaging.configureChannel(admin, { infrastructureId: t.infra, channelId, maxAttempts: 2 })
    const { message } = await messaging.enqueue(member, {
      infrastructureId: t.infra,
      businessId: t.bizA,
      channelId,
      payload: 1,
    })
    expect(message.maxAttempts).toBe(2)
    const fail = (leaseToken: string) =>
      messaging.ack(worker, {
        infrastructureId: t.infra,
        messageId: message.id,
        leaseToken,
        outcome: 'failed',
        reason: 'HTTP 503',
        retryAfterMs: 1000,
      })
    const [a1] = await messaging.claim(worker)
    expect(await fail(a1!.leaseToken)).toEqual({ acked: true, status: 'pending' })
    expect(await messaging.claim(worker)).toEqual([])
    clock.advance(1000)
    const [a2] = await messaging.claim(worker)
    expect(a2!.attempts).toBe(2)
    expect(await fail(a2!.leaseToken)).toEqual({ acked: true, status: 'dead' })
    expect(
      await messaging.getMessage(member, { infrastructureId: t.infra, messageId: message.id }),
    ).toMatchObject({
      status: 'dead',
      lastError: 'HTTP 503',
      attempts: 2,
    })
  })

  it("records who did what in the audit log, refusals in the tenant included; an outsider's in the security log", async () => {
    const outsider = principal('infra_admin', [[uuid(), null]])
    await expect(
      messaging.enqueue(member, { infrastructureId: t.infra, businessId: t.bizB, channelId, payload: {} }),
    ).rejects.toMatchObject({ code: 'TENANT_SCOPE_VIOLATION' })
    await expect(
      messaging.createChannel(member, { infrastructureId: t.infra, channelKey: 'x', type: 'in_app' }),
    ).rejects.toMatchObject({ code: 'FORBIDDEN_ROLE' })
    await expect(
      messaging.createChannel(outsider, { infrastructureId: t.infra, channelKey: 'x', type: 'in_app' }),
    ).rejects.toMatchObject({ code: 'TENANT_SCOPE_VIOLATION' })
    const audit = await messaging.listAudit(admin, { infrastructureId: t.infra })
    // The outsider's refusal is not in this tenant's trail: it is counted in the security log.
    expect(audit.map((e) => [e.action, e.outcome, e.errorCode, e.actorId])).toEqual([
      ['channel.create', 'refused', 'FORBIDDEN_ROLE', member.userId],
      ['outbox.enqueue', 'refused', 'TENANT_SCOPE_VIOLATION', member.userId],
      ['channel.create', 'ok', null, admin.userId],
    ])
    expect(JSON.stringify(audit)).not.toContain(WEBHOOK.secrets[0])
    expect(await messaging.listSecurityEvents()).toMatchObject([
      {
        actorId: outsider.userId,
        action: 'channel.create',
        errorCode: 'TENANT_SCOPE_VIOLATION',
        refusals: 1,
      },
    ])
  })

  it('lets a member opt itself in, and lists memberships with channel metadata', async () => {
    await messaging.addMember(admin, {
      infrastructureId: t.infra,
      channelId,
      userId: member.userId,
      optedIn: false,
    })
    const m = await messaging.setOptIn(member, { infrastructureId: t.infra, channelId, optedIn: true })
    expect(m.optedIn).toBe(true)
    await expect(
      messaging.setOptIn(principal('member', [[t.infra, null]]), {
        infrastructureId: t.infra,
        channelId,
        userId: member.userId,
        optedIn: false,
      }),
    ).rejects.toMatchObject({ code: 'FORBIDDEN_ROLE' })
    const views = await messaging.listMemberships(member, {
      infrastructureId: t.infra,
      userId: member.userId,
    })
    expect(views).toMatchObject([{ channelKey: 'ops-alerts', channelType: 'webhook', optedIn: true }])
    await messaging.removeMember(admin, { infrastructureId: t.infra, channelId, userId: member.userId })
    expect(await messaging.listMembers(admin, { infrastructureId: t.infra, channelId })).toEqual([])
  })

  it('refuses an enqueue on a disabled channel and a payload over the cap', async () => {
    const small = createMessaging({ storage: createMemoryStorage(), limits: { maxPayloadBytes: 64 } })
    const c = await small.createChannel(admin, {
      infrastructureId: t.infra,
      channelKey: 'inbox',
      type: 'in_app',
    })
    await expect(
      small.enqueue(member, {
        infrastructureId: t.infra,
        businessId: t.bizA,
        channelId: c.id,
        payload: 'x'.repeat(80),
      }),
    ).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE', field: 'payload', limit: 64 })
    await small.configureChannel(admin, { infrastructureId: t.infra, channelId: c.id, enabled: false })
    await expect(
      small.enqueue(member, { infrastructureId: t.infra, businessId: t.bizA, channelId: c.id, payload: 'x' }),
    ).rejects.toMatchObject({ code: 'CHANNEL_DISABLED' })
    expect(await small.listMessages(worker, { infrastructureId: t.infra })).toEqual([])
  })
})

describe('inversify wiring', () => {
  it("loads into a host's own container, with the host's own bindings beside it", async () => {
    const { Container } = await import('inversify')
    const { messagingModule, MESSAGING_TYPES } = await import('../../src/index.js')
    const container = new Container()
    container.bind('HostGreeting').toConstantValue('hello')
    container.loadSync(messagingModule({ storage: createMemoryStorage() }))
    const messaging = container.get<Messaging>(MESSAGING_TYPES.Messaging)
    expect(messaging).toBeInstanceOf((await import('../../src/index.js')).Messaging)
    expect(container.get(MESSAGING_TYPES.Messaging)).toBe(messaging)
    expect(container.get<string>('HostGreeting')).toBe('hello')
    const t = tenant()
    const admin = principal('infra_admin', [[t.infra, null]])
    await messaging.createChannel(admin, { infrastructureId: t.infra, channelKey: 'inbox', type: 'in_app' })
    expect(await messaging.listChannels(admin, { infrastructureId: t.infra })).toHaveLength(1)
  })
})
