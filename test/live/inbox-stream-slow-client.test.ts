import { describe, expect, it } from 'vitest'
import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { createInAppTransport } from '../../src/adapters/transports/in-app/index.js'
import { MAX_BUFFERED_BYTES } from '../../src/http/inbox-stream.js'
import { createFetchHandler } from '../../src/http/index.js'
import { createMessaging, type Principal } from '../../src/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { BASE, bearerAuth } from '../http/support.js'
import { principal, tenant } from '../support/fixtures.js'
import { readSse } from '../support/sse.js'

const ORIGIN = '0.00000000-0000-0000-0000-000000000000'

describe('GET /inbox/stream for a client that reads slower than its inbox fills', () => {
  it('holds at most about MAX_BUFFERED_BYTES, ends, and the client goes on by Last-Event-ID without loss', async () => {
    const storage = createMemoryStorage()
    const messaging = createMessaging({ storage })
    const t = tenant()
    const admin = principal('infra_admin', [[t.infra, null]])
    const alice = principal('member', [[t.infra, null]])
    const handler = createFetchHandler({
      messaging,
      authenticate: bearerAuth(new Map<string, Principal>([['tok-alice', alice]])),
    })
    const ch = await messaging.createChannel(admin, {
      infrastructureId: t.infra,
      channelKey: 'big',
      type: 'in_app',
    })
    // 40 entries of 60 KB: 2.4 MB, more than twice what one stream may hold.
    const COUNT = 40
    await messaging.enqueueMany(
      admin,
      Array.from({ length: COUNT }, (_, i) => ({
        infrastructureId: t.infra,
        channelId: ch.id,
        payload: { title: `report ${i}`, text: 'x'.repeat(60_000) },
        recipients: [alice.userId],
      })),
    )
    await createDeliveryWorker({
      messaging,
      principal: principal('service', [[t.infra, null]]),
      transports: [createInAppTransport({ messaging })],
    }).drain()

    const ids = new Set<string>()
    let last = ORIGIN
    let rounds = 0
    for (; rounds < 10 && ids.size < COUNT; rounds++) {
      // Nothing is read until the handler has answered: the catch-up fills the stream meanwhile.
      const res = await handler(
        new Request(`http://host.test${BASE}/inbox/stream?infrastructureId=${t.infra}`, {
          headers: { authorization: 'Bearer tok-alice', 'last-event-id': last },
        }),
      )
      expect(res.status).toBe(200)
      const sse = readSse(res)
      // Either the stream ended (it held its cap) or it caught up and sent the count.
      await sse.waitFor((e) => e.event === 'unread').catch(() => sse.ended)
      const entries = sse.events.filter((e) => e.event === 'entry')
      const bytes = entries.reduce((n, e) => n + e.data.length, 0)
      expect(bytes).toBeLessThan(MAX_BUFFERED_BYTES + 2 * 61_000)
      for (const e of entries) ids.add(JSON.parse(e.data).id)
      if (entries.length > 0) last = entries.at(-1)!.id!
      await sse.close()
    }
    expect(ids.size).toBe(COUNT)
    expect(rounds).toBeGreaterThan(2)
    expect(storage.inboxFeed!.listeners).toBe(0)
  })
})
