import type { BreakerState } from '../../domain/breaker.js'
import type { BreakerKey, BreakerView } from '../../ports/breaker-repository.js'

/** A breaker that is not closed, as `listOpen` shows it. */
export function breakerViewOf(key: BreakerKey, s: BreakerState): BreakerView {
  return {
    infrastructureId: key.infrastructureId,
    channelId: key.channelId,
    status: s.status === 'half_open' ? 'half_open' : 'open',
    failures: s.failures,
    openedAt: s.openedAt === null ? null : new Date(s.openedAt),
    retryAt: s.retryAt === null ? null : new Date(s.retryAt),
  }
}
