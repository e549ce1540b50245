import type { Category } from './category.js'
import type { ChannelType } from './channel.js'

/** A user's own choice for one category over one channel type. */
export interface Preference {
  readonly infrastructureId: string
  readonly userId: string
  readonly categoryKey: string
  readonly channelType: ChannelType
  readonly enabled: boolean
  readonly updatedBy: string
  readonly updatedAt: Date
}

/**
 * An admin's default for one category over one channel type: for one business of the
 * infrastructure, or (`businessId` null) for the whole infrastructure.
 */
export interface TenantDefault {
  readonly infrastructureId: string
  readonly businessId: string | null
  readonly categoryKey: string
  readonly channelType: ChannelType
  readonly enabled: boolean
  readonly updatedBy: string
  readonly updatedAt: Date
}

/**
 * Which rule decided: the user's own choice for the category (`user`), the user's opt-out of
 * the channel that serves it (`channel`: the membership opt-in), the tenant's default for the
 * business (`business`) or the infrastructure (`tenant`), or the category's own (`category`).
 */
export type PreferenceSource = 'user' | 'channel' | 'business' | 'tenant' | 'category'

/** Everything the resolution of one (user, category, channel type) reads. */
export interface PreferenceFacts {
  readonly critical: boolean
  /** The user's own choice for (category, type); undefined when they made none. */
  readonly userChoice?: boolean | undefined
  /** The user is a member of the channel that serves the type for the category, and opted out of it. */
  readonly channelOptedOut?: boolean | undefined
  /** The tenant's default for the notification's business. */
  readonly businessDefault?: boolean | undefined
  /** The tenant's infrastructure-wide default. */
  readonly tenantDefault?: boolean | undefined
  /** The category's own default for the type. */
  readonly categoryDefault: boolean
}

export interface ResolvedPreference {
  readonly enabled: boolean
  readonly source: PreferenceSource
}

/**
 * The resolution order, first that speaks wins:
 *
 * 1. the user's own choice for the category and channel type;
 * 2. the user's opt-out of the channel that serves it (the membership opt-in; being opted
 *    in says nothing, so it falls through);
 * 3. the tenant's default for the notification's business, then for the whole infrastructure;
 * 4. the category's own default for the type.
 *
 * A critical category skips 1 and 2: opt-outs do not hold it back, the admins' defaults do.
 *
 * @example
 * resolvePreference({ critical: false, userChoice: false, categoryDefault: true }) // { enabled: false, source: 'user' }
 */
export function resolvePreference(f: PreferenceFacts): ResolvedPreference {
  if (!f.critical) {
    if (f.userChoice !== undefined) return { enabled: f.userChoice, source: 'user' }
    if (f.channelOptedOut) return { enabled: false, source: 'channel' }
  }
  if (f.businessDefault !== undefined) return { enabled: f.businessDefault, source: 'business' }
  if (f.tenantDefault !== undefined) return { enabled: f.tenantDefault, source: 'tenant' }
  return { enabled: f.categoryDefault, source: 'category' }
}

/** The map key of a (category, channel type) pair. */
export const choiceKey = (categoryKey: string, channelType: string): string =>
  `${categoryKey}\u0000${channelType}`

/**
 * Looks facts up from the rows a unit of work read: the users' own choices, the tenant's
 * defaults (business and infrastructure), and the channels each user opted out of.
 */
export class PreferenceBook {
  private readonly choices = new Map<string, boolean>()
  private readonly business = new Map<string, boolean>()
  private readonly tenant = new Map<string, boolean>()

  constructor(
    choices: readonly Preference[],
    defaults: readonly TenantDefault[],
    businessId: string | null,
    /** Per user, the keys of the channels they are a member of and opted out of. */
    private readonly optedOutChannels: ReadonlyMap<string, ReadonlySet<string>> = new Map(),
  ) {
    for (const p of choices) {
      this.choices.set(`${p.userId}\u0000${choiceKey(p.categoryKey, p.channelType)}`, p.enabled)
    }
    for (const d of defaults) {
      const k = choiceKey(d.categoryKey, d.channelType)
      if (d.businessId === null) this.tenant.set(k, d.enabled)
      else if (d.businessId === businessId) this.business.set(k, d.enabled)
    }
  }

  facts(userId: string, category: Category, channelType: string): PreferenceFacts {
    const k = choiceKey(category.key, channelType)
    const serving = category.channels[channelType]
    return {
      critical: category.critical,
      // No key built when nobody chose (a notify asks 20,000 times, mostly of users who never did).
      userChoice: this.choices.size === 0 ? undefined : this.choices.get(`${userId}\u0000${k}`),
      channelOptedOut:
        serving !== undefined && (this.optedOutChannels.get(userId)?.has(serving.channelKey) ?? false),
      businessDefault: this.business.get(k),
      tenantDefault: this.tenant.get(k),
      categoryDefault: serving?.enabled ?? false,
    }
  }

  resolve(userId: string, category: Category, channelType: string): ResolvedPreference {
    return resolvePreference(this.facts(userId, category, channelType))
  }
}

/** One cell of a user's grid: a category over one channel type, what resolves, and every fact that went into it. */
export interface PreferenceCell {
  readonly categoryKey: string
  readonly channelType: string
  /** The channel that serves the type for the category. */
  readonly channelKey: string
  readonly enabled: boolean
  readonly source: PreferenceSource
  readonly critical: boolean
  readonly userChoice: boolean | null
  readonly channelOptedOut: boolean
  readonly businessDefault: boolean | null
  readonly tenantDefault: boolean | null
  readonly categoryDefault: boolean
}

/** A user's preferences: every category of the infrastructure x the channel types it uses. */
export interface PreferenceGrid {
  readonly infrastructureId: string
  readonly userId: string
  /** Whose tenant defaults apply. */
  readonly businessId: string | null
  /** Every channel type some category uses, sorted: the grid's columns. */
  readonly channelTypes: readonly string[]
  readonly categories: ReadonlyArray<{
    readonly key: string
    readonly name: string
    readonly description: string | null
    readonly critical: boolean
    /** One per channel type the category uses, in `channelTypes` order. */
    readonly cells: readonly PreferenceCell[]
  }>
}

export function preferenceCell(
  book: PreferenceBook,
  userId: string,
  category: Category,
  channelType: string,
): PreferenceCell {
  const f = book.facts(userId, category, channelType)
  const r = resolvePreference(f)
  return {
    categoryKey: category.key,
    channelType,
    channelKey: category.channels[channelType]?.channelKey ?? '',
    enabled: r.enabled,
    source: r.source,
    critical: f.critical,
    userChoice: f.userChoice ?? null,
    channelOptedOut: f.channelOptedOut ?? false,
    businessDefault: f.businessDefault ?? null,
    tenantDefault: f.tenantDefault ?? null,
    categoryDefault: f.categoryDefault,
  }
}

/** The grid of one user over `categories`, read through `book`. */
export function preferenceGrid(
  book: PreferenceBook,
  target: { readonly infrastructureId: string; readonly userId: string; readonly businessId: string | null },
  categories: readonly Category[],
): PreferenceGrid {
  const channelTypes = [...new Set(categories.flatMap((c) => Object.keys(c.channels)))].sort()
  return {
    ...target,
    channelTypes,
    categories: categories.map((c) => ({
      key: c.key,
      name: c.name,
      description: c.description,
      critical: c.critical,
      cells: channelTypes
        .filter((t) => c.channels[t] !== undefined)
        .map((t) => preferenceCell(book, target.userId, c, t)),
    })),
  }
}
