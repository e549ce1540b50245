/**
 * The tenant attribute of a metric, bounded: the first `max` tenants a process sees keep
 * their own series, every later one is counted under `OTHER_TENANTS`. A metric backend's
 * cost grows with its series (each tenant multiplies the outcomes and states), so a fleet
 * serving 10,000 tenants must not emit 10,000 x 4 series per instrument. 100 by default:
 * a few thousand series per process at most (docs/live.md).
 */
export const DEFAULT_MAX_TENANT_LABELS = 100
export const OTHER_TENANTS = '_other'

export class TenantLabels {
  private readonly known = new Set<string>()

  constructor(private readonly max: number = DEFAULT_MAX_TENANT_LABELS) {}

  label(infrastructureId: string): string {
    if (this.known.has(infrastructureId)) return infrastructureId
    if (this.known.size >= this.max) return OTHER_TENANTS
    this.known.add(infrastructureId)
    return infrastructureId
  }
}
