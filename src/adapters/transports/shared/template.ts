/** A `{{variable}}` the data does not hold, or holds as an object. */
export class TemplateError extends Error {
  constructor(readonly variable: string) {
    super(`template variable {{${variable}}} has no printable value`)
  }
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!)

/**
 * Replaces `{{name}}` and `{{user.name}}` with values from `data`. No logic, no partials:
 * a template is text a channel admin writes, so it must not run code. In `html` mode every
 * value is escaped. A missing variable throws rather than sending "Hello ,".
 *
 * @example
 * renderTemplate('Hi {{user.name}}', { user: { name: '<b>Ada</b>' } }, 'html') // 'Hi &lt;b&gt;Ada&lt;/b&gt;'
 */
export function renderTemplate(template: string, data: unknown, mode: 'text' | 'html'): string {
  return template.replace(/\{\{\s*([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)\s*\}\}/g, (_, path: string) => {
    let cur: unknown = data
    for (const part of path.split('.')) {
      if (typeof cur !== 'object' || cur === null || !Object.hasOwn(cur, part)) throw new TemplateError(path)
      cur = (cur as Record<string, unknown>)[part]
    }
    if (cur === null) return ''
    if (typeof cur !== 'string' && typeof cur !== 'number' && typeof cur !== 'boolean') {
      throw new TemplateError(path)
    }
    const text = String(cur)
    return mode === 'html' ? escapeHtml(text) : text
  })
}
