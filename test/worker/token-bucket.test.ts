import { describe, expect, it } from 'vitest'
import { TokenBuckets } from '../../src/worker/token-bucket.js'

describe("token bucket rules (a worker's own buckets; the stores' shared ones share them)", () => {
  it('starts full at the burst, then refills at the rate and never beyond the burst', () => {
    let now = 1_000_000
    const b = new TokenBuckets(() => now)
    const limit = { perSecond: 10, burst: 3 }
    expect([b.take('c', limit), b.take('c', limit), b.take('c', limit)]).toEqual([0, 0, 0])
    // Empty: the next token is 1/10 s away.
    expect(b.take('c', limit)).toBe(100)
    now += 50
    expect(b.take('c', limit)).toBe(50)
    now += 50
    expect(b.take('c', limit)).toBe(0)
    // A long idle refills to the burst only.
    now += 60_000
    expect([b.take('c', limit), b.take('c', limit), b.take('c', limit)]).toEqual([0, 0, 0])
    expect(b.take('c', limit)).toBe(100)
  })

  it('defaults the burst to one second of tokens, and keeps channels apart', () => {
    const now = 5_000
    const b = new TokenBuckets(() => now)
    const limit = { perSecond: 2.5 }
    expect([b.take('a', limit), b.take('a', limit), b.take('a', limit)]).toEqual([0, 0, 0])
    expect(b.take('a', limit)).toBe(400)
    expect(b.take('b', limit)).toBe(0)
  })

  it('gives no token before a Retry-After, then one, refilling from there; a shorter one does not shorten it', () => {
    let now = 0
    const b = new TokenBuckets(() => now)
    const limit = { perSecond: 10, burst: 5 }
    expect(b.take('c', limit)).toBe(0)
    b.defer('c', 3000)
    b.defer('c', 1000)
    expect(b.take('c', limit)).toBe(3000)
    now += 2999
    expect(b.take('c', limit)).toBe(1)
    now += 1
    expect(b.take('c', limit)).toBe(0)
    expect(b.take('c', limit)).toBe(100)
  })
})
