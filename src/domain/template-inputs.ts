import { z } from 'zod'
import { categoryKeySchema } from './category.js'
import { tenantIdSchema } from './ids.js'
import { jsonValueSchema } from './inputs.js'
import { localeSchema } from './recipient-profile.js'
import { TEMPLATE_CHANNEL_TYPES, TEMPLATE_FIELDS, type TemplateChannelType } from './template.js'

/**
 * The input schemas of the template calls: the one boundary where untrusted data is parsed.
 * The HTTP surface and its OpenAPI document reuse them.
 */
const uuid = tenantIdSchema

// U+0000 and lone surrogates are refused for every string of every input (parseInput).
const source = (max: number) => z.string().max(max)

function contentSchema(channelType: TemplateChannelType) {
  const shape: Record<string, z.ZodType> = {}
  for (const f of TEMPLATE_FIELDS[channelType]) {
    const s = f.required ? source(f.maxSource).min(1) : source(f.maxSource).optional()
    shape[f.name] = s
  }
  const object = z.strictObject(shape) as z.ZodType<Record<string, string>>
  if (channelType !== 'email') return object
  return object.refine((c) => Boolean(c.html) || Boolean(c.text), {
    message: 'an email template needs html or text (or both)',
    params: { rule: 'html_or_text' },
    path: ['html'],
  })
}

/** The Liquid sources of each channel type's template, by field. */
export const templateContentSchemas = {
  email: contentSchema('email'),
  sms: contentSchema('sms'),
  in_app: contentSchema('in_app'),
  webhook: contentSchema('webhook'),
} as const

const keyShape = {
  infrastructureId: uuid,
  categoryKey: categoryKeySchema,
  locale: localeSchema,
}

/** One branch per channel type, each with that type's content. */
function perChannelType<S extends z.ZodRawShape>(shape: S) {
  const branch = <T extends TemplateChannelType>(t: T) =>
    z.strictObject({ ...shape, channelType: z.literal(t), content: templateContentSchemas[t] })
  return z.discriminatedUnion('channelType', [
    branch('email'),
    branch('sms'),
    branch('in_app'),
    branch('webhook'),
  ])
}

/** The first version of a template (`infra_admin`); ConflictError when the key has one. */
export const createTemplateInput = perChannelType(keyShape)
export type CreateTemplateInput = z.input<typeof createTemplateInput>

/**
 * The next version of a template (`infra_admin`). With `baseVersion`, the save succeeds only
 * while that version is still current (someone else's save in between is a ConflictError).
 */
export const updateTemplateInput = perChannelType({
  ...keyShape,
  baseVersion: z.number().int().min(1).optional(),
})
export type UpdateTemplateInput = z.input<typeof updateTemplateInput>

const channelTypeSchema = z.enum(TEMPLATE_CHANNEL_TYPES)

/** One template: its current version, or `version`. */
export const templateRefInput = z.strictObject({
  ...keyShape,
  channelType: channelTypeSchema,
  version: z.number().int().min(1).optional(),
})
export type TemplateRefInput = z.input<typeof templateRefInput>

/** The versions of one template, newest first; `before` (a version number) pages on. */
export const listTemplateVersionsInput = z.strictObject({
  ...keyShape,
  channelType: channelTypeSchema,
  before: z.number().int().min(2).optional(),
  limit: z.number().int().min(1).max(200).default(50),
})
export type ListTemplateVersionsInput = z.input<typeof listTemplateVersionsInput>

/** The current version of every template of a tenant, narrowed by category, channel type or locale. */
export const listTemplatesInput = z.strictObject({
  infrastructureId: uuid,
  categoryKey: categoryKeySchema.optional(),
  channelType: channelTypeSchema.optional(),
  locale: localeSchema.optional(),
})
export type ListTemplatesInput = z.input<typeof listTemplatesInput>

const jsonObject = z.record(z.string().max(200), jsonValueSchema)

/**
 * Renders a draft with sample data and sends nothing (`infra_admin`): the live preview of an
 * editor. `data` and `recipient` stand in for a notification's data and its recipient's
 * profile; without `recipient`, a sample profile in `locale`.
 */
export const previewTemplateInput = (() => {
  const shape = {
    infrastructureId: uuid,
    locale: localeSchema.optional(),
    data: jsonObject.default({}),
    recipient: jsonObject.optional(),
  }
  const branch = <T extends TemplateChannelType>(t: T) =>
    z.strictObject({ ...shape, channelType: z.literal(t), content: templateContentSchemas[t] })
  return z.discriminatedUnion('channelType', [
    branch('email'),
    branch('sms'),
    branch('in_app'),
    branch('webhook'),
  ])
})()
export type PreviewTemplateInput = z.input<typeof previewTemplateInput>

export const templateSettingsRefInput = z.strictObject({ infrastructureId: uuid })
export type TemplateSettingsRefInput = z.input<typeof templateSettingsRefInput>

/** A tenant's default locale, the last fallback of every lookup (`infra_admin`). */
export const setTemplateSettingsInput = z.strictObject({
  infrastructureId: uuid,
  defaultLocale: localeSchema,
})
export type SetTemplateSettingsInput = z.input<typeof setTemplateSettingsInput>
