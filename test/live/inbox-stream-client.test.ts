import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createInAppTransport } from '../../src/adapters/transports/in-app/index.js'
import { createMessagingClient, type MessagingClient } from '../../src/client/index.js'
import { TenantScopeViolationError } from '../../src/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { fixture, serveOnLoopback } from '../http/support.js'
import { waitUntil } from '../support/sse.js'

type Got = Parameters<Parameters<MessagingClient['streamInbox']>[0]['onEvent']>[0]

describe("the typed client's streamInbox against the real handler over loopback", () => {
  const f = fixture()
  const baseUrl = serveOnLoopback(f.handler)
  const client = (who: string, infrastructureId = f.infraA) =>
    createMessagingClient({ baseUrl: baseUrl(), getToken: () => `tok-${who}`, infrastructureId })

  it('passes on entries (dates revived) and the unread count, resumes after an id, and ends when aborted', async () => {
    const { channelId } = await f.seed()
    const worker = createDeliveryWorker({
      messaging: f.messaging,
      principal: f.principals.serviceA,
      transports: [createInAppTransport({ messaging: f.messaging })],
    })
    const send = async (title: string) => {
      await f.messaging.enqueue(f.principals.adminA, {
        infrastructureId: f.infraA,
        channelId,
        payload: { title },
        recipients: [f.principals.memberA.userId],
      })
      await worker.drain()
    }
    const got: Got[] = []
    const stop = new AbortController()
    const ended = client('memberA').streamInbox({ signal: stop.signal, onEvent: (e) => got.push(e) })
    await waitUntil(() => got.length > 0, 'the first unread event')
    expect(got).toEqual([{ type: 'unread', unread: 0 }])
    await send('first')
    await waitUntil(() => got.some((e) => e.type === 'unread' && e.unread === 1), 'the entry and the count')
    const entry = got.find((e) => e.type === 'entry')
    if (entry?.type !== 'entry') throw new Error('no entry event')
    expect(entry.entry.createdAt).toBeInstanceOf(Date)
    expect(entry.entry.payload).toEqual({ title: 'first' })
    stop.abort()
    await expect(ended).resolves.toBeUndefined()

    // Away, a second entry arrives; resuming after the first sends it.
    await send('second')
    const again: Got[] = []
    const stop2 = new AbortController()
    const ended2 = client('memberA').streamInbox({
      after: entry.id,
      signal: stop2.signal,
      onEvent: (e) => again.push(e),
    })
    await waitUntil(() => again.some((e) => e.type === 'unread'), 'the resumed stream')
    expect(again.filter((e) => e.type === 'entry').map((e) => e.type === 'entry' && e.entry.payload)).toEqual(
      [{ title: 'second' }],
    )
    stop2.abort()
    await ended2
  })

  it("rejects with the module's typed error when the stream is refused", async () => {
    await expect(
      client('memberA', randomUUID()).streamInbox({ onEvent: () => undefined }),
    ).rejects.toBeInstanceOf(TenantScopeViolationError)
  })
})
