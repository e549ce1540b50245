import { z } from 'zod'
import type {
  CreateTemplateInput,
  ListTemplatesInput,
  ListTemplateVersionsInput,
  PreviewTemplateInput,
  SetTemplateSettingsInput,
  TemplateRefInput,
  TemplateSettingsRefInput,
  UpdateTemplateInput,
} from '../domain/template-inputs.js'
import {
  createTemplateInput,
  listTemplatesInput,
  listTemplateVersionsInput,
  previewTemplateInput,
  setTemplateSettingsInput,
  templateRefInput,
  templateSettingsRefInput,
  updateTemplateInput,
} from '../domain/template-inputs.js'
import { Reply, type RouteDef } from './router.js'
import { templatePreviewSchema, templateSettingsSchema, templateVersionSchema } from './template-schemas.js'

const KEY = '/templates/:categoryKey/:channelType/:locale'

/** The template endpoints: written by `infra_admin`, read by anyone in the tenant, previewed without sending. */
export const TEMPLATE_ROUTES: readonly RouteDef[] = [
  {
    method: 'GET',
    path: '/templates',
    operationId: 'listTemplates',
    tag: 'templates',
    summary: "The current version of each of a tenant's templates",
    description:
      'Ordered by category key, channel type and locale; `categoryKey`, `channelType` and `locale` narrow.',
    input: listTemplatesInput,
    from: 'query',
    response: z.array(templateVersionSchema),
    run: (m, p, i) => m.listTemplates(p, i as ListTemplatesInput),
  },
  {
    method: 'POST',
    path: '/templates',
    operationId: 'createTemplate',
    tag: 'templates',
    summary: 'Create a template (its version 1)',
    description:
      '`infra_admin`; audited. A field whose Liquid does not parse answers 400 naming `content.<field>` and the rule (`template_syntax`, `template_limit`); a key that has a template answers 409.',
    input: createTemplateInput,
    from: 'body',
    status: 201,
    response: templateVersionSchema,
    run: async (m, p, i, ctx) => {
      const t = await m.createTemplate(p, i as CreateTemplateInput)
      const path = `/templates/${[t.categoryKey, t.channelType, t.locale].map(encodeURIComponent).join('/')}`
      return new Reply(201, t, {
        location: `${ctx.basePath}${path}?infrastructureId=${encodeURIComponent(t.infrastructureId)}`,
      })
    },
  },
  {
    method: 'POST',
    path: '/templates/preview',
    operationId: 'previewTemplate',
    tag: 'templates',
    summary: 'Render a draft with sample data; sends and stores nothing',
    description:
      '`infra_admin`. `data` and `recipient` stand in for a notification and its recipient (without `recipient`, a sample profile). A field that does not parse or render answers 400 naming `content.<field>` and the rule.',
    input: previewTemplateInput,
    from: 'body',
    response: templatePreviewSchema,
    run: (m, p, i) => m.previewTemplate(p, i as PreviewTemplateInput),
  },
  {
    method: 'GET',
    path: KEY,
    operationId: 'getTemplate',
    tag: 'templates',
    summary: 'The current version of a template, or `version`',
    input: templateRefInput,
    from: 'query',
    response: templateVersionSchema,
    run: (m, p, i) => m.getTemplate(p, i as TemplateRefInput),
  },
  {
    method: 'PUT',
    path: KEY,
    operationId: 'updateTemplate',
    tag: 'templates',
    summary: 'Save the next version of a template',
    description:
      '`infra_admin`; audited. Messages enqueued before keep rendering the version they recorded. With `baseVersion`, a save made meanwhile by someone else answers 409.',
    input: updateTemplateInput,
    from: 'body',
    response: templateVersionSchema,
    run: (m, p, i) => m.updateTemplate(p, i as UpdateTemplateInput),
  },
  {
    method: 'GET',
    path: `${KEY}/versions`,
    operationId: 'listTemplateVersions',
    tag: 'templates',
    summary: "A template's versions, newest first",
    description: '`before` (a version number) pages on.',
    input: listTemplateVersionsInput,
    from: 'query',
    response: z.array(templateVersionSchema),
    run: (m, p, i) => m.listTemplateVersions(p, i as ListTemplateVersionsInput),
  },
  {
    method: 'GET',
    path: '/template-settings',
    operationId: 'getTemplateSettings',
    tag: 'templates',
    summary: "A tenant's template settings (its default locale)",
    input: templateSettingsRefInput,
    from: 'query',
    response: templateSettingsSchema,
    run: (m, p, i) => m.getTemplateSettings(p, i as TemplateSettingsRefInput),
  },
  {
    method: 'PUT',
    path: '/template-settings',
    operationId: 'setTemplateSettings',
    tag: 'templates',
    summary: "Set a tenant's default locale, the last fallback of every template lookup",
    description: '`infra_admin`; audited.',
    input: setTemplateSettingsInput,
    from: 'body',
    response: templateSettingsSchema,
    run: (m, p, i) => m.setTemplateSettings(p, i as SetTemplateSettingsInput),
  },
]
