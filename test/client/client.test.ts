import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createMessagingClient } from '../../src/client/index.js'
import {
  ChannelDisabledError,
  ConflictError,
  ForbiddenRoleError,
  NotFoundError,
  RateLimitedError,
  TenantScopeViolationError,
  UnauthenticatedError,
  ValidationError,
} from '../../src/index.js'
import { BASE, fixture, serveOnLoopback } from '../http/support.js'

describe('typed client against the real handler over loopback', () => {
  const f = fixture({ enqueueQuota: { capacity: 50, refillPerSecond: 0.001 } })
  const baseUrl = serveOnLoopback(f.handler)
  const client = (who: string | null, infrastructureId: string | undefined = f.infraA) =>
    createMessagingClient({
      baseUrl: baseUrl(),
      getToken: async () => (who ? `tok-${who}` : null),
      ...(infrastructureId !== undefined && { infrastructureId }),
    })

  it("walks the blueprint's service: channels, members, enqueue, with Dates revived", async () => {
    const admin = client('adminA')
    const channel = await admin.createChannel({ channelKey: 'alerts', type: 'in_app', name: 'Alerts' })
    expect(channel.createdAt).toBeInstanceOf(Date)
    const member = await admin.addMember({ channelId: channel.id, userId: f.principals.memberA.userId })
    expect(member.optedIn).toBe(true)

    const me = client('memberA')
    const channels = await me.listMessagingChannels()
    expect(channels.map((c) => c.channelKey)).toEqual(['alerts'])
    const members = await me.listChannelMembers(channel.id)
    expect(members.map((m) => m.userId)).toEqual([f.principals.memberA.userId])
    const { message, created } = await me.enqueueMessage(
      { channelKey: 'alerts', payload: { text: 'deploy done' } },
      { idempotencyKey: 'deploy-1' },
    )
    expect(created).toBe(true)
    expect(message.availableAt).toBeInstanceOf(Date)
    const again = await me.enqueueMessage({
      channelKey: 'alerts',
      payload: { text: 'deploy done' },
      idempotencyKey: 'deploy-1',
    })
    expect(again).toMatchObject({ created: false, message: { id: message.id } })

    const optedOut = await me.setOptIn({ channelId: channel.id, optedIn: false })
    expect(optedOut.optedIn).toBe(false)
    const view = await me.listMemberships({ userId: f.principals.memberA.userId })
    expect(view).toEqual([expect.objectContaining({ channelKey: 'alerts', optedIn: false })])
    expect((await me.getMessage(message.id)).payload).toEqual({ text: 'deploy done' })
    expect(await me.listMessages({ status: 'pending' })).toHaveLength(1)
    expect((await me.getChannel(channel.id)).name).toBe('Alerts')

    const worker = client('serviceA')
    const [held] = await worker.claim({ infrastructureId: f.infraA })
    expect(held!.leasedUntil).toBeInstanceOf(Date)
    const ack = await worker.ack({ messageId: held!.id, leaseToken: held!.leaseToken, outcome: 'processed' })
    expect(ack).toEqual({ acked: true, status: 'processed' })
    const audit = await admin.listAudit({ action: 'outbox.ack' })
    expect(audit[0]!.at).toBeInstanceOf(Date)

    const configured = await admin.configureChannel({ channelId: channel.id, enabled: false })
    expect(configured.enabled).toBe(false)
    await admin.removeMember({ channelId: channel.id, userId: f.principals.memberA.userId })
    expect(await admin.listChannelMembers(channel.id)).toEqual([])
    const doc = await me.openApiDocument()
    expect(doc.openapi).toBe('3.1.0')
  })

  it('maps problem responses back to the typed error classes, by code', async () => {
    const admin = client('adminA')
    const ch = await admin.createChannel({ channelKey: 'errs', type: 'in_app' })

    const invalid = await client('memberA')
      .enqueueMessage({ channelKey: 'Not A Slug', payload: 1 })
      .catch((e: unknown) => e)
    expect(invalid).toBeInstanceOf(ValidationError)
    expect((invalid as ValidationError).issues).toEqual([expect.objectContaining({ path: 'channelKey' })])

    await expect(client(null).listMessagingChannels()).rejects.toBeInstanceOf(UnauthenticatedError)
    const scope = await client('adminB')
      .listMessagingChannels()
      .catch((e: unknown) => e)
    expect(scope).toBeInstanceOf(TenantScopeViolationError)
    expect((scope as TenantScopeViolationError).infrastructureId).toBe(f.infraA)
    const role = await client('memberA')
      .createChannel({ channelKey: 'nope', type: 'in_app' })
      .catch((e: unknown) => e)
    expect(role).toBeInstanceOf(ForbiddenRoleError)
    expect(role).toMatchObject({ action: 'channel.create', actual: 'member', code: 'FORBIDDEN_ROLE' })
    await expect(client('memberA').getChannel(randomUUID())).rejects.toBeInstanceOf(NotFoundError)
    await expect(admin.createChannel({ channelKey: 'errs', type: 'in_app' })).rejects.toBeInstanceOf(
      ConflictError,
    )
    await admin.configureChannel({ channelId: ch.id, enabled: false })
    await expect(admin.enqueueMessage({ channelId: ch.id, payload: 1 })).rejects.toBeInstanceOf(
      ChannelDisabledError,
    )
  })

  it('raises RateLimitedError for a spent quota (Retry-After) and MessagingHttpError for HTTP-only codes', async () => {
    const admin = client('adminA')
    await admin.createChannel({ channelKey: 'burst', type: 'in_app' })
    let limited: unknown
    for (let i = 0; i < 60 && !limited; i++) {
      await admin.enqueueMessage({ channelKey: 'burst', payload: i }).catch((e: unknown) => {
        limited = e
      })
    }
    expect(limited).toBeInstanceOf(RateLimitedError)
    expect(limited).toMatchObject({ code: 'RATE_LIMITED', infrastructureId: f.infraA })
    expect((limited as RateLimitedError).retryAfterSeconds).toBeGreaterThan(0)

    const wrongBase = createMessagingClient({
      baseUrl: baseUrl().replace(BASE, '/elsewhere'),
      getToken: () => 'tok-adminA',
    })
    const missing = await wrongBase
      .listMessagingChannels({ infrastructureId: f.infraA })
      .catch((e: unknown) => e)
    expect(missing).toMatchObject({ status: 404, code: 'ROUTE_NOT_FOUND' })
  })

  it('uses the fetch it is given and sends no Authorization without a token', async () => {
    const seen: Array<{ url: string; auth: string | null }> = []
    const recording = createMessagingClient({
      baseUrl: `${baseUrl()}/`,
      infrastructureId: f.infraA,
      fetch: (input, init) => {
        seen.push({ url: String(input), auth: new Headers(init?.headers).get('authorization') })
        return fetch(input, init)
      },
    })
    await expect(recording.listMessagingChannels()).rejects.toBeInstanceOf(UnauthenticatedError)
    expect(seen).toEqual([{ url: `${baseUrl()}/channels?infrastructureId=${f.infraA}`, auth: null }])
  })
})
