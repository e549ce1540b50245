import {
  ConflictError,
  ForbiddenRoleError,
  TenantScopeViolationError,
  ValidationError,
} from '../../domain/errors.js'
import type { TemplateSettings, TemplateVersion } from '../../domain/template.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type {
  SavedTemplateSettings,
  TemplateKey,
  TemplateListFilter,
  TemplateRepository,
} from '../../ports/template-repository.js'
import { copy, type Journal, type MemoryState } from './memory-state.js'

const sameKey = (t: TemplateVersion, k: TemplateKey) =>
  t.infrastructureId === k.infrastructureId &&
  t.categoryKey === k.categoryKey &&
  t.channelType === k.channelType &&
  t.locale === k.locale

const keyOf = (t: TemplateVersion) => `${t.categoryKey}\u0000${t.channelType}\u0000${t.locale}`

/** Byte order of ASCII keys: what `COLLATE "C"` and SQLite's BINARY compare by. */
const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

export class MemoryTemplateRepository implements TemplateRepository {
  constructor(
    private readonly state: MemoryState,
    private readonly journal: Journal,
  ) {}

  /** The SQL policies' rule: a tenant's `infra_admin`, writing under its own name. */
  private assertWriter(scope: TenantScope, infrastructureId: string, action: string, author: string): void {
    if (!scope.canAccessInfrastructure(infrastructureId))
      throw new TenantScopeViolationError(infrastructureId)
    if (!scope.hasRole('infra_admin')) throw new ForbiddenRoleError(action, ['infra_admin'], scope.role)
    if (author !== scope.userId)
      throw ValidationError.single(
        'createdBy',
        'must_be_caller',
        'a template is written under its own author',
      )
  }

  private *visible(scope: TenantScope, infrastructureId: string): Iterable<TemplateVersion> {
    if (!scope.canAccessInfrastructure(infrastructureId)) return
    for (const t of this.state.templates.values()) if (t.infrastructureId === infrastructureId) yield t
  }

  async append(scope: TenantScope, template: TemplateVersion): Promise<TemplateVersion> {
    this.assertWriter(scope, template.infrastructureId, 'template.insert', template.createdBy)
    const key = `${template.infrastructureId}/${template.id}`
    for (const t of this.visible(scope, template.infrastructureId)) {
      if (sameKey(t, template) && t.version === template.version)
        throw new ConflictError(
          'template version',
          `${template.categoryKey}/${template.channelType}/${template.locale} v${template.version}`,
        )
    }
    if (this.state.templates.has(key)) throw new ConflictError('template version', template.id)
    this.journal.setIn(this.state.templates, key, copy(template))
    return copy(template)
  }

  async findCurrent(scope: TenantScope, key: TemplateKey): Promise<TemplateVersion | null> {
    let best: TemplateVersion | null = null
    for (const t of this.visible(scope, key.infrastructureId)) {
      if (sameKey(t, key) && (best === null || t.version > best.version)) best = t
    }
    return best ? copy(best) : null
  }

  async findVersion(scope: TenantScope, key: TemplateKey, version: number): Promise<TemplateVersion | null> {
    for (const t of this.visible(scope, key.infrastructureId)) {
      if (sameKey(t, key) && t.version === version) return copy(t)
    }
    return null
  }

  async findById(scope: TenantScope, infrastructureId: string, id: string): Promise<TemplateVersion | null> {
    if (!scope.canAccessInfrastructure(infrastructureId)) return null
    const t = this.state.templates.get(`${infrastructureId}/${id}`)
    return t ? copy(t) : null
  }

  async listCurrent(scope: TenantScope, filter: TemplateListFilter): Promise<TemplateVersion[]> {
    const newest = new Map<string, TemplateVersion>()
    for (const t of this.visible(scope, filter.infrastructureId)) {
      if (filter.categoryKey !== undefined && t.categoryKey !== filter.categoryKey) continue
      if (filter.channelType !== undefined && t.channelType !== filter.channelType) continue
      if (filter.locale !== undefined && t.locale !== filter.locale) continue
      const k = keyOf(t)
      const seen = newest.get(k)
      if (!seen || t.version > seen.version) newest.set(k, t)
    }
    return [...newest.values()]
      .sort(
        (a, b) =>
          compare(a.categoryKey, b.categoryKey) ||
          compare(a.channelType, b.channelType) ||
          compare(a.locale, b.locale),
      )
      .map(copy)
  }

  async listVersions(
    scope: TenantScope,
    key: TemplateKey,
    page: { readonly before?: number; readonly limit: number },
  ): Promise<TemplateVersion[]> {
    return [...this.visible(scope, key.infrastructureId)]
      .filter((t) => sameKey(t, key) && (page.before === undefined || t.version < page.before))
      .sort((a, b) => b.version - a.version)
      .slice(0, page.limit)
      .map(copy)
  }

  async findSettings(scope: TenantScope, infrastructureId: string): Promise<TemplateSettings | null> {
    if (!scope.canAccessInfrastructure(infrastructureId)) return null
    const s = this.state.templateSettings.get(infrastructureId)
    return s ? copy(s) : null
  }

  async saveSettings(scope: TenantScope, settings: SavedTemplateSettings): Promise<TemplateSettings> {
    this.assertWriter(scope, settings.infrastructureId, 'template.settings', settings.updatedBy)
    this.journal.setIn(this.state.templateSettings, settings.infrastructureId, copy(settings))
    return copy(settings)
  }
}
