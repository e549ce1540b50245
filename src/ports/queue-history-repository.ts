import type { QueueMinute } from '../domain/queue-history.js'
import type { TenantScope } from '../domain/tenant-scope.js'

/**
 * The per-minute rollup of a tenant's queue (domain/queue-history.ts). The counters are
 * kept by the outbox's own writes, in the same unit of work, on every store; this port
 * only reads them.
 */
export interface QueueHistoryRepository {
  /**
   * The last `minutes` minutes of one infrastructure up to and including the store's
   * current minute (its clock: PostgreSQL the database's), oldest first, one entry per
   * minute. Needs role `infra_admin` or `service` and an infrastructure-wide grant (the
   * figures cover every business of the infrastructure); otherwise every figure reads zero (the store shows nothing it would not let the caller
   * read).
   */
  minutes(scope: TenantScope, infrastructureId: string, minutes: number): Promise<QueueMinute[]>
}
