import { beforeEach, describe, expect, it } from 'vitest'
import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import {
  createMessaging,
  isMessagingError,
  type Messaging,
  type Principal,
  REDACTED,
  ValidationError,
} from '../../src/index.js'
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
    messaging = createMessaging({ storage: createMemoryStorage(), clock })
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

  it('records who did what in the audit log, refusals included', async () => {
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
    expect(audit.map((e) => [e.action, e.outcome, e.errorCode, e.actorId])).toEqual([
      ['channel.create', 'refused', 'TENANT_SCOPE_VIOLATION', outsider.userId],
      ['channel.create', 'refused', 'FORBIDDEN_ROLE', member.userId],
      ['outbox.enqueue', 'refused', 'TENANT_SCOPE_VIOLATION', member.userId],
      ['channel.create', 'ok', null, admin.userId],
    ])
    expect(JSON.stringify(audit)).not.toContain(WEBHOOK.secrets[0])
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

  describe('bad input: a typed error naming the field and the rule, and nothing written', () => {
    type Case = [name: string, call: (m: Messaging) => Promise<unknown>, field: string, rule?: string]
    const cases = (): Case[] => {
      const i = t.infra
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
            m.createChannel(admin, { infrastructureId: i, channelKey: 'k', type: 'in_app', maxAttempts: 0 }),
          'maxAttempts',
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
          'redriveChannel: channelId missing',
          (m) => m.redriveChannel(admin, { infrastructureId: i } as never),
          'channelId',
          'invalid_type',
        ],
        [
          'stats: infrastructureId not a uuid',
          (m) => m.stats(admin, { infrastructureId: 'x' }),
          'infrastructureId',
          'format:uuid',
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
