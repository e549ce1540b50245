import { ConflictError, ForbiddenRoleError, TenantScopeViolationError } from '../../domain/errors.js'
import { recipientAccess } from '../../domain/recipient-access.js'
import type { RecipientProfile } from '../../domain/recipient-profile.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { ProfilePatch, ProfileRepository } from '../../ports/profile-repository.js'
import { copy, type Journal, type MemoryState, profileKey } from './memory-state.js'

const byUser = (a: RecipientProfile, b: RecipientProfile) =>
  a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)

export class MemoryProfileRepository implements ProfileRepository {
  constructor(
    private readonly state: MemoryState,
    private readonly journal: Journal,
  ) {}

  private visible(scope: TenantScope, p: RecipientProfile | undefined): p is RecipientProfile {
    return p !== undefined && recipientAccess.seeProfile(scope, p.infrastructureId, p.userId, p.businessId)
  }

  async insert(scope: TenantScope, profile: RecipientProfile): Promise<RecipientProfile> {
    if (!scope.canAccessInfrastructure(profile.infrastructureId))
      throw new TenantScopeViolationError(profile.infrastructureId)
    if (!scope.hasRole('infra_admin'))
      throw new ForbiddenRoleError('profile.insert', ['infra_admin'], scope.role)
    if (!scope.canAccess(profile.infrastructureId, profile.businessId))
      throw new TenantScopeViolationError(profile.infrastructureId, profile.businessId)
    const key = profileKey(profile.infrastructureId, profile.userId)
    if (this.state.profiles.has(key)) throw new ConflictError('profile', profile.userId)
    this.journal.setIn(this.state.profiles, key, copy(profile))
    return copy(profile)
  }

  async update(
    scope: TenantScope,
    infrastructureId: string,
    userId: string,
    patch: ProfilePatch,
  ): Promise<RecipientProfile | null> {
    const key = profileKey(infrastructureId, userId)
    const current = this.state.profiles.get(key)
    if (!current || !recipientAccess.changeProfile(scope, infrastructureId, userId, current.businessId))
      return null
    const next: RecipientProfile = {
      ...current,
      ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)),
    }
    // What the SQL's guard trigger refuses: a non-admin moving a profile or changing its properties.
    if (
      !scope.hasRole('infra_admin') &&
      (next.businessId !== current.businessId || !sameJson(next.properties, current.properties))
    ) {
      throw new ForbiddenRoleError('profile.update of businessId or properties', ['infra_admin'], scope.role)
    }
    // The WITH CHECK of the update policy: the row must stay the writer's.
    if (!recipientAccess.changeProfile(scope, infrastructureId, userId, next.businessId)) {
      throw new TenantScopeViolationError(infrastructureId, next.businessId)
    }
    this.journal.setIn(this.state.profiles, key, copy(next))
    return copy(next)
  }

  async find(scope: TenantScope, infrastructureId: string, userId: string): Promise<RecipientProfile | null> {
    const p = this.state.profiles.get(profileKey(infrastructureId, userId))
    return this.visible(scope, p) ? copy(p) : null
  }

  async findMany(
    scope: TenantScope,
    infrastructureId: string,
    userIds: readonly string[],
  ): Promise<RecipientProfile[]> {
    const out: RecipientProfile[] = []
    for (const userId of new Set(userIds)) {
      const p = this.state.profiles.get(profileKey(infrastructureId, userId))
      if (this.visible(scope, p)) out.push(copy(p))
    }
    return out
  }

  async list(
    scope: TenantScope,
    filter: { infrastructureId: string; businessId?: string | null; after?: string; limit: number },
  ): Promise<RecipientProfile[]> {
    return [...this.state.profiles.values()]
      .filter(
        (p) =>
          p.infrastructureId === filter.infrastructureId &&
          this.visible(scope, p) &&
          (filter.businessId === undefined || p.businessId === filter.businessId) &&
          (filter.after === undefined || p.userId > filter.after),
      )
      .sort(byUser)
      .slice(0, filter.limit)
      .map(copy)
  }

  async delete(scope: TenantScope, infrastructureId: string, userId: string): Promise<boolean> {
    const key = profileKey(infrastructureId, userId)
    const current = this.state.profiles.get(key)
    if (!current || !scope.hasRole('infra_admin') || !scope.canAccess(infrastructureId, current.businessId))
      return false
    this.journal.deleteIn(this.state.profiles, key)
    return true
  }
}
