import type { TenantQueue } from './queue-series.js'
import { QUEUE_STATES } from './queue-series.js'

/** The Prometheus text exposition format, version 0.0.4 (what every Prometheus server scrapes). */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

/** A label value escaped as the format asks: backslash, double quote and line feed. */
const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')

/**
 * The queue as Prometheus text: messages by tenant and state, the oldest due pending
 * message's age per tenant, and dead letters per tenant. Every figure is the store's own
 * (the same as `GET /stats`), so any process serving the API answers the same, whichever
 * worker delivered.
 */
export function prometheusText(queues: readonly TenantQueue[]): string {
  const lines: string[] = []
  const family = (name: string, help: string, samples: string[]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, ...samples)
  }
  const tenant = (q: TenantQueue) => `infrastructure_id="${escapeLabel(q.tenant)}"`
  family(
    'messaging_queue_messages',
    'Messages in the outbox by tenant and state (settled ones until retention prunes them).',
    queues.flatMap((q) =>
      QUEUE_STATES.map((s) => `messaging_queue_messages{${tenant(q)},state="${s}"} ${q.depth[s]}`),
    ),
  )
  family(
    'messaging_queue_oldest_pending_age_seconds',
    'Age of the oldest due pending message by tenant, by the store clock; 0 when none is due.',
    queues.map(
      (q) => `messaging_queue_oldest_pending_age_seconds{${tenant(q)}} ${q.oldestPendingAgeSeconds ?? 0}`,
    ),
  )
  family(
    'messaging_dead_letters',
    'Dead messages (out of attempts) by tenant, until redriven or pruned.',
    queues.map((q) => `messaging_dead_letters{${tenant(q)}} ${q.depth.dead}`),
  )
  family(
    'messaging_digested_messages',
    'Messages held in digests not yet closed by tenant: each digest goes out as one delivery when it closes.',
    queues.map((q) => `messaging_digested_messages{${tenant(q)}} ${q.digested}`),
  )
  return `${lines.join('\n')}\n`
}
