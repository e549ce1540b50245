import { describe, expect, it } from 'vitest'
import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { createFetchHandler } from '../../src/http/index.js'
import { createMessaging, type Principal } from '../../src/index.js'
import { BASE, bearerAuth } from '../http/support.js'
import { principal, tenant } from '../support/fixtures.js'
import { readSse } from '../support/sse.js'

describe('GET /inbox/stream when the store fails under it', () => {
  it('ends the stream (the client reconnects and resumes) and hands the error to onError', async () => {
    const storage = createMemoryStorage()
    const messaging = createMessaging({ storage })
    const t = tenant()
    const alice = principal('member', [[t.infra, null]])
    const errors: unknown[] = []
    const handler = createFetchHandler({
      messaging,
      authenticate: bearerAuth(new Map<string, Principal>([['tok-alice', alice]])),
      onError: (e) => errors.push(e),
    })
    const res = await handler(
      new Request(`http://host.test${BASE}/inbox/stream?infrastructureId=${t.infra}`, {
        headers: { authorization: 'Bearer tok-alice' },
      }),
    )
    expect(res.status).toBe(200)
    const sse = readSse(res)
    await sse.waitFor((e) => e.event === 'unread')
    // The store goes away; the next change the stream reads on fails.
    await storage.close()
    storage.inboxFeed!.publish([{ kind: 'marked', infrastructureId: t.infra, userId: alice.userId }])
    await sse.ended
    expect(storage.inboxFeed!.listeners).toBe(0)
    expect(errors).toHaveLength(1)
    expect(String(errors[0])).toMatch(/closed/)
  })
})
