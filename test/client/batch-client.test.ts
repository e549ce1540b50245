import { describe, expect, it } from 'vitest'
import { createMessagingClient } from '../../src/client/index.js'
import { ValidationError } from '../../src/index.js'
import { fixture, serveOnLoopback } from '../http/support.js'

describe('typed client: enqueueMessages over loopback', () => {
  const f = fixture()
  const baseUrl = serveOnLoopback(f.handler)

  it("appends a batch in one call with the client's default tenant, Dates revived; a bad item is a ValidationError", async () => {
    await f.seed()
    const client = createMessagingClient({
      baseUrl: baseUrl(),
      getToken: async () => 'tok-memberA',
      infrastructureId: f.infraA,
    })
    const results = await client.enqueueMessages([
      { channelKey: 'ops', payload: { n: 1 } },
      { channelKey: 'ops', payload: { n: 2 }, idempotencyKey: 'b-2' },
    ])
    expect(results.map((r) => [r.created, r.message.infrastructureId, r.message.payload])).toEqual([
      [true, f.infraA, { n: 1 }],
      [true, f.infraA, { n: 2 }],
    ])
    expect(results[0]!.message.createdAt).toBeInstanceOf(Date)
    const err = await client
      .enqueueMessages([
        { channelKey: 'ops', payload: 1 },
        { channelKey: 'ops', payload: 2, recipients: [] },
      ])
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ValidationError)
    expect((err as ValidationError).issues.map((i) => i.path)).toContain('items.1.recipients')
    expect((await f.snapshot()).messages).toBe(2)
  })
})
