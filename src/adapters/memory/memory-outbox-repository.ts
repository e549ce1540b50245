import type { DeliveryAttempt, QueueCounts } from '../../domain/delivery.js'
import { NotFoundError } from '../../domain/errors.js'
import {
  assertTransition,
  type ClaimedMessage,
  isCancellable,
  isClaimable,
  type OutboxMessage,
} from '../../domain/outbox-message.js'
import {
  addCounts,
  emptyMinute,
  type MinuteDelta,
  minuteOf,
  transitionDelta,
} from '../../domain/queue-history.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { Clock } from '../../ports/clock.js'
import type { IdGenerator } from '../../ports/id-generator.js'
import type {
  CancelCommand,
  CancelResult,
  CancelTarget,
  ClaimOptions,
  CompleteCommand,
  EnqueueCommand,
  EnqueueOutcome,
  LeaseCommand,
  OutboxListFilter,
  OutboxRepository,
  ProviderMessageRef,
  ReceiptCommand,
  RescheduleCommand,
  RetainCommand,
  SettleCommand,
} from '../../ports/outbox-repository.js'
import { enqueueBatch } from '../shared/enqueue-batch.js'
import { FAILED_ATTEMPT } from '../shared/minute-tally.js'
import { storableAttempt, storableSettlement } from '../shared/storable-text.js'
import { MemoryAuditLog } from './memory-audit-log.js'
import { MemoryChannelRepository } from './memory-channel-repository.js'
import {
  channelKey,
  copy,
  idempotencyKeyOf,
  type Journal,
  type MemoryState,
  messageKey,
  queueMinuteKey,
} from './memory-state.js'

/** (createdAt, id): the order of listing pages. */
const byCreated = (a: OutboxMessage, b: OutboxMessage) =>
  a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
/** (availableAt, id): the order of tenants' heads. */
const byAvailable = (a: OutboxMessage, b: OutboxMessage) =>
  a.availableAt.getTime() - b.availableAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
/** (priority, availableAt, id): the order within a tenant's queue. */
const RANK: Readonly<Record<OutboxMessage['priority'], number>> = { high: 0, normal: 1, low: 2 }
const byClaimOrder = (a: OutboxMessage, b: OutboxMessage) =>
  RANK[a.priority] - RANK[b.priority] || byAvailable(a, b)

/** Whether `m` is one of the messages `target` names (its infrastructure already matched). */
function named(m: OutboxMessage, target: CancelTarget): boolean {
  if ('messageId' in target) return m.id === target.messageId
  if ('notificationId' in target) return m.notification?.id === target.notificationId
  return m.idempotencyKey === target.idempotencyKey && m.businessId === target.businessId
}

/** The outbox in memory. Time is the injected clock's: the store's own, as a database's would be. */
export class MemoryOutboxRepository implements OutboxRepository {
  constructor(
    private readonly state: MemoryState,
    private readonly journal: Journal,
    private readonly ids: IdGenerator,
    private readonly clock: Clock,
  ) {}

  enqueueMany(scope: TenantScope, commands: readonly EnqueueCommand[]): Promise<EnqueueOutcome[]> {
    return enqueueBatch(
      {
        now: () => this.clock.now(),
        channels: new MemoryChannelRepository(this.state, this.journal),
        audit: new MemoryAuditLog(this.state, this.journal),
        insert: async (_scope, message) => this.insert(message),
      },
      scope,
      commands,
    )
  }

  /** One message, idempotent on its key (the unique index of the SQL stores). */
  private insert(message: OutboxMessage): EnqueueOutcome {
    if (!this.state.channels.has(channelKey(message.infrastructureId, message.channelId))) {
      throw new NotFoundError('channel', message.channelId)
    }
    if (message.idempotencyKey !== null) {
      const ikey = idempotencyKeyOf(message.infrastructureId, message.businessId, message.idempotencyKey)
      const existing = this.state.idempotency.get(ikey)
      if (existing !== undefined) return { message: copy(this.state.outbox.get(existing)!), created: false }
      this.journal.setIn(this.state.idempotency, ikey, messageKey(message.infrastructureId, message.id))
    }
    const key = messageKey(message.infrastructureId, message.id)
    if (message.orderingKey !== null)
      this.journal.setIn(this.state.orderingSeq, key, this.state.drawOrderingSeq())
    this.journal.setIn(this.state.outbox, key, copy(message))
    this.count(message.infrastructureId, transitionDelta(null, message.status))
    return { message: copy(message), created: true }
  }

