import type { QuietHoursDefault } from '../../domain/quiet-hours.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { QuietHoursRepository } from '../../ports/quiet-hours-repository.js'
import { assertQuietHoursDefaultWriter } from '../shared/quiet-hours-scope.js'
import { copy, type Journal, type MemoryState } from './memory-state.js'

/** Infrastructures' default quiet hours in a map. */
export class MemoryQuietHoursRepository implements QuietHoursRepository {
  constructor(
    private readonly state: MemoryState,
    private readonly journal: Journal,
  ) {}

  async findDefault(scope: TenantScope, infrastructureId: string): Promise<QuietHoursDefault | null> {
    if (!scope.canAccessInfrastructure(infrastructureId)) return null
    const d = this.state.quietHoursDefaults.get(infrastructureId)
    return d ? copy(d) : null
  }

  async saveDefault(scope: TenantScope, value: QuietHoursDefault): Promise<QuietHoursDefault> {
    assertQuietHoursDefaultWriter(scope, value.infrastructureId)
    this.journal.setIn(this.state.quietHoursDefaults, value.infrastructureId, copy(value))
    return copy(value)
  }

  async removeDefault(scope: TenantScope, infrastructureId: string): Promise<boolean> {
    assertQuietHoursDefaultWriter(scope, infrastructureId)
    if (!this.state.quietHoursDefaults.has(infrastructureId)) return false
    this.journal.deleteIn(this.state.quietHoursDefaults, infrastructureId)
    return true
  }
}
