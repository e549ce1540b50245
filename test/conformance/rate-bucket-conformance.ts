import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type MessagingStorage,
  type RateBucketKey,
  type Repositories,
  TenantScope,
  TenantScopeViolationError,
} from '../../src/index.js'
import { at, scopeOf, tenant, uuid } from '../support/fixtures.js'
import type { StoreClock } from '../support/store-clock.js'
import type { ClockedStorageFactory } from './repository-conformance.js'

/**
 * Per-channel rate buckets, shared by every worker of a store, on every store: refill at
 * the rate, the burst cap, a provider's Retry-After, tenants and channels apart, and no
 * scope taking another tenant's tokens. Times are the store's clock, which the suite moves.
 */
export function describeRateBucketConformance(name: string, factory: ClockedStorageFactory): void {
  describe(`rate bucket conformance: ${name}`, () => {
    let storage: MessagingStorage
    let clock: StoreClock
    beforeAll(async () => {
      ;({ storage, clock } = await factory())
    })
    afterAll(async () => {
      await storage?.close()
    })
    const run = <T>(scope: TenantScope, work: (r: Repositories) => Promise<T>) =>
      storage.unitOfWork.run(scope, work)

    /** A tenant's service scope and a channel of it. */
    function bucket() {
      const t = tenant()
      const scope = scopeOf('service', [[t.infra, null]])
      const key: RateBucketKey = { infrastructureId: t.infra, channelId: uuid() }
      const take = (limit: { perSecond: number; burst?: number }, k = key, s = scope) =>
        run(s, (r) => r.rateBuckets.take(s, k, limit))
      const takes = async (n: number, limit: { perSecond: number; burst?: number }, k = key) => {
        const out: number[] = []
        for (let i = 0; i < n; i++) out.push(await take(limit, k))
        return out
      }
      const defer = (afterMs: number, k = key, s = scope) => run(s, (r) => r.rateBuckets.defer(s, k, afterMs))
      return { t, scope, key, take, takes, defer }
    }

    it('starts full at the burst, refills at the rate by the store clock, and never beyond the burst', async () => {
      const b = bucket()
      const limit = { perSecond: 10, burst: 3 }
      await clock.set(at(0))
      expect(await b.takes(4, limit)).toEqual([0, 0, 0, 100])
      await clock.set(at(30))
      expect(await b.take(limit)).toBe(70)
      await clock.set(at(100))
      expect(await b.takes(2, limit)).toEqual([0, 100])
      // 250 ms: two and a half tokens, two whole ones.
      await clock.set(at(350))
      expect(await b.takes(3, limit)).toEqual([0, 0, 50])
      // A minute idle refills to the burst only.
      await clock.set(at(60_350))
      expect(await b.takes(4, limit)).toEqual([0, 0, 0, 100])
    })

    it('holds one second of tokens when the limit names no burst', async () => {
      const b = bucket()
      await clock.set(at(0))
      expect(await b.takes(4, { perSecond: 2.5 })).toEqual([0, 0, 0, 400])
    })

    it("honours a provider's Retry-After: no token before it, then one, refilling from there", async () => {
      const b = bucket()
      const limit = { perSecond: 10, burst: 5 }
      await clock.set(at(0))
      expect(await b.take(limit)).toBe(0)
      await b.defer(3000)
      // A shorter Retry-After later does not shorten the first.
      await clock.set(at(500))
      await b.defer(1000)
      expect(await b.take(limit)).toBe(2500)
      await clock.set(at(2999))
      expect(await b.take(limit)).toBe(1)
      await clock.set(at(3000))
      expect(await b.takes(2, limit)).toEqual([0, 100])
      // A Retry-After on a channel no worker has taken from yet holds it too.
      const fresh = bucket()
      await fresh.defer(200)
      expect(await fresh.take(limit)).toBe(200)
    })

    it('keeps other channels and other tenants apart', async () => {
      const a = bucket()
      const other = bucket()
      const limit = { perSecond: 1, burst: 1 }
      await clock.set(at(0))
      expect(await a.takes(2, limit)).toEqual([0, 1000])
      const sibling = { infrastructureId: a.key.infrastructureId, channelId: uuid() }
      expect(await a.take(limit, sibling)).toBe(0)
      await a.defer(60_000)
      expect(await other.take(limit)).toBe(0)
      await clock.set(at(1000))
      expect(await a.take(limit, sibling)).toBe(0)
      expect(await a.take(limit)).toBe(59_000)
    })

    it("refuses a scope that does not reach the channel's tenant, taking nothing of its tokens", async () => {
      const victim = bucket()
      const outsider = bucket()
      const limit = { perSecond: 1, burst: 2 }
      await clock.set(at(0))
      await expect(victim.take(limit, victim.key, outsider.scope)).rejects.toBeInstanceOf(
        TenantScopeViolationError,
      )
      await expect(victim.defer(60_000, victim.key, outsider.scope)).rejects.toBeInstanceOf(
        TenantScopeViolationError,
      )
      // Not a service of the tenant either: its own member.
      const member = scopeOf('member', [[victim.t.infra, null]])
      await expect(victim.take(limit, victim.key, member)).rejects.toBeInstanceOf(TenantScopeViolationError)
      // The tenant's own bucket is whole and unheld.
      expect(await victim.takes(3, limit)).toEqual([0, 0, 1000])
    })

    it("gives the fleet worker every tenant's buckets, shared with the tenants' own workers", async () => {
      const b = bucket()
      const fleet = TenantScope.fleet(uuid())
      const limit = { perSecond: 1, burst: 2 }
      await clock.set(at(0))
      expect(await b.take(limit, b.key, fleet)).toBe(0)
      expect(await b.take(limit)).toBe(0)
      expect(await b.take(limit, b.key, fleet)).toBe(1000)
    })

    it('counts no token twice when a take reads an older clock than the last one (transactions racing)', async () => {
      const b = bucket()
      const limit = { perSecond: 10, burst: 2 }
      await clock.set(at(1000))
      expect(await b.takes(2, limit)).toEqual([0, 0])
      // An earlier reading refills nothing (the bucket's time only moves forward)...
      await clock.set(at(900))
      expect(await b.take(limit)).toBe(100)
      // ... and the refill from the last take's time is not counted again.
      await clock.set(at(1100))
      expect(await b.takes(2, limit)).toEqual([0, 100])
    })

    it('never gives one token twice to concurrent takers', async () => {
      const b = bucket()
      await clock.set(at(0))
      const limit = { perSecond: 1, burst: 5 }
      const results = await Promise.all(Array.from({ length: 20 }, () => b.take(limit)))
      expect(results.filter((w) => w === 0)).toHaveLength(5)
      expect(results.filter((w) => w > 0).every((w) => w <= 1000)).toBe(true)
    })
  })
}
