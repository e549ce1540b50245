import { describe, expect, it } from 'vitest'
import { fixture, problem } from './support.js'

describe('POST /queue/batch', () => {
  it('appends every item in one call (201), results in order, and an all-repeated batch answers 200', async () => {
    const f = fixture()
    const { channelId } = await f.seed()
    const items = [
      { infrastructureId: f.infraA, channelKey: 'ops', payload: { n: 1 }, idempotencyKey: 'k-1' },
      { infrastructureId: f.infraA, channelId, payload: { n: 2 } },
      { infrastructureId: f.infraA, channelKey: 'ops', payload: { n: 3 }, recipients: ['a@example.com'] },
    ]
    const res = await f.call('POST', '/queue/batch', { body: { items } })
    expect(res.status).toBe(201)
    const body = (await res.json()) as Array<{
      created: boolean
      message: { payload: unknown; channelId: string }
    }>
    expect(body.map((r) => [r.created, r.message.payload, r.message.channelId])).toEqual([
      [true, { n: 1 }, channelId],
      [true, { n: 2 }, channelId],
      [true, { n: 3 }, channelId],
    ])
    expect((await f.snapshot()).messages).toBe(3)
    const again = await f.call('POST', '/queue/batch', { body: { items: [items[0]] } })
    expect(again.status).toBe(200)
    expect(await again.json()).toEqual([expect.objectContaining({ created: false })])
    expect((await f.snapshot()).messages).toBe(3)
  })

  it('400 naming items.<i>.<field> for a bad item, and nothing written', async () => {
    const f = fixture()
    await f.seed()
    const before = await f.snapshot()
    const res = await f.call('POST', '/queue/batch', {
      body: {
        items: [
          { infrastructureId: f.infraA, channelKey: 'ops', payload: 1 },
          { infrastructureId: f.infraA, channelKey: 'Bad Key', payload: 2 },
        ],
      },
    })
    expect(res.status).toBe(400)
    const p = await problem(res)
    expect(p).toMatchObject({ code: 'VALIDATION_FAILED' })
    expect((p.errors as Array<{ path: string }>).map((e) => e.path)).toContain('items.1.channelKey')
    expect(await f.snapshot()).toEqual(before)
    // The envelope is strict too: an unknown key or no items at all.
    for (const body of [{ items: [], extra: 1 }, {}, { items: [] }]) {
      expect((await f.call('POST', '/queue/batch', { body })).status).toBe(400)
    }
    expect(await f.snapshot()).toEqual(before)
  })

  it('403 when an item names another tenant: nothing written in it, the refusal counted in the security log', async () => {
    const f = fixture()
    await f.seed()
    const before = await f.snapshot()
    const res = await f.call('POST', '/queue/batch', {
      who: 'adminB',
      body: {
        items: [
          { infrastructureId: f.infraB, channelKey: 'ops', payload: 1 },
          { infrastructureId: f.infraA, channelKey: 'ops', payload: 2 },
        ],
      },
    })
    expect(res.status).toBe(403)
    expect(await problem(res)).toMatchObject({ code: 'TENANT_SCOPE_VIOLATION', infrastructureId: f.infraA })
    expect(await f.snapshot()).toEqual({ ...before, refusalsElsewhere: before.refusalsElsewhere + 1 })
  })

  it('spends one quota token per item, all or nothing: a batch larger than what is left is refused (429)', async () => {
    let now = 1_000_000
    const f = fixture({ enqueueQuota: { capacity: 5, refillPerSecond: 1 }, now: () => now })
    await f.seed()
    const item = { infrastructureId: f.infraA, channelKey: 'ops', payload: 1 }
    const batch = (n: number) => f.call('POST', '/queue/batch', { body: { items: Array(n).fill(item) } })
    expect((await batch(3)).status).toBe(201)
    const limited = await batch(3)
    expect(limited.status).toBe(429)
    expect(limited.headers.get('retry-after')).toBe('1')
    expect(await problem(limited)).toMatchObject({ code: 'RATE_LIMITED', infrastructureId: f.infraA })
    expect((await f.snapshot()).messages).toBe(3)
    // The refused batch spent nothing: the two tokens left still admit two single enqueues.
    expect((await f.call('POST', '/queue', { body: item })).status).toBe(201)
    expect((await f.call('POST', '/queue', { body: item })).status).toBe(201)
    expect((await f.call('POST', '/queue', { body: item })).status).toBe(429)
    now += 3000
    expect((await batch(3)).status).toBe(201)
    expect((await f.snapshot()).messages).toBe(8)
  })
})
