import { describe, expect, it } from 'vitest'
import { backoffMs, DEFAULT_RETRY_POLICY } from '../../src/domain/delivery.js'

const policy = { baseMs: 1000, maxMs: 60_000 }
/** The upper bound `random() -> 1` reaches (a hair under 1: Math.random never returns 1). */
const top = () => 0.999_999_999

describe('backoff: exponential with full jitter', () => {
  it('doubles the cap with each attempt: base, 2 base, 4 base, ...', () => {
    const caps = [1, 2, 3, 4, 5, 6].map((attempt) => backoffMs(attempt, policy, top))
    expect(caps).toEqual([999, 1999, 3999, 7999, 15_999, 31_999])
  })

  it('draws uniformly from zero to the cap (full jitter), not from around it', () => {
    expect(backoffMs(4, policy, () => 0)).toBe(0)
    expect(backoffMs(4, policy, () => 0.25)).toBe(2000)
    expect(backoffMs(4, policy, () => 0.5)).toBe(4000)
    expect(backoffMs(4, policy, () => 0.75)).toBe(6000)
    // Over many draws the mean sits at half the cap.
    let seed = 42
    const lcg = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
      return seed / 2 ** 31
    }
    const draws = Array.from({ length: 20_000 }, () => backoffMs(4, policy, lcg))
    const mean = draws.reduce((a, b) => a + b, 0) / draws.length
    expect(mean).toBeGreaterThan(3800)
    expect(mean).toBeLessThan(4200)
    expect(Math.min(...draws)).toBeLessThan(100)
    expect(Math.max(...draws)).toBeGreaterThan(7900)
  })

  it('never waits longer than maxMs nor less than zero, at any attempt number', () => {
    for (const attempt of [0, 1, 7, 30, 64, 1000, Number.MAX_SAFE_INTEGER]) {
      for (const r of [0, 0.5, top()]) {
        const ms = backoffMs(attempt, policy, () => r)
        expect(ms, `attempt ${attempt}`).toBeGreaterThanOrEqual(0)
        expect(ms, `attempt ${attempt}`).toBeLessThan(policy.maxMs)
        expect(Number.isInteger(ms)).toBe(true)
      }
    }
    expect(backoffMs(30, policy, top)).toBe(59_999)
    // The defaults: a second, then doubling up to ten minutes.
    expect(backoffMs(1, DEFAULT_RETRY_POLICY, top)).toBe(999)
    expect(backoffMs(50, DEFAULT_RETRY_POLICY, top)).toBe(599_999)
  })

  it("takes a provider's Retry-After as the floor, even past maxMs, capped at a day", () => {
    expect(backoffMs(1, policy, () => 0, 5000)).toBe(5000)
    expect(backoffMs(6, policy, () => 0.5, 5000)).toBe(16_000)
    expect(backoffMs(1, policy, () => 0, 120_000)).toBe(120_000)
    expect(backoffMs(1, policy, () => 0, 30 * 24 * 3_600_000)).toBe(24 * 3_600_000)
    expect(backoffMs(1, policy, () => 0, 0)).toBe(0)
  })
})
