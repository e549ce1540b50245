import { NotFoundError, ValidationError } from '../domain/errors.js'
import {
  type ListTenantDefaultsInput,
  listTenantDefaultsInput,
  type PreferenceGridInput,
  preferenceGridInput,
  type SetPreferenceInput,
  type SetTenantDefaultInput,
  setPreferenceInput,
  setTenantDefaultInput,
} from '../domain/notify-inputs.js'
import {
  PreferenceBook,
  type PreferenceCell,
  type PreferenceGrid,
  preferenceCell,
  preferenceGrid,
  type TenantDefault,
} from '../domain/preference.js'
import { assertRole, assertTenantScope, type TenantScope } from '../domain/tenant-scope.js'
import { parseInput } from '../domain/validation.js'
import type { Repositories } from '../ports/unit-of-work.js'
import { auditEntry, audited, type ServiceContext } from './context.js'

/** The keys of the channels `userId` is a member of and opted out of: the membership opt-in's part in the resolution. */
export async function optedOutChannels(
  scope: TenantScope,
  r: Repositories,
  infrastructureId: string,
  userId: string,
): Promise<Set<string>> {
  const views = await r.members.listViews(scope, { infrastructureId, userId })
  return new Set(views.filter((v) => !v.optedIn).map((v) => v.channelKey))
}

/**
 * Users' own choices per category and channel type, the tenant's defaults, and the grid that
 * shows what resolves for a user and why (see `resolvePreference` for the order).
 */
export class PreferenceService {
  constructor(private readonly ctx: ServiceContext) {}

  /** The category, and the check that it uses `channelType`. */
  private async categoryFor(
    scope: TenantScope,
    r: Repositories,
    infrastructureId: string,
    categoryKey: string,
    channelType: string,
  ) {
    const category = await r.categories.find(scope, infrastructureId, categoryKey)
    if (!category) throw new NotFoundError('category', categoryKey)
    if (category.channels[channelType] === undefined) {
      throw ValidationError.single(
        'channelType',
        'not_in_category',
        `category ${categoryKey} has no ${channelType} channel`,
      )
    }
    return category
  }

  /**
   * Sets (or, with `enabled: null`, takes back) a user's own choice: a member its own, an
   * `infra_admin` anyone's. Returns the cell as it now resolves.
   */
  async set(scope: TenantScope, raw: SetPreferenceInput): Promise<PreferenceCell> {
    const input = parseInput(setPreferenceInput, raw)
    const userId = input.userId ?? scope.userId
    const target = {
      infrastructureId: input.infrastructureId,
      action: input.enabled === null ? 'preference.clear' : 'preference.set',
      targetType: 'preference' as const,
      targetId: `${userId}/${input.categoryKey}/${input.channelType}`,
      details: {
        userId,
        categoryKey: input.categoryKey,
        channelType: input.channelType,
        enabled: input.enabled,
      },
    }
    return audited(this.ctx, scope, target, async () => {
      assertTenantScope(scope, input.infrastructureId)
      if (userId !== scope.userId) assertRole(scope, "preference.set of another user's", 'infra_admin')
      else assertRole(scope, 'preference.set', 'infra_admin', 'member')
      return this.ctx.uow.run(scope, async (r) => {
        const category = await this.categoryFor(
          scope,
          r,
          input.infrastructureId,
          input.categoryKey,
          input.channelType,
        )
        const key = {
          infrastructureId: input.infrastructureId,
          userId,
          categoryKey: input.categoryKey,
          channelType: input.channelType,
        }
        if (input.enabled === null) await r.preferences.clear(scope, key)
        else {
          await r.preferences.set(scope, {
            ...key,
            enabled: input.enabled,
            updatedBy: scope.userId,
            updatedAt: this.ctx.clock.now(),
          })
        }
        await r.audit.append(scope, auditEntry(this.ctx, scope, target))
        const book = await this.book(scope, r, input.infrastructureId, userId, undefined)
        return preferenceCell(book.book, userId, category, input.channelType)
      })
    })
  }

