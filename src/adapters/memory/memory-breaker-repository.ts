import type { BreakerState } from '../../domain/breaker.js'
import { TenantScopeViolationError } from '../../domain/errors.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type {
  BreakerKey,
  BreakerReading,
  BreakerRepository,
  BreakerView,
} from '../../ports/breaker-repository.js'
import type { Clock } from '../../ports/clock.js'
import { breakerViewOf } from '../shared/breaker-view.js'
import { assertBucketScope } from '../shared/bucket-scope.js'
import type { Journal, MemoryState } from './memory-state.js'

const keyOf = (k: BreakerKey) => `${k.infrastructureId}/${k.channelId}`

/** Channels' circuit breakers in a map; a unit of work runs alone, so a read and a save are atomic. */
export class MemoryBreakerRepository implements BreakerRepository {
  constructor(
    private readonly state: MemoryState,
    private readonly journal: Journal,
    private readonly clock: Clock,
  ) {}

  async read(scope: TenantScope, key: BreakerKey): Promise<BreakerReading> {
    assertBucketScope(scope, key)
    return { state: this.state.breakers.get(keyOf(key)) ?? null, now: this.clock.now().getTime() }
  }

  lock(scope: TenantScope, key: BreakerKey): Promise<BreakerReading> {
    return this.read(scope, key)
  }

  async save(scope: TenantScope, key: BreakerKey, state: BreakerState): Promise<void> {
    assertBucketScope(scope, key)
    this.journal.setIn(this.state.breakers, keyOf(key), { ...state })
  }

  async listOpen(scope: TenantScope, infrastructureId: string): Promise<BreakerView[]> {
    if (!scope.canAccessInfrastructure(infrastructureId))
      throw new TenantScopeViolationError(infrastructureId)
    const out: BreakerView[] = []
    for (const [k, s] of this.state.breakers) {
      const [infra, channelId] = k.split('/') as [string, string]
      if (infra !== infrastructureId || s.status === 'closed') continue
      out.push(breakerViewOf({ infrastructureId: infra, channelId }, s))
    }
    return out.sort(byOpened)
  }
}

export const byOpened = (a: BreakerView, b: BreakerView) =>
  (a.openedAt?.getTime() ?? 0) - (b.openedAt?.getTime() ?? 0) || a.channelId.localeCompare(b.channelId)
