import { ForbiddenRoleError, NotFoundError } from '../domain/errors.js'
import {
  type DeleteProfileInput,
  deleteProfileInput,
  type ListProfilesInput,
  listProfilesInput,
  type ProfileRefInput,
  profileRefInput,
  type QuietHoursDefaultRefInput,
  quietHoursDefaultRefInput,
  type SetQuietHoursDefaultInput,
  setQuietHoursDefaultInput,
  type UpsertProfileInput,
  upsertProfileInput,
} from '../domain/notify-inputs.js'
import type { QuietHoursDefault } from '../domain/quiet-hours.js'
import { MEMBER_PROFILE_FIELDS, type RecipientProfile } from '../domain/recipient-profile.js'
import { assertRole, assertTenantScope, type TenantScope } from '../domain/tenant-scope.js'
import { parseInput } from '../domain/validation.js'
import type { ProfilePatch } from '../ports/profile-repository.js'
import { auditEntry, audited, type ServiceContext } from './context.js'

const PATCH_FIELDS = [
  'businessId',
  'email',
  'phone',
  'locale',
  'timeZone',
  'quietHours',
  'properties',
] as const

/** Recipient profiles: admins manage them; a member keeps its own contact points, locale and time zone. */
export class ProfileService {
  constructor(private readonly ctx: ServiceContext) {}

  /**
   * Creates the profile (`infra_admin`) or changes the fields given. A member changes only its
   * own, existing profile, and only `email`, `phone`, `locale`, `timeZone` and `quietHours`. Audited with the
   * names of the fields that changed, never their values (contact points are personal data).
   */
  async upsert(scope: TenantScope, raw: UpsertProfileInput): Promise<RecipientProfile> {
    const input = parseInput(upsertProfileInput, raw)
    const userId = input.userId ?? scope.userId
    const fields = PATCH_FIELDS.filter((f) => input[f] !== undefined)
    const target = {
      infrastructureId: input.infrastructureId,
      action: 'profile.upsert',
      targetType: 'profile' as const,
      targetId: userId,
      details: { fields },
    }
    return audited(this.ctx, scope, target, async () => {
      assertTenantScope(scope, input.infrastructureId)
      if (userId !== scope.userId) assertRole(scope, "profile.upsert of another user's", 'infra_admin')
      else assertRole(scope, 'profile.upsert', 'infra_admin', 'member')
      if (!scope.hasRole('infra_admin')) {
        const adminOnly = fields.filter((f) => !(MEMBER_PROFILE_FIELDS as readonly string[]).includes(f))
        if (adminOnly.length > 0) {
          throw new ForbiddenRoleError(
            `profile.upsert of ${adminOnly.join(', ')}`,
            ['infra_admin'],
            scope.role,
          )
        }
      }
      const now = this.ctx.clock.now()
      return this.ctx.uow.run(scope, async (r) => {
        const current = await r.profiles.find(scope, input.infrastructureId, userId)
        let saved: RecipientProfile
        if (current) {
          const patch: ProfilePatch = {
            ...Object.fromEntries(fields.map((f) => [f, input[f]])),
            updatedAt: now,
            updatedBy: scope.userId,
          }
          const updated = await r.profiles.update(scope, input.infrastructureId, userId, patch)
          if (!updated) throw new NotFoundError('profile', userId)
          saved = updated
        } else {
          // Only an admin creates: a member's own profile is made for it.
          if (!scope.hasRole('infra_admin')) throw new NotFoundError('profile', userId)
          saved = await r.profiles.insert(scope, {
            infrastructureId: input.infrastructureId,
            userId,
            businessId: input.businessId ?? null,
            email: input.email ?? null,
            phone: input.phone ?? null,
            locale: input.locale ?? null,
            timeZone: input.timeZone ?? null,
            quietHours: input.quietHours ?? null,
            properties: input.properties ?? {},
            createdAt: now,
            updatedAt: now,
            updatedBy: scope.userId,
          })
        }
        await r.audit.append(
          scope,
          auditEntry(this.ctx, scope, {
            ...target,
            businessId: saved.businessId,
            action: current ? 'profile.update' : 'profile.create',
          }),
        )
        return saved
      })
    })
  }