  /** One user's grid: every category x channel type, what resolves and why. */
  async grid(scope: TenantScope, raw: PreferenceGridInput): Promise<PreferenceGrid> {
    const input = parseInput(preferenceGridInput, raw)
    const userId = input.userId ?? scope.userId
    assertTenantScope(scope, input.infrastructureId)
    if (userId !== scope.userId)
      assertRole(scope, "preference.grid of another user's", 'infra_admin', 'service')
    return this.ctx.uow.run(scope, async (r) => {
      const { book, businessId } = await this.book(scope, r, input.infrastructureId, userId, input.businessId)
      const categories = await r.categories.list(scope, input.infrastructureId)
      return preferenceGrid(
        book,
        { infrastructureId: input.infrastructureId, userId, businessId },
        categories,
      )
    })
  }

  private async book(
    scope: TenantScope,
    r: Repositories,
    infrastructureId: string,
    userId: string,
    business: string | null | undefined,
  ) {
    const businessId =
      business !== undefined
        ? business
        : ((await r.profiles.find(scope, infrastructureId, userId))?.businessId ?? null)
    const [choices, defaults, optedOut] = await Promise.all([
      r.preferences.listForUsers(scope, infrastructureId, [userId]),
      r.preferences.listDefaults(scope, { infrastructureId }),
      optedOutChannels(scope, r, infrastructureId, userId),
    ])
    return {
      businessId,
      book: new PreferenceBook(choices, defaults, businessId, new Map([[userId, optedOut]])),
    }
  }

  /** Sets (or takes back) the tenant's default for a business or the infrastructure (`infra_admin`). */
  async setDefault(scope: TenantScope, raw: SetTenantDefaultInput): Promise<TenantDefault | null> {
    const input = parseInput(setTenantDefaultInput, raw)
    const target = {
      infrastructureId: input.infrastructureId,
      businessId: input.businessId,
      action: input.enabled === null ? 'preference.clear_default' : 'preference.set_default',
      targetType: 'preference' as const,
      targetId: `${input.businessId ?? '*'}/${input.categoryKey}/${input.channelType}`,
      details: { categoryKey: input.categoryKey, channelType: input.channelType, enabled: input.enabled },
    }
    return audited(this.ctx, scope, target, async () => {
      assertTenantScope(scope, input.infrastructureId, input.businessId)
      assertRole(scope, 'preference.set_default', 'infra_admin')
      return this.ctx.uow.run(scope, async (r) => {
        await this.categoryFor(scope, r, input.infrastructureId, input.categoryKey, input.channelType)
        const key = {
          infrastructureId: input.infrastructureId,
          businessId: input.businessId,
          categoryKey: input.categoryKey,
          channelType: input.channelType,
        }
        let saved: TenantDefault | null = null
        if (input.enabled === null) await r.preferences.clearDefault(scope, key)
        else {
          saved = await r.preferences.setDefault(scope, {
            ...key,
            enabled: input.enabled,
            updatedBy: scope.userId,
            updatedAt: this.ctx.clock.now(),
          })
        }
        await r.audit.append(scope, auditEntry(this.ctx, scope, target))
        return saved
      })
    })
  }

  async listDefaults(scope: TenantScope, raw: ListTenantDefaultsInput): Promise<TenantDefault[]> {
    const input = parseInput(listTenantDefaultsInput, raw)
    assertTenantScope(scope, input.infrastructureId)
    return this.ctx.uow.run(scope, (r) =>
      r.preferences.listDefaults(scope, {
        infrastructureId: input.infrastructureId,
        ...(input.businessId !== undefined && { businessId: input.businessId }),
        ...(input.categoryKey !== undefined && { categoryKey: input.categoryKey }),
      }),
    )
  }
}
