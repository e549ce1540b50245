import type { TenantScope } from '../../domain/tenant-scope.js'
import { type IdGenerator, randomIds } from '../../ports/id-generator.js'
import type { MessagingStorage, Repositories, UnitOfWork } from '../../ports/unit-of-work.js'
import { MemoryAuditLog } from './memory-audit-log.js'
import { MemoryChannelRepository } from './memory-channel-repository.js'
import { MemoryMembershipRepository } from './memory-membership-repository.js'
import { MemoryOutboxRepository } from './memory-outbox-repository.js'
import { Journal, MemoryState } from './memory-state.js'

export interface MemoryStorageOptions {
  /** Mints lease tokens. */
  readonly ids?: IdGenerator
}

/**
 * Units of work run one at a time (a promise chain), each with an undo log: the same
 * isolation a serialisable database gives, which is what makes a pass here mean something.
 */
class MemoryUnitOfWork implements UnitOfWork {
  private tail: Promise<unknown> = Promise.resolve()

  constructor(
    private readonly state: MemoryState,
    private readonly ids: IdGenerator,
    private readonly isClosed: () => boolean,
  ) {}

  run<T>(_scope: TenantScope, work: (repos: Repositories) => Promise<T>): Promise<T> {
    const result = this.tail.then(async () => {
      if (this.isClosed()) throw new Error('memory storage is closed')
      const journal = new Journal()
      const repos: Repositories = {
        channels: new MemoryChannelRepository(this.state, journal),
        members: new MemoryMembershipRepository(this.state, journal),
        outbox: new MemoryOutboxRepository(this.state, journal, this.ids),
        audit: new MemoryAuditLog(this.state, journal),
      }
      try {
        return await work(repos)
      } catch (e) {
        journal.rollback()
        throw e
      }
    })
    this.tail = result.catch(() => undefined)
    return result
  }
}

/**
 * The in-memory store: the reference implementation of every port, for tests and trials.
 * Same unique keys, scope rules, leases and idempotency as the SQL adapters.
 *
 * @example
 * import { createMemoryStorage } from 'messaging/memory'
 * const messaging = createMessaging({ storage: createMemoryStorage() })
 */
export function createMemoryStorage(options: MemoryStorageOptions = {}): MessagingStorage {
  const state = new MemoryState()
  let closed = false
  return {
    name: 'memory',
    unitOfWork: new MemoryUnitOfWork(state, options.ids ?? randomIds, () => closed),
    async close() {
      closed = true
    },
  }
}
