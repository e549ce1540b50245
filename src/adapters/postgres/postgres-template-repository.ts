import type { Kysely } from 'kysely'
import { ForbiddenRoleError, TenantScopeViolationError, ValidationError } from '../../domain/errors.js'
import type { TemplateSettings, TemplateVersion } from '../../domain/template.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type {
  SavedTemplateSettings,
  TemplateKey,
  TemplateListFilter,
  TemplateRepository,
} from '../../ports/template-repository.js'
import { templateKey } from '../shared/rows/keys.js'
import type { TemplateRow, TemplateSettingsRow } from '../shared/rows/notification-rows.js'
import { classify } from './errors.js'
import {
  type MessagingDatabase,
  type PostgresKinds,
  settingsRow,
  templateRow,
  toSettings,
  toTemplate,
} from './schema.js'

/** The template tables (sql/0040_templates.sql), kept beside the core schema as they came later. */
type TemplateTables = {
  messaging_templates: TemplateRow<PostgresKinds>
  messaging_template_settings: TemplateSettingsRow<PostgresKinds>
}

const keyText = (k: TemplateKey) => `${k.categoryKey}/${k.channelType}/${k.locale}`

/**
 * Templates on PostgreSQL. The policies (sql/0040_templates.sql) decide who reads and who
 * appends; this class maps their answers. Every statement names the infrastructure, so it
 * walks the unique key's index.
 */
export class PostgresTemplateRepository implements TemplateRepository {
  private readonly db: Kysely<MessagingDatabase & TemplateTables>

  constructor(db: Kysely<MessagingDatabase>) {
    this.db = db.withTables<TemplateTables>()
  }

  private refusal(scope: TenantScope, infrastructureId: string, action: string) {
    return () =>
      scope.canAccessInfrastructure(infrastructureId)
        ? new ForbiddenRoleError(action, ['infra_admin'], scope.role)
        : new TenantScopeViolationError(infrastructureId)
  }

  /**
   * The policies' rule, checked before the statement as well so that every store names the
   * same first broken rule: a tenant's `infra_admin`, writing under its own name.
   */
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

  private ofKey(key: TemplateKey) {
    return this.db.selectFrom('messaging_templates').selectAll().where(templateKey(key))
  }

  async append(scope: TenantScope, t: TemplateVersion): Promise<TemplateVersion> {
    this.assertWriter(scope, t.infrastructureId, 'template.insert', t.createdBy)
    try {
      const row = await this.db
        .insertInto('messaging_templates')
        .values(templateRow(t))
        .returningAll()
        .executeTakeFirstOrThrow()
      return toTemplate(row)
    } catch (e) {
      throw classify(e, {
        conflict: { entity: 'template version', key: `${keyText(t)} v${t.version}` },
        refused: this.refusal(scope, t.infrastructureId, 'template.insert'),
      })
    }
  }

  async findCurrent(_scope: TenantScope, key: TemplateKey): Promise<TemplateVersion | null> {
    const row = await this.ofKey(key).orderBy('version', 'desc').limit(1).executeTakeFirst()
    return row ? toTemplate(row) : null
  }

  async findVersion(_scope: TenantScope, key: TemplateKey, version: number): Promise<TemplateVersion | null> {
    const row = await this.ofKey(key).where('version', '=', version).executeTakeFirst()
    return row ? toTemplate(row) : null
  }

  async findById(_scope: TenantScope, infrastructureId: string, id: string): Promise<TemplateVersion | null> {
    const row = await this.db
      .selectFrom('messaging_templates')
      .selectAll()
      .where('infrastructure_id', '=', infrastructureId)
      .where('id', '=', id)
      .executeTakeFirst()
    return row ? toTemplate(row) : null
  }

  async listCurrent(_scope: TenantScope, filter: TemplateListFilter): Promise<TemplateVersion[]> {
    // DISTINCT ON over the unique key's order: the newest version of each key, one index walk.
    let q = this.db
      .selectFrom('messaging_templates')
      .distinctOn(['category_key', 'channel_type', 'locale'])
      .selectAll()
      .where('infrastructure_id', '=', filter.infrastructureId)
    if (filter.categoryKey !== undefined) q = q.where('category_key', '=', filter.categoryKey)
    if (filter.channelType !== undefined) q = q.where('channel_type', '=', filter.channelType)
    if (filter.locale !== undefined) q = q.where('locale', '=', filter.locale)
    const rows = await q
      .orderBy('category_key')
      .orderBy('channel_type')
      .orderBy('locale')
      .orderBy('version', 'desc')
      .execute()
    return rows.map(toTemplate)
  }

  async listVersions(
    _scope: TenantScope,
    key: TemplateKey,
    page: { readonly before?: number; readonly limit: number },
  ): Promise<TemplateVersion[]> {
    let q = this.ofKey(key)
    if (page.before !== undefined) q = q.where('version', '<', page.before)
    const rows = await q.orderBy('version', 'desc').limit(page.limit).execute()
    return rows.map(toTemplate)
  }

  async findSettings(_scope: TenantScope, infrastructureId: string): Promise<TemplateSettings | null> {
    const row = await this.db
      .selectFrom('messaging_template_settings')
      .selectAll()
      .where('infrastructure_id', '=', infrastructureId)
      .executeTakeFirst()
    return row ? toSettings(row) : null
  }

  async saveSettings(scope: TenantScope, s: SavedTemplateSettings): Promise<TemplateSettings> {
    this.assertWriter(scope, s.infrastructureId, 'template.settings', s.updatedBy)
    try {
      const row = await this.db
        .insertInto('messaging_template_settings')
        .values(settingsRow(s))
        .onConflict((oc) =>
          oc.column('infrastructure_id').doUpdateSet((eb) => ({
            default_locale: eb.ref('excluded.default_locale'),
            updated_by: eb.ref('excluded.updated_by'),
            updated_at: eb.ref('excluded.updated_at'),
          })),
        )
        .returningAll()
        .executeTakeFirstOrThrow()
      return toSettings(row)
    } catch (e) {
      throw classify(e, { refused: this.refusal(scope, s.infrastructureId, 'template.settings') })
    }
  }
}
