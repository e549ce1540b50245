import { describe, expect, it } from 'vitest'
import { createInAppTransport } from '../../src/adapters/transports/in-app/index.js'
import { createMessagingClient } from '../../src/client/index.js'
import { ForbiddenRoleError, IllegalTransitionError, TenantScopeViolationError } from '../../src/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { fixture, serveOnLoopback } from '../http/support.js'
import { scriptedTransport, testChannelType, until } from '../support/transports.js'

describe('typed client: dead letters, attempts, redrive, stats and the inbox over loopback', () => {
  const f = fixture({}, { channelTypes: [testChannelType] })
  const baseUrl = serveOnLoopback(f.handler)
  const client = (who: string) =>
    createMessagingClient({ baseUrl: baseUrl(), getToken: () => `tok-${who}`, infrastructureId: f.infraA })
  const worker = () =>
    createDeliveryWorker({
      messaging: f.messaging,
      principal: f.principals.serviceA,
      transports: [scriptedTransport(), createInAppTransport({ messaging: f.messaging })],
      pollIntervalMs: 10,
      retry: { baseMs: 5, maxMs: 10 },
      random: () => 1,
    })

  it('follows a message from dead letter to redrive to delivered, with Dates revived', async () => {
    const admin = client('adminA')
    const channel = await admin.createChannel({ channelKey: 'partner', type: 'test', maxAttempts: 1 })
    const { message } = await client('memberA').enqueueMessage({
      channelId: channel.id,
      // Fails once (its only attempt: dead), delivers when redriven.
      payload: { behaviour: { do: 'retry', times: 1, error: 'partner down' } },
    })
    const w = worker()
    const stop = new AbortController()
    const running = w.run(stop.signal)
    await until(async () => (await admin.getMessage(message.id)).status === 'dead')

    const [dead] = await admin.listDeadLetters({ channelId: channel.id })
    expect(dead).toMatchObject({ id: message.id, lastError: 'partner down' })
    expect(dead!.settledAt).toBeInstanceOf(Date)
    const attempts = await admin.listAttempts(message.id)
    expect(attempts).toMatchObject([{ attempt: 1, outcome: 'retryable', workerId: w.workerId }])
    expect(attempts[0]!.startedAt).toBeInstanceOf(Date)
    expect(await admin.stats({ infrastructureId: f.infraA })).toMatchObject([
      { channelId: channel.id, dead: 1, processed: 0 },
    ])

    await expect(client('memberA').redriveMessage(message.id)).rejects.toBeInstanceOf(ForbiddenRoleError)
    const redriven = await admin.redriveMessage(message.id)
    expect(redriven).toMatchObject({ status: 'pending', attempts: 0 })
    expect(redriven.availableAt).toBeInstanceOf(Date)
    await expect(admin.redriveMessage(message.id)).rejects.toBeInstanceOf(IllegalTransitionError)
    await until(async () => (await admin.getMessage(message.id)).status === 'processed')
    expect(await client('serviceA').redriveChannel(channel.id)).toEqual({ redriven: 0 })
    stop.abort()
    await running
    expect(await admin.listDeadLetters()).toEqual([])
    expect((await admin.listAttempts(message.id)).map((a) => a.outcome)).toEqual(['retryable', 'delivered'])
  })

  it("reads, counts and marks the caller's own inbox; another tenant's is out of reach", async () => {
    const admin = client('adminA')
    const channel = await admin.createChannel({ channelKey: 'news', type: 'in_app' })
    await admin.addMember({ channelId: channel.id, userId: f.principals.memberA.userId })
    await admin.enqueueMessage({ channelId: channel.id, payload: { title: 'release 2.0' } })
    await admin.enqueueMessage({ channelId: channel.id, payload: { title: 'release 2.1' } })
    expect(await worker().drain()).toBe(2)

    const me = client('memberA')
    const inbox = await me.listInbox()
    expect(inbox).toHaveLength(2)
    expect(inbox[0]!.createdAt).toBeInstanceOf(Date)
    expect(inbox[0]!.readAt).toBeNull()
    expect(await me.countUnread()).toEqual({ unread: 2 })
    expect(await me.markInbox({ entryIds: [inbox[1]!.id], mark: 'seen' })).toEqual({ changed: 1 })
    expect((await me.listInbox({ unreadOnly: true })).length).toBe(2)
    expect(await me.markInbox({ entryIds: 'all', mark: 'read' })).toEqual({ changed: 2 })
    expect(await me.countUnread()).toEqual({ unread: 0 })
    const read = await me.listInbox()
    expect(read.every((e) => e.readAt instanceof Date)).toBe(true)
    await expect(me.countUnread(f.infraB)).rejects.toBeInstanceOf(TenantScopeViolationError)
  })
})
