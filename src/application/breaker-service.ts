import {
  admit,
  type BreakerPolicy,
  type BreakerResult,
  type BreakerState,
  type BreakerTransition,
  recordResult,
} from '../domain/breaker.js'
import type { JsonValue } from '../domain/outbox-message.js'
import { assertRole, assertTenantScope, type TenantScope } from '../domain/tenant-scope.js'
import type { BreakerKey, BreakerView } from '../ports/breaker-repository.js'
import type { Repositories } from '../ports/unit-of-work.js'
import { auditEntry, type ServiceContext } from './context.js'

/** What a delivery may do now: go, go as the one probe of a half-open breaker, or wait `waitMs`. */
export type BreakerGate =
  /** `clean`: closed with no failure counted, so a success would change nothing. */
  | { readonly decision: 'go'; readonly clean: boolean }
  | { readonly decision: 'probe' }
  | { readonly decision: 'wait'; readonly waitMs: number }

/** A breaker's change after an attempt, with the state it changed to (null: none). */
export interface BreakerChange {
  readonly transition: BreakerTransition
  readonly state: BreakerState
  /** The store's now when it changed (epoch ms of the store's clock). */
  readonly at: number
}

const AUDIT_ACTION: Record<BreakerTransition, string> = {
  opened: 'channel.breaker_open',
  reopened: 'channel.breaker_open',
  closed: 'channel.breaker_close',
}

/**
 * The channels' circuit breakers, shared by every worker of the store: whether a delivery
 * may go, and what an attempt's result does to the breaker. A plain delivery reads the row
 * (nothing written); a failure or a transition locks it, decides and writes in one unit of
 * work, with an audit entry naming the channel when it opens or closes.
 */
export class BreakerService {
  constructor(private readonly ctx: ServiceContext) {}

  /** Whether a delivery on the channel may go now. `service` only. */
  async admit(scope: TenantScope, key: BreakerKey, policy: BreakerPolicy): Promise<BreakerGate> {
    this.assertWorker(scope, key)
    const seen = await this.ctx.uow.run(scope, (r) => r.breakers.read(scope, key))
    const first = admit(seen.state, seen.now, policy)
    if (first.decision === 'go') return { decision: 'go', clean: (seen.state?.failures ?? 0) === 0 }
    if (first.decision === 'wait') return first
    // Past the cool-down: decide again under the lock, so only one worker becomes the probe.
    return this.ctx.uow.run(scope, async (r) => {
      const locked = await r.breakers.lock(scope, key)
      const decided = admit(locked.state, locked.now, policy)
      if (decided.decision !== 'probe')
        return decided.decision === 'go' ? { decision: 'go', clean: false } : decided
      await r.breakers.save(scope, key, decided.next)
      return { decision: 'probe' }
    })
  }

  /**
   * Counts an attempt's result (a success, or a failure of the endpoint); returns the
   * transition it caused, if any. A success on a closed breaker with no failures writes
   * nothing. `service` only.
   */
  async record(
    scope: TenantScope,
    key: BreakerKey,
    policy: BreakerPolicy,
    result: BreakerResult,
  ): Promise<BreakerChange | null> {
    this.assertWorker(scope, key)
    if (result === 'success') {
      const seen = await this.ctx.uow.run(scope, (r) => r.breakers.read(scope, key))
      if (recordResult(seen.state, result, seen.now, policy).next === null) return null
    }
    return this.ctx.uow.run(scope, async (r) => {
      const locked = await r.breakers.lock(scope, key)
      const { next, transition } = recordResult(locked.state, result, locked.now, policy)
      if (next === null) return null
      await r.breakers.save(scope, key, next)
      if (transition === null) return null
      await this.audit(r, scope, key, transition, next)
      return { transition, state: next, at: locked.now }
    })
  }

  /** A tenant's breakers that are open or half open: any role with a grant for it. */
  listOpen(scope: TenantScope, infrastructureId: string): Promise<BreakerView[]> {
    assertTenantScope(scope, infrastructureId)
    return this.ctx.uow.run(scope, (r) => r.breakers.listOpen(scope, infrastructureId))
  }

  private assertWorker(scope: TenantScope, key: BreakerKey): void {
    assertRole(scope, 'channel.breaker', 'service')
    assertTenantScope(scope, key.infrastructureId)
  }

  private audit(
    r: Repositories,
    scope: TenantScope,
    key: BreakerKey,
    transition: BreakerTransition,
    state: BreakerState,
  ): Promise<void> {
    const details: { [key: string]: JsonValue } =
      transition === 'closed'
        ? { status: 'closed' }
        : {
            status: 'open',
            reopened: transition === 'reopened',
            failures: state.failures,
            retryAt: state.retryAt === null ? null : new Date(state.retryAt).toISOString(),
          }
    const entry = auditEntry(this.ctx, scope, {
      infrastructureId: key.infrastructureId,
      action: AUDIT_ACTION[transition],
      targetType: 'channel',
      targetId: key.channelId,
      details,
    })
    return r.audit.append(scope, entry)
  }
}
