import { ConflictError, isMessagingError, NotFoundError, ValidationError } from '../domain/errors.js'
import {
  DEFAULT_TEMPLATE_LOCALE,
  type RenderedTemplate,
  type TemplateChannelType,
  type TemplateSettings,
  type TemplateVersion,
} from '../domain/template.js'
import {
  type CreateTemplateInput,
  createTemplateInput,
  type ListTemplatesInput,
  type ListTemplateVersionsInput,
  listTemplatesInput,
  listTemplateVersionsInput,
  type PreviewTemplateInput,
  previewTemplateInput,
  type SetTemplateSettingsInput,
  setTemplateSettingsInput,
  type TemplateRefInput,
  type TemplateSettingsRefInput,
  templateRefInput,
  templateSettingsRefInput,
  type UpdateTemplateInput,
  updateTemplateInput,
} from '../domain/template-inputs.js'
import { assertRole, assertTenantScope, type TenantScope } from '../domain/tenant-scope.js'
import { parseInput } from '../domain/validation.js'
import type { TemplateKey } from '../ports/template-repository.js'
import { auditEntry, audited, type ServiceContext } from './context.js'
import { loadTemplateChoice, type TemplateChoice } from './template-lookup.js'
import { asIssue, type RenderOutcome, type TemplateRenderer } from './template-renderer.js'

/** What a preview rendered: the payload the transport would get, and the template's locale. */
export interface TemplatePreview {
  readonly channelType: TemplateChannelType
  readonly locale: string
  readonly payload: RenderedTemplate['payload']
}

/** What a delivery renders: the version its message recorded, with the message's own data. */
export interface DeliveryRenderRequest {
  readonly infrastructureId: string
  readonly businessId: string | null
  /** The id of the template version the outbox message recorded at enqueue. */
  readonly templateId: string
  /** The type of the channel the message goes out on: it must be the template's. */
  readonly channelType: string
  readonly data: Readonly<Record<string, unknown>>
  /** The recipient's profile (user id, contact points, locale, time zone, custom properties). */
  readonly recipient: Readonly<Record<string, unknown>>
}

const keyOf = (i: {
  infrastructureId: string
  categoryKey: string
  channelType: TemplateChannelType
  locale: string
}) =>
  ({
    infrastructureId: i.infrastructureId,
    categoryKey: i.categoryKey,
    channelType: i.channelType,
    locale: i.locale,
  }) satisfies TemplateKey

const keyText = (k: TemplateKey) => `${k.categoryKey}/${k.channelType}/${k.locale}`

/** Saves that race for the next version retry this often before the conflict reaches the caller. */
const SAVE_ATTEMPTS = 3

/**
 * Templates: written by `infra_admin` (every save appends a version, audited), read by
 * anyone in the infrastructure, previewed with sample data, rendered at delivery.
 */
