import { z } from 'zod'
import type { TemplatePreview } from '../application/template-service.js'
import { TEMPLATE_CHANNEL_TYPES, type TemplateSettings, type TemplateVersion } from '../domain/template.js'

/** Zod schemas of the template responses, each declared against its domain type (every key, no extra one). */
const shapeOf =
  <T>() =>
  <S extends { [K in keyof T]-?: z.ZodType }>(shape: S & Record<Exclude<keyof S, keyof T>, never>) =>
    z.object(shape)

const uuid = z.uuid()
const dateTime = z.iso.datetime()

export const templateVersionSchema = shapeOf<TemplateVersion>()({
  id: uuid.describe('The id of this version: what an outbox message records.'),
  infrastructureId: uuid,
  categoryKey: z.string(),
  channelType: z.enum(TEMPLATE_CHANNEL_TYPES),
  locale: z.string().describe('Canonical BCP 47 tag.'),
  version: z.number().int().describe('1 for the first save, then +1 per edit.'),
  content: z
    .record(z.string(), z.string())
    .describe(
      'Liquid sources by field: email subject/html/text, sms text, in_app title/body/actionUrl, webhook body.',
    ),
  createdBy: uuid,
  createdAt: dateTime,
})

export const templateSettingsSchema = shapeOf<TemplateSettings>()({
  infrastructureId: uuid,
  defaultLocale: z.string().describe("The last fallback of every lookup; 'en' until an admin sets one."),
  updatedBy: uuid.nullable().describe('null: never saved.'),
  updatedAt: dateTime.nullable(),
})

export const templatePreviewSchema = shapeOf<TemplatePreview>()({
  channelType: z.enum(TEMPLATE_CHANNEL_TYPES),
  locale: z.string(),
  payload: z
    .unknown()
    .describe(
      "The transport's payload: email { subject, html?, text? }, sms { text }, in_app { title, body?, actionUrl?, data }, webhook: the rendered JSON.",
    ),
})