  /**
   * Sets (or, with `quietHours: null`, removes) the infrastructure's default quiet hours, for
   * recipients who set none of their own (`infra_admin` with an infrastructure-wide grant).
   * Audited with the new value: it decides when a whole tenant hears from the module.
   */
  async setQuietHoursDefault(
    scope: TenantScope,
    raw: SetQuietHoursDefaultInput,
  ): Promise<QuietHoursDefault | null> {
    const input = parseInput(setQuietHoursDefaultInput, raw)
    const target = {
      infrastructureId: input.infrastructureId,
      action: input.quietHours === null ? 'quiet_hours.clear_default' : 'quiet_hours.set_default',
      targetType: 'preference' as const,
      targetId: 'quiet_hours',
      details: { quietHours: input.quietHours },
    }
    return audited(this.ctx, scope, target, async () => {
      assertTenantScope(scope, input.infrastructureId, null)
      assertRole(scope, 'quiet_hours.set_default', 'infra_admin')
      return this.ctx.uow.run(scope, async (r) => {
        let saved: QuietHoursDefault | null = null
        if (input.quietHours === null) await r.quietHours.removeDefault(scope, input.infrastructureId)
        else {
          saved = await r.quietHours.saveDefault(scope, {
            infrastructureId: input.infrastructureId,
            quietHours: input.quietHours,
            updatedBy: scope.userId,
            updatedAt: this.ctx.clock.now(),
          })
        }
        await r.audit.append(scope, auditEntry(this.ctx, scope, target))
        return saved
      })
    })
  }

  /** The infrastructure's default quiet hours, null when none (anyone of the infrastructure). */
  async getQuietHoursDefault(
    scope: TenantScope,
    raw: QuietHoursDefaultRefInput,
  ): Promise<QuietHoursDefault | null> {
    const input = parseInput(quietHoursDefaultRefInput, raw)
    assertTenantScope(scope, input.infrastructureId)
    return this.ctx.uow.run(scope, (r) => r.quietHours.findDefault(scope, input.infrastructureId))
  }

  /** A profile: a member's own, or (admin, worker) one of a business its grants reach. */
  async get(scope: TenantScope, raw: ProfileRefInput): Promise<RecipientProfile> {
    const input = parseInput(profileRefInput, raw)
    const userId = input.userId ?? scope.userId
    assertTenantScope(scope, input.infrastructureId)
    const p = await this.ctx.uow.run(scope, (r) => r.profiles.find(scope, input.infrastructureId, userId))
    if (!p) throw new NotFoundError('profile', userId)
    return p
  }

  /** The profiles the caller may see, by user id (`infra_admin`, `service`). */
  async list(scope: TenantScope, raw: ListProfilesInput): Promise<RecipientProfile[]> {
    const input = parseInput(listProfilesInput, raw)
    assertTenantScope(scope, input.infrastructureId)
    assertRole(scope, 'profile.list', 'infra_admin', 'service')
    return this.ctx.uow.run(scope, (r) =>
      r.profiles.list(scope, {
        infrastructureId: input.infrastructureId,
        limit: input.limit,
        ...(input.businessId !== undefined && { businessId: input.businessId }),
        ...(input.after !== undefined && { after: input.after }),
      }),
    )
  }

  /** Removes a profile (`infra_admin`); the user's preferences stay (they belong to the user, not the profile). */
  async delete(scope: TenantScope, raw: DeleteProfileInput): Promise<void> {
    const input = parseInput(deleteProfileInput, raw)
    const target = {
      infrastructureId: input.infrastructureId,
      action: 'profile.delete',
      targetType: 'profile' as const,
      targetId: input.userId,
    }
    await audited(this.ctx, scope, target, async () => {
      assertTenantScope(scope, input.infrastructureId)
      assertRole(scope, 'profile.delete', 'infra_admin')
      await this.ctx.uow.run(scope, async (r) => {
        const removed = await r.profiles.delete(scope, input.infrastructureId, input.userId)
        if (!removed) throw new NotFoundError('profile', input.userId)
        await r.audit.append(scope, auditEntry(this.ctx, scope, target))
      })
    })
  }
}