export class TemplateService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly renderer: TemplateRenderer,
  ) {}

  /** The first version of a template; ConflictError when the key has one already. */
  async create(scope: TenantScope, raw: CreateTemplateInput): Promise<TemplateVersion> {
    const input = parseInput(createTemplateInput, raw)
    this.renderer.assertParses(input.channelType, input.content)
    const key = keyOf(input)
    const id = this.ctx.ids.next()
    const target = this.target(key, 'template.create', id)
    return audited(this.ctx, scope, target, async () => {
      assertTenantScope(scope, input.infrastructureId)
      assertRole(scope, 'template.create', 'infra_admin')
      return this.ctx.uow.run(scope, async (r) => {
        if (await r.templates.findCurrent(scope, key)) throw new ConflictError('template', keyText(key))
        const saved = await r.templates.append(scope, this.version(scope, id, key, 1, input.content))
        await r.audit.append(
          scope,
          auditEntry(this.ctx, scope, { ...target, details: { ...target.details, version: 1 } }),
        )
        return saved
      })
    })
  }

  /**
   * The next version of a template; NotFoundError when the key has none. With
   * `baseVersion`, a save made meanwhile by someone else is a ConflictError; without it, a
   * race for the same version number is retried.
   */
  async update(scope: TenantScope, raw: UpdateTemplateInput): Promise<TemplateVersion> {
    const input = parseInput(updateTemplateInput, raw)
    this.renderer.assertParses(input.channelType, input.content)
    const key = keyOf(input)
    for (let attempt = 1; ; attempt++) {
      const id = this.ctx.ids.next()
      const target = this.target(key, 'template.update', id)
      try {
        return await audited(this.ctx, scope, target, async () => {
          assertTenantScope(scope, input.infrastructureId)
          assertRole(scope, 'template.update', 'infra_admin')
          return this.ctx.uow.run(scope, async (r) => {
            const current = await r.templates.findCurrent(scope, key)
            if (!current) throw new NotFoundError('template', keyText(key))
            const next = current.version + 1
            if (input.baseVersion !== undefined && input.baseVersion !== current.version)
              throw new ConflictError('template version', `${keyText(key)} v${input.baseVersion + 1}`)
            const saved = await r.templates.append(scope, this.version(scope, id, key, next, input.content))
            await r.audit.append(
              scope,
              auditEntry(this.ctx, scope, { ...target, details: { ...target.details, version: next } }),
            )
            return saved
          })
        })
      } catch (e) {
        const raced = isMessagingError(e) && e.code === 'CONFLICT' && input.baseVersion === undefined
        if (!raced || attempt >= SAVE_ATTEMPTS) throw e
      }
    }
  }

  /** The current version of a template, or the version asked for. */
  async get(scope: TenantScope, raw: TemplateRefInput): Promise<TemplateVersion> {
    const input = parseInput(templateRefInput, raw)
    assertTenantScope(scope, input.infrastructureId)
    const key = keyOf(input)
    const found = await this.ctx.uow.run(scope, (r) =>
      input.version === undefined
        ? r.templates.findCurrent(scope, key)
        : r.templates.findVersion(scope, key, input.version),
    )
    if (!found)
      throw new NotFoundError(
        'template',
        `${keyText(key)}${input.version !== undefined ? ` v${input.version}` : ''}`,
      )
    return found
  }

  /** The current version of every template of a tenant (narrowed by category, channel type, locale). */
  async list(scope: TenantScope, raw: ListTemplatesInput): Promise<TemplateVersion[]> {
    const input = parseInput(listTemplatesInput, raw)
    assertTenantScope(scope, input.infrastructureId)
    return this.ctx.uow.run(scope, (r) =>
      r.templates.listCurrent(scope, {
        infrastructureId: input.infrastructureId,
        ...(input.categoryKey !== undefined && { categoryKey: input.categoryKey }),
        ...(input.channelType !== undefined && { channelType: input.channelType }),
        ...(input.locale !== undefined && { locale: input.locale }),
      }),
    )
  }

  /** A template's history, newest first. */
  async listVersions(scope: TenantScope, raw: ListTemplateVersionsInput): Promise<TemplateVersion[]> {
    const input = parseInput(listTemplateVersionsInput, raw)
    assertTenantScope(scope, input.infrastructureId)
    return this.ctx.uow.run(scope, (r) =>
      r.templates.listVersions(scope, keyOf(input), {
        limit: input.limit,
        ...(input.before !== undefined && { before: input.before }),
      }),
    )
  }

  /**
   * Renders a draft with sample data and sends nothing (`infra_admin`). A field that does
   * not parse or render is a ValidationError naming `content.<field>` and the rule.
   */
  async preview(scope: TenantScope, raw: PreviewTemplateInput): Promise<TemplatePreview> {
    const input = parseInput(previewTemplateInput, raw)
    assertTenantScope(scope, input.infrastructureId)
    assertRole(scope, 'template.preview', 'infra_admin')
    this.renderer.assertParses(input.channelType, input.content)
    const settings = await this.settings(scope, input.infrastructureId)
    const locale = input.locale ?? settings.defaultLocale
    const outcome = await this.renderer.render(input, {
      recipient: input.recipient ?? sampleRecipient(scope.userId, locale),
      data: input.data,
      tenant: tenantOf(input.infrastructureId, null, settings.defaultLocale, locale),
    })
    if (!outcome.ok) throw new ValidationError([asIssue(outcome.problem)])
    return { channelType: input.channelType, locale, payload: outcome.rendered.payload }
  }

  async getSettings(scope: TenantScope, raw: TemplateSettingsRefInput): Promise<TemplateSettings> {
    const input = parseInput(templateSettingsRefInput, raw)
    assertTenantScope(scope, input.infrastructureId)
    return this.settings(scope, input.infrastructureId)
  }

  /** Sets the tenant's default locale, the last fallback of every lookup (`infra_admin`, audited). */
  async setSettings(scope: TenantScope, raw: SetTemplateSettingsInput): Promise<TemplateSettings> {
    const input = parseInput(setTemplateSettingsInput, raw)
    const target = {
      infrastructureId: input.infrastructureId,
      action: 'template.settings',
      targetType: 'template' as const,
      details: { defaultLocale: input.defaultLocale },
    }
    return audited(this.ctx, scope, target, async () => {
      assertTenantScope(scope, input.infrastructureId)
      assertRole(scope, 'template.settings', 'infra_admin')
      return this.ctx.uow.run(scope, async (r) => {
        const saved = await r.templates.saveSettings(scope, {
          infrastructureId: input.infrastructureId,
          defaultLocale: input.defaultLocale,
          updatedBy: scope.userId,
          updatedAt: this.ctx.clock.now(),
        })
        await r.audit.append(scope, auditEntry(this.ctx, scope, target))
        return saved
      })
    })
  }

  /** The templates of one category and the tenant's default locale, in a unit of work of its own. */
  async choose(scope: TenantScope, infrastructureId: string, categoryKey: string): Promise<TemplateChoice> {
    assertTenantScope(scope, infrastructureId)
    return this.ctx.uow.run(scope, (r) => loadTemplateChoice(r, scope, infrastructureId, categoryKey))
  }

  /**
   * Renders the version a message recorded, with the message's data and its recipient's
   * profile: what the delivery path calls before the transport. A version that cannot be
   * found, or was written for another channel type, is a failure like a render error.
   */
  async renderForDelivery(scope: TenantScope, request: DeliveryRenderRequest): Promise<RenderOutcome> {
    const found = await this.ctx.uow.run(scope, async (r) => ({
      template: await r.templates.findById(scope, request.infrastructureId, request.templateId),
      settings: await r.templates.findSettings(scope, request.infrastructureId),
    }))
    const template = found.template
    if (!template)
      return {
        ok: false,
        problem: {
          field: '(template)',
          rule: 'template_missing',
          message: `template version ${request.templateId} not found`,
        },
      }
    if (template.channelType !== request.channelType)
      return {
        ok: false,
        problem: {
          field: '(template)',
          rule: 'template_missing',
          message: `template version ${template.id} is for ${template.channelType}, the channel is ${request.channelType}`,
        },
      }
    const defaultLocale = found.settings?.defaultLocale ?? DEFAULT_TEMPLATE_LOCALE
    return this.renderer.render(template, {
      recipient: request.recipient,
      data: request.data,
      tenant: tenantOf(request.infrastructureId, request.businessId, defaultLocale, template.locale),
    })
  }

  private async settings(scope: TenantScope, infrastructureId: string): Promise<TemplateSettings> {
    const saved = await this.ctx.uow.run(scope, (r) => r.templates.findSettings(scope, infrastructureId))
    return (
      saved ?? { infrastructureId, defaultLocale: DEFAULT_TEMPLATE_LOCALE, updatedBy: null, updatedAt: null }
    )
  }

  private version(
    scope: TenantScope,
    id: string,
    key: TemplateKey,
    version: number,
    content: Readonly<Record<string, string>>,
  ): TemplateVersion {
    return { id, ...key, version, content, createdBy: scope.userId, createdAt: this.ctx.clock.now() }
  }

  private target(key: TemplateKey, action: string, id: string) {
    return {
      infrastructureId: key.infrastructureId,
      action,
      targetType: 'template' as const,
      targetId: id,
      details: { categoryKey: key.categoryKey, channelType: key.channelType, locale: key.locale },
    }
  }
}

/** The `tenant` a template sees. */
function tenantOf(
  infrastructureId: string,
  businessId: string | null,
  defaultLocale: string,
  locale: string,
) {
  return { infrastructureId, businessId, defaultLocale, locale }
}

/** A stand-in recipient profile for previews that bring none. */
function sampleRecipient(userId: string, locale: string): Record<string, unknown> {
  return {
    userId,
    email: 'recipient@example.com',
    phone: '+15555550100',
    locale,
    timeZone: 'UTC',
    properties: {},
  }
}
