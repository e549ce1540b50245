import { ValidationError, type ValidationIssue } from '../domain/errors.js'
import { cleanOutsideText, MAX_ERROR_TEXT } from '../domain/outside-text.js'
import {
  assembleRendered,
  type RenderContext,
  type RenderedTemplate,
  TEMPLATE_FIELDS,
  type TemplateChannelType,
  type TemplateContent,
  type TemplateProblem,
} from '../domain/template.js'
import type { TemplateEngine } from '../ports/template-engine.js'

/** A template's rendering, or the first field that failed and why. */
export type RenderOutcome =
  | { readonly ok: true; readonly rendered: RenderedTemplate }
  | { readonly ok: false; readonly problem: TemplateProblem }

/** What a render needs of a template: its channel type and its sources. */
export interface RenderableTemplate {
  readonly channelType: TemplateChannelType
  readonly content: TemplateContent
}

/**
 * Renders templates field by field through the engine (HTML-escaping the fields that are
 * HTML), then holds the result to the channel type's rules (`assembleRendered`). The one
 * path both the preview and delivery take, so what an admin previews is what is sent.
 */
export class TemplateRenderer {
  constructor(private readonly engine: TemplateEngine) {}

  /** Every field that does not parse (or uses what is not available), in field order. */
  check(channelType: TemplateChannelType, content: TemplateContent): TemplateProblem[] {
    const problems: TemplateProblem[] = []
    for (const f of TEMPLATE_FIELDS[channelType]) {
      const source = content[f.name]
      if (source === undefined) continue
      const failure = this.engine.check(source)
      if (failure) problems.push({ field: f.name, rule: failure.rule, message: failure.message })
    }
    return problems
  }

  /** Throws a ValidationError naming `content.<field>` and the rule for each field that does not parse. */
  assertParses(channelType: TemplateChannelType, content: TemplateContent): void {
    const problems = this.check(channelType, content)
    if (problems.length > 0) throw new ValidationError(problems.map(asIssue))
  }

  async render(template: RenderableTemplate, context: RenderContext): Promise<RenderOutcome> {
    const rendered: Record<string, string> = {}
    for (const f of TEMPLATE_FIELDS[template.channelType]) {
      const source = template.content[f.name]
      if (source === undefined) continue
      const r = await this.engine.render(source, context, f.mode)
      if (!r.ok) return { ok: false, problem: { field: f.name, rule: r.rule, message: r.message } }
      rendered[f.name] = r.output
    }
    const assembled = assembleRendered(template.channelType, rendered, context.data)
    return assembled.ok ? { ok: true, rendered: assembled.value } : { ok: false, problem: assembled.problem }
  }
}

/** A problem as the issue of a ValidationError: `content.<field>`, the rule, the engine's words. */
export const asIssue = (p: TemplateProblem): ValidationIssue => ({
  path: `content.${p.field}`,
  rule: p.rule,
  message: p.message,
})

/**
 * The text a message that failed to render records as its error: the field, the rule and
 * the engine's words, cleaned like any text from outside (a template may hold any text, and
 * the error lands in a database column and in logs) and capped like every attempt's error.
 */
export function templateErrorText(p: TemplateProblem): string {
  return cleanOutsideText(`template content.${p.field} (${p.rule}): ${p.message}`, MAX_ERROR_TEXT)
}
