import { metrics } from '@opentelemetry/api'
import type { ChannelStats } from '../domain/delivery.js'
import type { Principal } from '../domain/tenant-scope.js'
import type { Messaging } from '../messaging.js'
import { QUEUE_STATES, tenantQueues } from './queue-series.js'

export interface QueueMetricsOptions {
  /** Tenants with a series of their own; the rest are summed under `_other`. Default 100. */
  readonly maxTenantLabels?: number
}

/**
 * Registers the queue's observable gauges with the host's OpenTelemetry meter provider
 * (through `@opentelemetry/api`: without an SDK nothing is registered and the store is
 * never read): `messaging.queue.depth` by tenant and state, `messaging.queue.oldest_pending_age`
 * (seconds), `messaging.queue.dead` and `messaging.queue.digested` by tenant, read from the store's stats (one query)
 * at each collection, within what `principal` may see. Call it once per process that
 * should report the queue (one is enough: every process reads the same store). Returns
 * the unregister.
 *
 * @example
 * const stop = observeQueueMetrics(messaging, servicePrincipal)
 */
export function observeQueueMetrics(
  messaging: Pick<Messaging, 'stats'>,
  principal: Principal,
  options: QueueMetricsOptions = {},
): () => void {
  const meter = metrics.getMeter('messaging')
  const depth = meter.createObservableGauge('messaging.queue.depth', {
    description: 'Messages in the outbox by tenant and state.',
    unit: '{message}',
  })
  const age = meter.createObservableGauge('messaging.queue.oldest_pending_age', {
    description: 'Age of the oldest due pending message by tenant (0 when none is due), by the store clock.',
    unit: 's',
  })
  const dead = meter.createObservableGauge('messaging.queue.dead', {
    description: 'Dead messages by tenant, until redriven or pruned.',
    unit: '{message}',
  })
  const digested = meter.createObservableGauge('messaging.queue.digested', {
    description: 'Messages held in digests not yet closed by tenant.',
    unit: '{message}',
  })
  const callback = async (result: {
    observe(instrument: typeof depth, value: number, attributes: Record<string, string>): void
  }) => {
    let stats: ChannelStats[]
    try {
      stats = await messaging.stats(principal)
    } catch {
      // A store that is down reports no sample rather than zeros (an absent series alerts; a zero would hide it).
      return
    }
    for (const q of tenantQueues(stats, options.maxTenantLabels)) {
      const tenant = { 'messaging.infrastructure_id': q.tenant }
      for (const state of QUEUE_STATES) {
        result.observe(depth, q.depth[state], { ...tenant, 'messaging.queue.state': state })
      }
      result.observe(age, q.oldestPendingAgeSeconds ?? 0, tenant)
      result.observe(dead, q.depth.dead, tenant)
      result.observe(digested, q.digested, tenant)
    }
  }
  meter.addBatchObservableCallback(callback, [depth, age, dead, digested])
  return () => meter.removeBatchObservableCallback(callback, [depth, age, dead, digested])
}
