import type { TemplateChannelType, TemplateSettings, TemplateVersion } from '../domain/template.js'
import type { TenantScope } from '../domain/tenant-scope.js'

/** What names one template: its versions share it. */
export interface TemplateKey {
  readonly infrastructureId: string
  readonly categoryKey: string
  readonly channelType: TemplateChannelType
  /** Canonical BCP 47. */
  readonly locale: string
}

/** Settings as a save writes them: who changed them, and when. */
export interface SavedTemplateSettings extends TemplateSettings {
  readonly updatedBy: string
  readonly updatedAt: Date
}

export interface TemplateListFilter {
  readonly infrastructureId: string
  readonly categoryKey?: string
  readonly channelType?: TemplateChannelType
  readonly locale?: string
}

/**
 * Templates and their versions, append-only: a version is never changed or removed. Read
 * wherever the scope reaches the infrastructure (a notify call looks templates up with its
 * caller's scope, delivery workers with theirs); written by `infra_admin` only (the same
 * rule as the SQL policies).
 */
export interface TemplateRepository {
  /**
   * Appends a version. Throws TenantScopeViolationError outside the scope,
   * ForbiddenRoleError for a role other than `infra_admin`, and ConflictError when the key
   * already has this version number (a concurrent save took it: the unique key decides).
   */
  append(scope: TenantScope, template: TemplateVersion): Promise<TemplateVersion>
  /** The newest version of the key; null when there is none or it lies outside the scope. */
  findCurrent(scope: TenantScope, key: TemplateKey): Promise<TemplateVersion | null>
  /** One version by number; null when absent or outside the scope. */
  findVersion(scope: TenantScope, key: TemplateKey, version: number): Promise<TemplateVersion | null>
  /** One version by id (what an outbox message records); null when absent or outside the scope. */
  findById(scope: TenantScope, infrastructureId: string, id: string): Promise<TemplateVersion | null>
  /**
   * The newest version of every key that matches, ordered by category key, channel type and
   * locale (byte order). [] outside the scope.
   */
  listCurrent(scope: TenantScope, filter: TemplateListFilter): Promise<TemplateVersion[]>
  /** The versions of one key, newest first, below `before` when given, at most `limit`. */
  listVersions(
    scope: TenantScope,
    key: TemplateKey,
    page: { readonly before?: number; readonly limit: number },
  ): Promise<TemplateVersion[]>
  /** The tenant's settings as saved; null when never saved or outside the scope. */
  findSettings(scope: TenantScope, infrastructureId: string): Promise<TemplateSettings | null>
  /**
   * Inserts or replaces the tenant's settings. Throws TenantScopeViolationError outside the
   * scope and ForbiddenRoleError for a role other than `infra_admin`.
   */
  saveSettings(scope: TenantScope, settings: SavedTemplateSettings): Promise<TemplateSettings>
}