  async findById(scope: TenantScope, infrastructureId: string, id: string): Promise<OutboxMessage | null> {
    const m = this.state.outbox.get(messageKey(infrastructureId, id))
    return m && scope.canAccess(m.infrastructureId, m.businessId) ? copy(m) : null
  }

  async list(scope: TenantScope, filter: OutboxListFilter): Promise<OutboxMessage[]> {
    let after: OutboxMessage | undefined
    if (filter.after !== undefined) {
      after = this.state.outbox.get(messageKey(filter.infrastructureId, filter.after))
      if (!after || !scope.canAccess(after.infrastructureId, after.businessId)) return []
    }
    return [...this.state.outbox.values()]
      .filter(
        (m) =>
          m.infrastructureId === filter.infrastructureId &&
          scope.canAccess(m.infrastructureId, m.businessId) &&
          (filter.businessId === undefined || m.businessId === filter.businessId) &&
          (filter.channelId === undefined || m.channelId === filter.channelId) &&
          (filter.status === undefined || m.status === filter.status) &&
          (filter.recipient === undefined ||
            m.recipients?.includes(filter.recipient) === true ||
            m.notification?.userId === filter.recipient) &&
          (after === undefined || byCreated(m, after) > 0),
      )
      .sort(byCreated)
      .slice(0, filter.limit)
      .map(copy)
  }

  async claim(scope: TenantScope, options: ClaimOptions): Promise<ClaimedMessage[]> {
    if (!scope.hasRole('service') || options.limit <= 0) return []
    const now = this.clock.now()
    const excluded = new Set(options.excludeInfrastructureIds ?? [])
    const perTenant = new Map<string, OutboxMessage[]>()
    let turns: Map<string, { first: number; held: boolean }> | undefined
    for (const m of this.state.outbox.values()) {
      if (options.infrastructureId !== undefined && m.infrastructureId !== options.infrastructureId) continue
      if (excluded.has(m.infrastructureId) || !scope.canAccess(m.infrastructureId, m.businessId)) continue
      if (!isClaimable(m, now)) continue
      if (m.orderingKey !== null) {
        turns ??= this.keyTurns(scope, now)
        const turn = turns.get(`${m.infrastructureId}/${m.businessId ?? ''}/${m.orderingKey}`)!
        if (turn.held || turn.first !== this.state.orderingSeq.get(messageKey(m.infrastructureId, m.id)))
          continue
      }
      const list = perTenant.get(m.infrastructureId)
      if (list) list.push(m)
      else perTenant.set(m.infrastructureId, [m])
    }
    // Fair between tenants: round robin over the tenants with due messages, each tenant's
    // highest priority then oldest first, tenants ordered by their heads' due times; a
    // backlog in one, of whatever priority, never starves the rest.
    const queues = [...perTenant.values()]
      .map((q) => q.sort(byClaimOrder))
      .sort((a, b) => byAvailable(a[0]!, b[0]!))
    const due: OutboxMessage[] = []
    for (let round = 0; due.length < options.limit; round++) {
      let took = false
      if (options.perTenantLimit !== undefined && round >= options.perTenantLimit) break
      for (const q of queues) {
        if (round < q.length && due.length < options.limit) {
          due.push(q[round]!)
          took = true
        }
      }
      if (!took) break
    }
    const leasedUntil = new Date(now.getTime() + options.leaseMs)
    return due.map((m) => {
      assertTransition(m.status, 'processing')
      const claimed: ClaimedMessage = {
        ...m,
        status: 'processing',
        attempts: m.attempts + 1,
        leaseToken: this.ids.next(),
        leasedUntil,
      }
      this.journal.setIn(this.state.outbox, messageKey(m.infrastructureId, m.id), claimed)
      return copy(claimed)
    })
  }

