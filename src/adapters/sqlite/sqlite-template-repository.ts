import { type Kysely, sql } from 'kysely'
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
import { templateKey } from '../shared/rows/keys.js'
import { isUniqueViolation } from './sqlite-errors.js'
import { settingsRow, templateRow, toSettings, toTemplate } from './sqlite-rows.js'
import { canAccessInfrastructure, insertChecked } from './sqlite-scope.js'
import type { SqliteDatabase } from './sqlite-tables.js'

const templates = sql.ref('messaging_templates.infrastructure_id')
const settings = sql.ref('messaging_template_settings.infrastructure_id')

const keyText = (k: TemplateKey) => `${k.categoryKey}/${k.channelType}/${k.locale}`

/** Templates: read within the scope, appended (never changed) by its `infra_admin`. */
export class SqliteTemplateRepository implements TemplateRepository {
  constructor(private readonly db: Kysely<SqliteDatabase>) {}

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

  private ofKey(scope: TenantScope, key: TemplateKey) {
    return this.db
      .selectFrom('messaging_templates')
      .selectAll()
      .where(templateKey(key))
      .where(canAccessInfrastructure(scope, templates))
  }

  async append(scope: TenantScope, t: TemplateVersion): Promise<TemplateVersion> {
    this.assertWriter(scope, t.infrastructureId, 'template.insert', t.createdBy)
    try {
      const written = await insertChecked(
        this.db,
        'messaging_templates',
        templateRow(t),
        canAccessInfrastructure(scope, sql.val(t.infrastructureId)),
      )
      if (written === 0) throw new TenantScopeViolationError(t.infrastructureId)
    } catch (e) {
      if (isUniqueViolation(e)) throw new ConflictError('template version', `${keyText(t)} v${t.version}`)
      throw e
    }
    return structuredClone(t)
  }

  async findCurrent(scope: TenantScope, key: TemplateKey): Promise<TemplateVersion | null> {
    const row = await this.ofKey(scope, key).orderBy('version', 'desc').limit(1).executeTakeFirst()
    return row ? toTemplate(row) : null
  }

  async findVersion(scope: TenantScope, key: TemplateKey, version: number): Promise<TemplateVersion | null> {
    const row = await this.ofKey(scope, key).where('version', '=', version).executeTakeFirst()
    return row ? toTemplate(row) : null
  }

  async findById(scope: TenantScope, infrastructureId: string, id: string): Promise<TemplateVersion | null> {
    const row = await this.db
      .selectFrom('messaging_templates')
      .selectAll()
      .where('infrastructure_id', '=', infrastructureId)
      .where('id', '=', id)
      .where(canAccessInfrastructure(scope, templates))
      .executeTakeFirst()
    return row ? toTemplate(row) : null
  }

  async listCurrent(scope: TenantScope, filter: TemplateListFilter): Promise<TemplateVersion[]> {
    // The newest version of each key: the keys' maxima come from the unique index alone,
    // then only those rows (with their content) are read.
    let newest = this.db
      .selectFrom('messaging_templates')
      .select(['category_key', 'channel_type', 'locale', (eb) => eb.fn.max('version').as('version')])
      .where('infrastructure_id', '=', filter.infrastructureId)
      .where(canAccessInfrastructure(scope, templates))
      .groupBy(['category_key', 'channel_type', 'locale'])
    let rows = this.db
      .selectFrom('messaging_templates')
      .selectAll()
      .where('infrastructure_id', '=', filter.infrastructureId)
      .where(canAccessInfrastructure(scope, templates))
    if (filter.categoryKey !== undefined) {
      newest = newest.where('category_key', '=', filter.categoryKey)
      rows = rows.where('category_key', '=', filter.categoryKey)
    }
    if (filter.channelType !== undefined) {
      newest = newest.where('channel_type', '=', filter.channelType)
      rows = rows.where('channel_type', '=', filter.channelType)
    }
    if (filter.locale !== undefined) {
      newest = newest.where('locale', '=', filter.locale)
      rows = rows.where('locale', '=', filter.locale)
    }
    const found = await rows
      .where(sql<boolean>`(category_key, channel_type, locale, version) in (${newest})`)
      .orderBy('category_key')
      .orderBy('channel_type')
      .orderBy('locale')
      .execute()
    return found.map(toTemplate)
  }

  async listVersions(
    scope: TenantScope,
    key: TemplateKey,
    page: { readonly before?: number; readonly limit: number },
  ): Promise<TemplateVersion[]> {
    let q = this.ofKey(scope, key)
    if (page.before !== undefined) q = q.where('version', '<', page.before)
    const rows = await q.orderBy('version', 'desc').limit(page.limit).execute()
    return rows.map(toTemplate)
  }

  async findSettings(scope: TenantScope, infrastructureId: string): Promise<TemplateSettings | null> {
    const row = await this.db
      .selectFrom('messaging_template_settings')
      .selectAll()
      .where('infrastructure_id', '=', infrastructureId)
      .where(canAccessInfrastructure(scope, settings))
      .executeTakeFirst()
    return row ? toSettings(row) : null
  }

  async saveSettings(scope: TenantScope, s: SavedTemplateSettings): Promise<TemplateSettings> {
    this.assertWriter(scope, s.infrastructureId, 'template.settings', s.updatedBy)
    const written = await insertChecked(
      this.db,
      'messaging_template_settings',
      settingsRow(s),
      canAccessInfrastructure(scope, sql.val(s.infrastructureId)),
      sql` on conflict (${sql.ref('infrastructure_id')}) do update set ${sql.ref('default_locale')} = excluded.${sql.ref('default_locale')}, ${sql.ref('updated_by')} = excluded.${sql.ref('updated_by')}, ${sql.ref('updated_at')} = excluded.${sql.ref('updated_at')}`,
    )
    if (written === 0) throw new TenantScopeViolationError(s.infrastructureId)
    return { ...s }
  }
}
