import type { RateLimit } from '../../domain/channel.js'
import { deferTo, firstTake, takeOne, waitMs } from '../../domain/rate-bucket.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { Clock } from '../../ports/clock.js'
import type { RateBucketKey, RateBucketRepository } from '../../ports/rate-bucket-repository.js'
import { assertBucketScope } from '../shared/bucket-scope.js'
import type { Journal, MemoryState } from './memory-state.js'

const bucketKey = (k: RateBucketKey) => `${k.infrastructureId}/${k.channelId}`

/** Channels' rate buckets in a map; a unit of work runs alone, so a take is atomic. */
export class MemoryRateBucketRepository implements RateBucketRepository {
  constructor(
    private readonly state: MemoryState,
    private readonly journal: Journal,
    private readonly clock: Clock,
  ) {}

  async take(scope: TenantScope, key: RateBucketKey, limit: RateLimit): Promise<number> {
    assertBucketScope(scope, key)
    const now = this.clock.now().getTime()
    const state = this.state.rateBuckets.get(bucketKey(key))
    const next = state ? takeOne(state, limit, now) : firstTake(limit, now)
    if (!next) return waitMs(state ?? null, limit, now)
    this.journal.setIn(this.state.rateBuckets, bucketKey(key), next)
    return 0
  }

  async defer(scope: TenantScope, key: RateBucketKey, afterMs: number): Promise<void> {
    assertBucketScope(scope, key)
    const until = this.clock.now().getTime() + afterMs
    const state = this.state.rateBuckets.get(bucketKey(key)) ?? null
    this.journal.setIn(this.state.rateBuckets, bucketKey(key), deferTo(state, until))
  }
}