  /**
   * Each ordering key's turn, as the SQL stores' claims decide it: a keyed message goes when
   * it is the first (in enqueue order) of its tenant (infrastructure and business) and key that is pending or processing,
   * or failed or dead on a channel whose config does not say `orderingOnDead: 'skip'`, and
   * none of the key is held under a live lease. Blockers are read within the scope, as the
   * SQL stores read them. One pass over the outbox per claim.
   */
  private keyTurns(scope: TenantScope, now: Date): Map<string, { first: number; held: boolean }> {
    const turns = new Map<string, { first: number; held: boolean }>()
    for (const [key, b] of this.state.outbox) {
      if (b.orderingKey === null || !scope.canAccess(b.infrastructureId, b.businessId)) continue
      const blocks =
        b.status === 'pending' ||
        b.status === 'processing' ||
        ((b.status === 'failed' || b.status === 'dead') && this.holdsOnDead(b))
      if (!blocks) continue
      const k = `${b.infrastructureId}/${b.businessId ?? ''}/${b.orderingKey}`
      const seq = this.state.orderingSeq.get(key)!
      const held = b.status === 'processing' && b.leasedUntil!.getTime() > now.getTime()
      const turn = turns.get(k)
      if (!turn) turns.set(k, { first: seq, held })
      else turns.set(k, { first: Math.min(turn.first, seq), held: turn.held || held })
    }
    return turns
  }

  /** Whether a dead or failed message holds its key: unless its channel says `orderingOnDead: 'skip'`. */
  private holdsOnDead(m: OutboxMessage): boolean {
    const channel = this.state.channels.get(channelKey(m.infrastructureId, m.channelId))
    return channel?.config.orderingOnDead !== 'skip'
  }

  async settle(scope: TenantScope, cmd: SettleCommand): Promise<boolean> {
    if (!scope.hasRole('service')) return false
    const key = messageKey(cmd.infrastructureId, cmd.id)
    const m = this.state.outbox.get(key)
    if (!m || !scope.canAccess(m.infrastructureId, m.businessId)) return false
    if (m.status !== 'processing' || m.leaseToken !== cmd.leaseToken) return false
    const s = storableSettlement(cmd.settlement)
    assertTransition(m.status, s.status)
    const now = this.clock.now()
    const next: OutboxMessage = {
      ...m,
      status: s.status,
      availableAt: s.status === 'pending' ? new Date(now.getTime() + s.retryAfterMs) : m.availableAt,
      lastError: s.lastError,
      settledAt: s.status === 'pending' ? null : now,
      leaseToken: null,
      leasedUntil: null,
    }
    this.journal.setIn(this.state.outbox, key, next)
    this.count(m.infrastructureId, transitionDelta(m.status, next.status))
    return true
  }

  /** The held message, when `cmd` still holds it for a service scope. */
  private held(scope: TenantScope, cmd: LeaseCommand): OutboxMessage | null {
    if (!scope.hasRole('service')) return null
    const m = this.state.outbox.get(messageKey(cmd.infrastructureId, cmd.id))
    if (!m || !scope.canAccess(m.infrastructureId, m.businessId)) return null
    return m.status === 'processing' && m.leaseToken === cmd.leaseToken ? m : null
  }

  async renew(scope: TenantScope, cmd: LeaseCommand & { leaseMs: number }): Promise<boolean> {
    const m = this.held(scope, cmd)
    if (!m) return false
    this.journal.setIn(this.state.outbox, messageKey(m.infrastructureId, m.id), {
      ...m,
      leasedUntil: new Date(this.clock.now().getTime() + cmd.leaseMs),
    })
    return true
  }

