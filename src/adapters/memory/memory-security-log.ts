import { type SecurityEvent, type SecurityRefusal, securityWindowOf } from '../../domain/security-log.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { SecurityLog, SecurityLogFilter } from '../../ports/security-log.js'
import { copy, type Journal, type MemoryState } from './memory-state.js'

const rowKey = (actorId: string, role: string, window: Date, action: string, code: string) =>
  `${actorId}/${role}/${window.getTime()}/${action}/${code}`

export class MemorySecurityLog implements SecurityLog {
  constructor(
    private readonly state: MemoryState,
    private readonly journal: Journal,
  ) {}

  async recordRefusal(scope: TenantScope, r: SecurityRefusal): Promise<void> {
    const windowStart = securityWindowOf(r.at)
    const key = rowKey(scope.userId, scope.role, windowStart, r.action, r.errorCode)
    const row = this.state.security.get(key)
    const last = { lastAt: r.at, lastInfrastructureId: r.infrastructureId, lastBusinessId: r.businessId }
    this.journal.setIn(
      this.state.security,
      key,
      row
        ? { ...row, ...last, refusals: row.refusals + 1 }
        : {
            actorId: scope.userId,
            actorRole: scope.role,
            windowStart,
            action: r.action,
            errorCode: r.errorCode,
            refusals: 1,
            firstAt: r.at,
            ...last,
          },
    )
  }
}

/** The log newest refusal first, as the SQL stores order it (last_at, then the key). */
export function listSecurityEvents(state: MemoryState, filter: SecurityLogFilter): SecurityEvent[] {
  return [...state.security.values()]
    .filter((e) => filter.since === undefined || e.lastAt.getTime() >= filter.since.getTime())
    .filter((e) => filter.actorId === undefined || e.actorId === filter.actorId)
    .sort((a, b) => b.lastAt.getTime() - a.lastAt.getTime() || compareKeys(a, b))
    .slice(0, filter.limit)
    .map(copy)
}

const compareKeys = (a: SecurityEvent, b: SecurityEvent) =>
  rowKey(a.actorId, a.actorRole, a.windowStart, a.action, a.errorCode) <
  rowKey(b.actorId, b.actorRole, b.windowStart, b.action, b.errorCode)
    ? -1
    : 1
