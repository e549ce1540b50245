import type { RenderContext, TemplateProblemRule } from '../domain/template.js'

/** A template source that did not parse or render: the rule it broke and the engine's words. */
export interface TemplateEngineFailure {
  readonly ok: false
  readonly rule: TemplateProblemRule
  /** The engine's message with its line and column; it quotes the template, never the data. */
  readonly message: string
}

/**
 * Parses and renders template sources. Sources are written by a tenant's admins and data
 * comes from anyone who may notify, so an engine reads no file, runs no code, and stops a
 * template that loops or allocates without bound (a `template_limit` failure).
 */
export interface TemplateEngine {
  /** null when `source` parses; otherwise why not. Cheap enough to call on every save. */
  check(source: string): TemplateEngineFailure | null
  /**
   * Renders `source` with `context` as the template's variables (`recipient`, `data`,
   * `tenant`). A variable the context does not hold is a failure, not an empty string; in
   * `html` mode every output is HTML-escaped. Never throws: a failure is a value.
   */
  render(
    source: string,
    context: RenderContext,
    mode: 'text' | 'html',
  ): Promise<{ readonly ok: true; readonly output: string } | TemplateEngineFailure>
}