  async release(scope: TenantScope, cmd: LeaseCommand & { delayMs: number }): Promise<boolean> {
    const m = this.held(scope, cmd)
    if (!m) return false
    assertTransition(m.status, 'pending')
    this.journal.setIn(this.state.outbox, messageKey(m.infrastructureId, m.id), {
      ...m,
      status: 'pending',
      attempts: Math.max(0, m.attempts - 1),
      availableAt: new Date(this.clock.now().getTime() + Math.max(0, cmd.delayMs)),
      leaseToken: null,
      leasedUntil: null,
    })
    return true
  }

  async retainMany(scope: TenantScope, items: readonly RetainCommand[]): Promise<boolean[]> {
    const held: boolean[] = []
    for (const item of items) {
      const ok = scope.hasRole('service') && (await this.renew(scope, item.lease))
      if (ok) this.recordAttempt(item.attempt)
      held.push(ok)
    }
    return held
  }

  async completeMany(scope: TenantScope, items: readonly CompleteCommand[]): Promise<boolean[]> {
    // One unit of work holds them all; each is fenced on its own, as `settle`.
    const done: boolean[] = []
    for (const item of items) {
      const ok = await this.settle(scope, item.settle)
      if (ok) this.recordAttempt(item.attempt)
      done.push(ok)
    }
    return done
  }

  /** Appends the record of one attempt of a message the settle just matched (so in scope, for `service`). */
  private recordAttempt(attempt: DeliveryAttempt): void {
    const key = messageKey(attempt.infrastructureId, attempt.messageId)
    const list = this.state.attempts.get(key) ?? []
    this.journal.setIn(this.state.attempts, key, [...list, storableAttempt(copy(attempt))])
    if (attempt.outcome !== 'delivered') {
      this.count(attempt.infrastructureId, FAILED_ATTEMPT)
    }
  }

  /** Adds a change to its tenant's current minute (the rollup of domain/queue-history.ts), in the unit's undo log. */
  private count(infrastructureId: string, delta: MinuteDelta | null): void {
    if (delta === null) return
    const minute = minuteOf(this.clock.now())
    const key = queueMinuteKey(infrastructureId, minute)
    this.journal.setIn(
      this.state.queueMinutes,
      key,
      addCounts(this.state.queueMinutes.get(key) ?? emptyMinute(minute), delta),
    )
  }

  async listAttempts(
    scope: TenantScope,
    infrastructureId: string,
    messageId: string,
  ): Promise<DeliveryAttempt[]> {
    const key = messageKey(infrastructureId, messageId)
    const m = this.state.outbox.get(key)
    if (!m || !scope.canAccess(m.infrastructureId, m.businessId)) return []
    return (this.state.attempts.get(key) ?? []).map(copy)
  }

  async redrive(
    scope: TenantScope,
    cmd: { infrastructureId: string; id: string },
  ): Promise<OutboxMessage | null> {
    if (!scope.hasRole('service', 'infra_admin')) return null
    const key = messageKey(cmd.infrastructureId, cmd.id)
    const m = this.state.outbox.get(key)
    if (!m || !scope.canAccess(m.infrastructureId, m.businessId)) return null
    if (m.status !== 'dead' && m.status !== 'failed') return null
    assertTransition(m.status, 'pending')
    const next: OutboxMessage = {
      ...m,
      status: 'pending',
      attempts: 0,
      availableAt: this.clock.now(),
      settledAt: null,
    }
    this.journal.setIn(this.state.outbox, key, next)
    this.count(m.infrastructureId, transitionDelta(m.status, next.status))
    return copy(next)
  }

  async cancel(scope: TenantScope, cmd: CancelCommand): Promise<CancelResult> {
    if (!scope.hasRole('service', 'infra_admin')) return { cancelled: [], kept: [] }
    const now = this.clock.now()
    const result: { cancelled: OutboxMessage[]; kept: OutboxMessage[] } = { cancelled: [], kept: [] }
    const messages = [...this.state.outbox.values()]
      .filter(
        (m) =>
          m.infrastructureId === cmd.infrastructureId &&
          scope.canAccess(m.infrastructureId, m.businessId) &&
          named(m, cmd.target),
      )
      .sort(byCreated)
    for (const m of messages) {
      if (!isCancellable(m, now)) {
        result.kept.push(copy(m))
        continue
      }
      assertTransition(m.status, 'cancelled')
      const next: OutboxMessage = {
        ...m,
        status: 'cancelled',
        leaseToken: null,
        leasedUntil: null,
        settledAt: now,
      }
      this.journal.setIn(this.state.outbox, messageKey(m.infrastructureId, m.id), next)
      this.count(m.infrastructureId, transitionDelta(m.status, next.status))
      result.cancelled.push(copy(next))
    }
    return result
  }

