import { NotFoundError, TenantScopeViolationError } from '../../domain/errors.js'
import {
  assertTransition,
  type ClaimedMessage,
  isClaimable,
  type OutboxMessage,
} from '../../domain/outbox-message.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { IdGenerator } from '../../ports/id-generator.js'
import type {
  ClaimOptions,
  OutboxListFilter,
  OutboxRepository,
  SettleCommand,
} from '../../ports/outbox-repository.js'
import {
  channelKey,
  copy,
  idempotencyKeyOf,
  type Journal,
  type MemoryState,
  messageKey,
} from './memory-state.js'

/** (createdAt, id): the order of listing pages. */
const byCreated = (a: OutboxMessage, b: OutboxMessage) =>
  a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
/** (availableAt, id): the order of claims. */
const byAvailable = (a: OutboxMessage, b: OutboxMessage) =>
  a.availableAt.getTime() - b.availableAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

export class MemoryOutboxRepository implements OutboxRepository {
  constructor(
    private readonly state: MemoryState,
    private readonly journal: Journal,
    private readonly ids: IdGenerator,
  ) {}

  async enqueue(
    scope: TenantScope,
    message: OutboxMessage,
  ): Promise<{ message: OutboxMessage; created: boolean }> {
    if (!scope.canAccess(message.infrastructureId, message.businessId)) {
      throw new TenantScopeViolationError(message.infrastructureId, message.businessId)
    }
    if (!this.state.channels.has(channelKey(message.infrastructureId, message.channelId))) {
      throw new NotFoundError('channel', message.channelId)
    }
    if (message.idempotencyKey !== null) {
      const ikey = idempotencyKeyOf(message.infrastructureId, message.businessId, message.idempotencyKey)
      const existing = this.state.idempotency.get(ikey)
      if (existing !== undefined) return { message: copy(this.state.outbox.get(existing)!), created: false }
      this.journal.setIn(this.state.idempotency, ikey, messageKey(message.infrastructureId, message.id))
    }
    this.journal.setIn(this.state.outbox, messageKey(message.infrastructureId, message.id), copy(message))
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
          (after === undefined || byCreated(m, after) > 0),
      )
      .sort(byCreated)
      .slice(0, filter.limit)
      .map(copy)
  }

  async claim(scope: TenantScope, options: ClaimOptions): Promise<ClaimedMessage[]> {
    if (!scope.hasRole('service') || options.limit <= 0) return []
    const due = [...this.state.outbox.values()]
      .filter(
        (m) =>
          (options.infrastructureId === undefined || m.infrastructureId === options.infrastructureId) &&
          scope.canAccess(m.infrastructureId, m.businessId) &&
          isClaimable(m, options.now),
      )
      .sort(byAvailable)
      .slice(0, options.limit)
    const leasedUntil = new Date(options.now.getTime() + options.leaseMs)
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

  async settle(scope: TenantScope, cmd: SettleCommand): Promise<boolean> {
    if (!scope.hasRole('service')) return false
    const key = messageKey(cmd.infrastructureId, cmd.id)
    const m = this.state.outbox.get(key)
    if (!m || !scope.canAccess(m.infrastructureId, m.businessId)) return false
    if (m.status !== 'processing' || m.leaseToken !== cmd.leaseToken) return false
    assertTransition(m.status, cmd.settlement.status)
    const next: OutboxMessage = {
      ...m,
      status: cmd.settlement.status,
      availableAt: cmd.settlement.availableAt,
      lastError: cmd.settlement.lastError,
      settledAt: cmd.settlement.settledAt,
      leaseToken: null,
      leasedUntil: null,
    }
    this.journal.setIn(this.state.outbox, key, next)
    return true
  }
}
