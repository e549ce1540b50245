import { describe, expect, it } from 'vitest'
import type { ChannelLookup } from '../../src/application/channel-opener.js'
import { ChannelCache } from '../../src/worker/channel-cache.js'
import { FakeTimers, settle } from '../support/fake-timers.js'
import { uuid } from '../support/fixtures.js'
import { readyChannel } from './support.js'

function cache(answer: () => ChannelLookup | Promise<ChannelLookup>) {
  const timers = new FakeTimers()
  const opened: string[] = []
  const c = new ChannelCache({
    open: async (_i, channelId) => {
      opened.push(channelId)
      return answer()
    },
    ttlMs: 2000,
    timers,
    maxEntries: 3,
  })
  return { c, timers, opened }
}

describe('the channel cache', () => {
  it('looks a ready channel up once per ttl, sharing one lookup between concurrent messages', async () => {
    const { c, timers, opened } = cache(() => readyChannel())
    const [i, ch] = [uuid(), uuid()]
    const [a, b] = await Promise.all([c.lookup(i, ch), c.lookup(i, ch)])
    expect(a).toBe(b)
    await timers.advance(1999)
    await c.lookup(i, ch)
    expect(opened).toEqual([ch])
    await timers.advance(1)
    await c.lookup(i, ch)
    expect(opened).toEqual([ch, ch])
  })

  it('keeps nothing but ready channels: a disabled, missing, unopenable or invalid one is looked up again', async () => {
    for (const lookup of [
      { status: 'missing' },
      { ...readyChannel(), status: 'disabled' },
      { ...readyChannel(), status: 'unavailable', code: 'SECRET_UNAVAILABLE', reason: 'no key' },
      { ...readyChannel(), status: 'invalid', reason: 'config.url: invalid' },
    ] as ChannelLookup[]) {
      const { c, opened } = cache(() => lookup)
      const [i, ch] = [uuid(), uuid()]
      await c.lookup(i, ch)
      await settle()
      await c.lookup(i, ch)
      expect(opened, lookup.status).toEqual([ch, ch])
    }
  })

  it('forgets a lookup that failed, and starts over past its size', async () => {
    let fail = true
    const { c, opened } = cache(() => (fail ? Promise.reject(new Error('store down')) : readyChannel()))
    const i = uuid()
    await expect(c.lookup(i, 'a')).rejects.toThrow('store down')
    fail = false
    await c.lookup(i, 'a')
    for (const ch of ['b', 'c', 'd']) await c.lookup(i, ch)
    await c.lookup(i, 'a')
    expect(opened).toEqual(['a', 'a', 'b', 'c', 'd', 'a'])
  })
})