  async reschedule(scope: TenantScope, cmd: RescheduleCommand): Promise<OutboxMessage | null> {
    if (!scope.hasRole('service', 'infra_admin')) return null
    const key = messageKey(cmd.infrastructureId, cmd.id)
    const m = this.state.outbox.get(key)
    if (!m || !scope.canAccess(m.infrastructureId, m.businessId) || m.status !== 'pending') return null
    const now = this.clock.now().getTime()
    const availableAt = 'at' in cmd.due ? cmd.due.at : new Date(now + Math.max(0, cmd.due.afterMs))
    const next: OutboxMessage = { ...m, availableAt: new Date(availableAt.getTime()) }
    this.journal.setIn(this.state.outbox, key, next)
    return copy(next)
  }

  async findByProviderMessageId(scope: TenantScope, ref: ProviderMessageRef): Promise<OutboxMessage | null> {
    if (!scope.hasRole('service')) return null
    let found: OutboxMessage | null = null
    for (const [key, attempts] of this.state.attempts) {
      if (!attempts.some((a) => a.outcome === 'delivered' && a.providerMessageId === ref.providerMessageId))
        continue
      const m = this.state.outbox.get(key)
      if (!m || m.infrastructureId !== ref.infrastructureId || m.channelId !== ref.channelId) continue
      if (!scope.canAccess(m.infrastructureId, m.businessId)) continue
      if (!found || byCreated(found, m) < 0) found = m
    }
    return found ? copy(found) : null
  }

  async applyReceipt(scope: TenantScope, cmd: ReceiptCommand): Promise<OutboxMessage | null> {
    if (!scope.hasRole('service')) return null
    const key = messageKey(cmd.infrastructureId, cmd.id)
    const m = this.state.outbox.get(key)
    if (!m || !scope.canAccess(m.infrastructureId, m.businessId) || m.status !== 'processed') return null
    assertTransition(m.status, cmd.status)
    const next: OutboxMessage = { ...m, status: cmd.status }
    this.journal.setIn(this.state.outbox, key, next)
    return copy(next)
  }

  async stats(scope: TenantScope, filter: { infrastructureId?: string }): Promise<QueueCounts[]> {
    const now = this.clock.now().getTime()
    const rows = new Map<string, { -readonly [K in keyof QueueCounts]: QueueCounts[K] }>()
    for (const m of this.state.outbox.values()) {
      if (filter.infrastructureId !== undefined && m.infrastructureId !== filter.infrastructureId) continue
      if (!scope.canAccess(m.infrastructureId, m.businessId)) continue
      const k = `${m.infrastructureId}/${m.channelId}`
      let row = rows.get(k)
      if (!row) {
        row = {
          infrastructureId: m.infrastructureId,
          channelId: m.channelId,
          pending: 0,
          inFlight: 0,
          processed: 0,
          failed: 0,
          dead: 0,
          cancelled: 0,
          confirmed: 0,
          bounced: 0,
          oldestPendingAgeMs: null,
        }
        rows.set(k, row)
      }
      if (m.status === 'processing') row.inFlight++
      else row[m.status]++
      if (m.status === 'pending' && m.availableAt.getTime() <= now) {
        const age = now - m.availableAt.getTime()
        row.oldestPendingAgeMs = Math.max(row.oldestPendingAgeMs ?? 0, age)
      }
    }
    return [...rows.values()].sort((a, b) =>
      a.infrastructureId === b.infrastructureId
        ? a.channelId < b.channelId
          ? -1
          : 1
        : a.infrastructureId < b.infrastructureId
          ? -1
          : 1,
    )
  }
}
