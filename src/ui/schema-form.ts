import { css, html, nothing, type TemplateResult } from 'lit'
import type { JsonSchema } from './ui-client.js'

/** Shown in place of a secret in every read; sent back unchanged, it keeps the stored secret. */
export const REDACTED = '[redacted]'

export type FieldKind =
  | 'text'
  | 'email'
  | 'url'
  | 'integer'
  | 'number'
  | 'boolean'
  | 'enum'
  | 'list'
  | 'map'
  | 'json'

/** One input of a generated form. `path` is dotted from the input's root (`config.smtp.host`). */
export interface LeafField {
  readonly node: 'leaf'
  readonly path: string
  readonly label: string
  readonly kind: FieldKind
  readonly required: boolean
  /** Write-only: never shown, only set or replaced. */
  readonly secret: boolean
  readonly enumValues?: readonly string[]
  readonly defaultValue?: unknown
  readonly hint?: string
}

/** A nested object: a fieldset; an optional one is left out when nothing in it is filled. */
export interface GroupField {
  readonly node: 'group'
  readonly path: string
  readonly label: string
  readonly required: boolean
  readonly children: readonly FormNode[]
}

export type FormNode = LeafField | GroupField

type Schema = Record<string, unknown>

/** `apiKeyHeader` -> `Api key header`. */
export function humanize(key: string): string {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .toLowerCase()
  return words.charAt(0).toUpperCase() + words.slice(1)
}

/** Follows a local `$ref` and unwraps `anyOf [X, null]`; anything else stays as it is. */
function resolve(schema: Schema, root: Schema): { schema: Schema; nullable: boolean } {
  let s = schema
  let nullable = false
  for (let i = 0; i < 8; i++) {
    if (typeof s.$ref === 'string' && s.$ref.startsWith('#/')) {
      let target: unknown = root
      for (const part of s.$ref.slice(2).split('/')) target = (target as Schema | undefined)?.[part]
      if (typeof target !== 'object' || target === null) break
      const { $ref: _ref, ...rest } = s
      s = { ...(target as Schema), ...rest }
      continue
    }
    const alts = (s.anyOf ?? s.oneOf) as Schema[] | undefined
    if (Array.isArray(alts)) {
      const nonNull = alts.filter((a) => a.type !== 'null')
      if (nonNull.length < alts.length) nullable = true
      if (nonNull.length === 1) {
        const { anyOf: _a, oneOf: _o, ...rest } = s
        s = { ...nonNull[0], ...rest }
        continue
      }
    }
    if (Array.isArray(s.type) && s.type.includes('null')) {
      nullable = true
      const types = s.type.filter((t) => t !== 'null')
      s = { ...s, type: types.length === 1 ? types[0] : types }
    }
    break
  }
  return { schema: s, nullable }
}

function hintOf(s: Schema, kind: FieldKind): string | undefined {
  const parts: string[] = []
  if (typeof s.description === 'string') parts.push(s.description)
  if (kind === 'url') parts.push('an http(s) URL')
  if (kind === 'list') parts.push('one value per line')
  if (kind === 'map') parts.push('one "Name: value" per line')
  if (kind === 'json') parts.push('JSON')
  if (typeof s.minimum === 'number' && typeof s.maximum === 'number')
    parts.push(`${s.minimum} to ${s.maximum}`)
  if (s.default !== undefined && s.default !== null && typeof s.default !== 'object')
    parts.push(`default ${String(s.default)}`)
  return parts.length > 0 ? parts.join('; ') : undefined
}

function kindOf(s: Schema): FieldKind | 'group' {
  const type = s.type
  if (Array.isArray(s.enum) && s.enum.every((v) => typeof v === 'string')) return 'enum'
  if (typeof s.const === 'string') return 'enum'
  if (type === 'object') {
    if (s.properties && typeof s.properties === 'object') return 'group'
    const extra = s.additionalProperties as Schema | boolean | undefined
    if (typeof extra === 'object' && extra.type === 'string') return 'map'
    return 'json'
  }
  if (type === 'string') return s.format === 'email' ? 'email' : s.format === 'uri' ? 'url' : 'text'
  if (type === 'integer') return 'integer'
  if (type === 'number') return 'number'
  if (type === 'boolean') return 'boolean'
  if (type === 'array') {
    const items = s.items as Schema | undefined
    if (items && items.type === 'string') return 'list'
  }
  return 'json'
}

/**
 * The form of a JSON Schema object: one node per property, nested objects as groups.
 * `secretPaths` are relative to the schema (`smtp.auth.pass`); paths in the result are
 * prefixed with `prefix` so they line up with the problem document's issue paths.
 */
export function formOf(
  schema: JsonSchema,
  secretPaths: readonly string[],
  prefix = 'config',
  label = 'Configuration',
): GroupField {
  const root = schema as Schema
  const secrets = new Set(secretPaths.map((p) => `${prefix}.${p}`))
  const walk = (raw: Schema, path: string, name: string, required: boolean, depth: number): FormNode => {
    const { schema: s } = resolve(raw, root)
    const kind = depth > 6 ? 'json' : kindOf(s)
    if (kind === 'group') {
      const props = s.properties as Record<string, Schema>
      const req = new Set(Array.isArray(s.required) ? (s.required as string[]) : [])
      return {
        node: 'group',
        path,
        label: name,
        required,
        children: Object.entries(props).map(([k, v]) =>
          walk(v, `${path}.${k}`, humanize(k), req.has(k), depth + 1),
        ),
      }
    }
    const values = Array.isArray(s.enum)
      ? (s.enum as string[])
      : typeof s.const === 'string'
        ? [s.const]
        : undefined
    const hint = hintOf(s, kind)
    return {
      node: 'leaf',
      path,
      label: name,
      kind,
      required,
      secret: secrets.has(path),
      ...(values && { enumValues: values }),
      ...(s.default !== undefined && { defaultValue: s.default }),
      ...(hint !== undefined && { hint }),
    }
  }
  return walk(root, prefix, label, true, 0) as GroupField
}

/** The raw state of a form: text of each input, checked state of each checkbox. */
export type FormValues = Map<string, string | boolean>
/** A secret that is stored: `kept` sends the marker back (the secret stays), `replace` sends a new one. */
export type SecretState = Map<string, 'kept' | 'replace'>

function at(obj: unknown, parts: readonly string[]): unknown {
  let cur = obj
  for (const p of parts) {
    if (typeof cur !== 'object' || cur === null) return undefined
    cur = (cur as Record<string, unknown>)[p]
  }
  return cur
}

const isMarker = (v: unknown) =>
  v === REDACTED || (Array.isArray(v) && v.length > 0 && v.every((x) => x === REDACTED))

/** The form state of a stored config (secrets, already redacted by the server, become `kept`). */
export function valuesOf(
  form: GroupField,
  config: Readonly<Record<string, unknown>> | null,
): { values: FormValues; secrets: SecretState } {
  const values: FormValues = new Map()
  const secrets: SecretState = new Map()
  const visit = (node: FormNode) => {
    if (node.node === 'group') {
      for (const c of node.children) visit(c)
      return
    }
    const v = config ? at(config, node.path.split('.').slice(1)) : undefined
    if (node.secret && isMarker(v)) {
      secrets.set(node.path, 'kept')
      values.set(node.path, '')
      return
    }
    const initial = v === undefined && !config ? node.defaultValue : v
    values.set(node.path, toRaw(node, initial))
  }
  visit(form)
  return { values, secrets }
}

function toRaw(node: LeafField, v: unknown): string | boolean {
  if (node.kind === 'boolean') return v === true
  if (v === undefined || v === null) return ''
  if (node.kind === 'list' && Array.isArray(v)) return v.map(String).join('\n')
  if (node.kind === 'map' && typeof v === 'object') {
    return Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${k}: ${String(x)}`)
      .join('\n')
  }
  if (node.kind === 'json') return JSON.stringify(v, null, 2)
  if (node.kind === 'list' || node.kind === 'map') return JSON.stringify(v)
  return String(v)
}

interface Collected {
  /** Something a person typed or chose (a false checkbox is not). */
  readonly filled: boolean
  readonly present: boolean
  readonly value?: unknown
}

/**
 * The object a form's state stands for. Empty inputs are left out (the schema's default
 * applies), an optional group with nothing filled is left out, a kept secret is sent as
 * the marker the server read out. Inputs that cannot be converted (bad JSON) are reported
 * in `errors` by path; the server reports everything else.
 */
export function collect(
  form: GroupField,
  values: FormValues,
  secrets: SecretState,
  original: Readonly<Record<string, unknown>> | null,
): { value: Record<string, unknown>; errors: Map<string, string> } {
  const errors = new Map<string, string>()
  const leaf = (node: LeafField): Collected => {
    if (node.secret && secrets.get(node.path) === 'kept') {
      return { filled: true, present: true, value: at(original, node.path.split('.').slice(1)) }
    }
    const raw = values.get(node.path) ?? ''
    if (node.kind === 'boolean') return { filled: raw === true, present: true, value: raw === true }
    const text = String(raw)
    if (text.trim() === '') return { filled: false, present: false }
    switch (node.kind) {
      case 'integer':
      case 'number': {
        const n = Number(text.trim())
        // Sent as typed when it is no number: the server names the rule it breaks.
        return { filled: true, present: true, value: Number.isFinite(n) ? n : text }
      }
      case 'list': {
        // Secrets are tokens: any whitespace parts them (a pasted line of several works too).
        const items = node.secret ? text.split(/\s+/) : text.split('\n')
        return { filled: true, present: true, value: items.map((x) => x.trim()).filter((x) => x !== '') }
      }
      case 'map': {
        const out: Record<string, string> = {}
        for (const line of text.split('\n')) {
          if (line.trim() === '') continue
          const i = line.indexOf(':')
          if (i <= 0) {
            errors.set(node.path, `"${line.trim()}" is not "Name: value"`)
            continue
          }
          out[line.slice(0, i).trim()] = line.slice(i + 1).trim()
        }
        return { filled: true, present: true, value: out }
      }
      case 'json':
        try {
          return { filled: true, present: true, value: JSON.parse(text) }
        } catch {
          errors.set(node.path, 'must be valid JSON')
          return { filled: true, present: false }
        }
      default:
        return { filled: true, present: true, value: node.secret ? text : text.trim() }
    }
  }
  const group = (node: GroupField): Collected => {
    const out: Record<string, unknown> = {}
    let filled = false
    for (const c of node.children) {
      const r = c.node === 'group' ? group(c) : leaf(c)
      filled ||= r.filled
      if (r.present) out[c.path.slice(node.path.length + 1)] = r.value
    }
    if (!node.required && !filled) return { filled: false, present: false }
    return { filled, present: true, value: out }
  }
  const value = (group(form).value ?? {}) as Record<string, unknown>
  // Keys the schema does not describe (`rateLimit`, which every type accepts) are kept as they were.
  const known = new Set(form.children.map((c) => c.path.slice(form.path.length + 1)))
  for (const [k, v] of Object.entries(original ?? {})) if (!known.has(k)) value[k] = v
  return { value, errors }
}

/**
 * The required inputs left empty, each with a sentence: what the server would refuse for
 * want of a value, found all at once before sending. A required field with a default is not
 * missing (the default applies), a stored secret kept is not, and the fields of an optional
 * group count only once something in the group is filled.
 */
export function missingOf(form: GroupField, values: FormValues, secrets: SecretState): Map<string, string> {
  const missing = new Map<string, string>()
  const empty = (node: LeafField) =>
    node.kind !== 'boolean' &&
    !(node.secret && secrets.get(node.path) === 'kept') &&
    String(values.get(node.path) ?? '').trim() === ''
  const filled = (node: FormNode): boolean =>
    node.node === 'group'
      ? node.children.some(filled)
      : node.kind === 'boolean'
        ? values.get(node.path) === true
        : !empty(node)
  const walk = (node: FormNode) => {
    if (node.node === 'group') {
      if (node.required || filled(node)) for (const c of node.children) walk(c)
      return
    }
    if (node.required && node.defaultValue === undefined && empty(node))
      missing.set(node.path, requiredSentence(node))
  }
  walk(form)
  return missing
}

/** `Enter a value for Url.`, `Choose a value for Type.` */
export function requiredSentence(node: Pick<LeafField, 'kind' | 'label'>): string {
  return node.kind === 'enum' ? `Choose a value for ${node.label}.` : `Enter a value for ${node.label}.`
}

/** The masked multi-line secret input and its Show toggle. */
export const secretInputStyles = css`
  .secret-input {
    display: flex;
    gap: 0.5rem;
    align-items: start;
  }
  .secret-input textarea {
    flex: 1 1 auto;
    min-width: 0;
    font-family: var(--messaging-mono-font-family, ui-monospace, monospace);
  }
  textarea.masked {
    -webkit-text-security: disc;
  }
`

/** The field (or group) an issue path belongs to: the longest known prefix, else null. */
export function fieldOfIssue(knownPaths: ReadonlySet<string>, issuePath: string): string | null {
  const parts = issuePath.split('.')
  for (let n = parts.length; n > 0; n--) {
    const p = parts.slice(0, n).join('.')
    if (knownPaths.has(p)) return p
  }
  return null
}

/** Every path of a form, groups included. */
export function pathsOf(node: FormNode, out = new Set<string>()): Set<string> {
  out.add(node.path)
  if (node.node === 'group') for (const c of node.children) pathsOf(c, out)
  return out
}

export const idOf = (prefix: string, path: string) => `${prefix}-${path.replace(/[^A-Za-z0-9_-]/g, '-')}`

/** What the render functions need from the element that owns the form. */
export interface FormHost {
  readonly values: FormValues
  readonly secrets: SecretState
  readonly errors: ReadonlyMap<string, string>
  /** The ids of the keys each stored secret is sealed under (from the read's `secrets`), by form path. */
  readonly secretKeys?: ReadonlyMap<string, readonly string[]>
  readonly disabled: boolean
  /** Multi-line secrets whose typed text is shown (masked otherwise). */
  readonly revealed?: ReadonlySet<string>
  onInput(path: string, value: string | boolean): void
  onSecret(path: string, state: 'kept' | 'replace'): void
  onReveal?(path: string, shown: boolean): void
}

function errorOf(host: FormHost, path: string): TemplateResult | typeof nothing {
  const message = host.errors.get(path)
  return message ? html`<p class="field-error" id=${idOf('e', path)}>${message}</p>` : nothing
}

function describedBy(host: FormHost, node: LeafField): string {
  return [node.hint ? idOf('h', node.path) : '', host.errors.has(node.path) ? idOf('e', node.path) : '']
    .filter(Boolean)
    .join(' ')
}

/** One input with its label, hint and error, keyboard-operable, the error tied by aria-describedby. */
export function renderLeaf(host: FormHost, node: LeafField): TemplateResult {
  const id = idOf('f', node.path)
  const invalid = host.errors.has(node.path) ? 'true' : 'false'
  const described = describedBy(host, node) || nothing
  const hint = node.hint ? html`<span class="hint" id=${idOf('h', node.path)}>${node.hint}</span>` : nothing
  const value = host.values.get(node.path)
  const req = node.required ? html`<span aria-hidden="true" class="req">*</span>` : nothing
  const onText = (e: Event) => host.onInput(node.path, (e.target as HTMLInputElement).value)

  if (node.secret && host.secrets.get(node.path) === 'kept') {
    // A list of secrets names one key per value: each key once ("key ui", not "key ui, ui").
    const keys = [...new Set(host.secretKeys?.get(node.path) ?? [])]
    return html`<div class="field secret" data-path=${node.path}>
      <span class="label" id=${idOf('l', node.path)}>${node.label}${req}</span>
      <span class="secret-set" id=${id}
        >Set${keys.length > 0 ? ` · key${keys.length === 1 ? '' : 's'} ${keys.join(', ')}` : ''}</span
      >
      <button
        type="button"
        class="secondary"
        aria-describedby=${idOf('l', node.path)}
        ?disabled=${host.disabled}
        @click=${() => host.onSecret(node.path, 'replace')}
      >
        Replace
      </button>
      ${errorOf(host, node.path)}
    </div>`
  }
  if (node.kind === 'boolean') {
    return html`<div class="field check" data-path=${node.path}>
      <input
        type="checkbox"
        id=${id}
        .checked=${value === true}
        ?disabled=${host.disabled}
        aria-invalid=${invalid}
        aria-describedby=${described}
        @change=${(e: Event) => host.onInput(node.path, (e.target as HTMLInputElement).checked)}
      />
      <label for=${id}>${node.label}</label>
      ${hint} ${errorOf(host, node.path)}
    </div>`
  }
  let control: TemplateResult
  if (node.kind === 'enum') {
    control = html`<select
      id=${id}
      .value=${String(value ?? '')}
      ?disabled=${host.disabled}
      aria-invalid=${invalid}
      aria-describedby=${described}
      ?required=${node.required}
      @change=${onText}
    >
      ${node.required ? nothing : html`<option value="">(none)</option>`}
      ${(node.enumValues ?? []).map((v) => html`<option value=${v} ?selected=${v === value}>${v}</option>`)}
    </select>`
  } else if (node.secret && (node.kind === 'list' || node.kind === 'map' || node.kind === 'json')) {
    // Several values, one per line: a textarea masked like a password input, with a toggle
    // that shows what is being typed now (a stored secret is never read back, so never shown).
    const shown = host.revealed?.has(node.path) === true
    control = html`<span class="secret-input">
      <textarea
        id=${id}
        rows="3"
        class=${shown ? 'secret-text' : 'secret-text masked'}
        autocomplete="off"
        autocapitalize="off"
        spellcheck="false"
        .value=${String(value ?? '')}
        ?disabled=${host.disabled}
        ?required=${node.required}
        aria-invalid=${invalid}
        aria-describedby=${described}
        @input=${onText}
      ></textarea>
      <button
        type="button"
        class="secondary"
        aria-pressed=${shown ? 'true' : 'false'}
        aria-controls=${id}
        aria-label=${`Show ${node.label}`}
        ?disabled=${host.disabled}
        @click=${() => host.onReveal?.(node.path, !shown)}
      >
        Show
      </button>
    </span>`
  } else if (node.secret) {
    control = html`<input
      type="password"
      id=${id}
      autocomplete="new-password"
      .value=${String(value ?? '')}
      ?disabled=${host.disabled}
      ?required=${node.required}
      aria-invalid=${invalid}
      aria-describedby=${described}
      @input=${onText}
    />`
  } else if (node.kind === 'list' || node.kind === 'map' || node.kind === 'json') {
    control = html`<textarea
      id=${id}
      rows="3"
      .value=${String(value ?? '')}
      ?disabled=${host.disabled}
      ?required=${node.required}
      aria-invalid=${invalid}
      aria-describedby=${described}
      @input=${onText}
    ></textarea>`
  } else {
    const type =
      { email: 'email', url: 'url', integer: 'number', number: 'number' }[node.kind as string] ?? 'text'
    control = html`<input
      type=${type}
      id=${id}
      .value=${String(value ?? '')}
      step=${node.kind === 'number' ? 'any' : nothing}
      ?disabled=${host.disabled}
      ?required=${node.required}
      aria-invalid=${invalid}
      aria-describedby=${described}
      @input=${onText}
    />`
  }
  const replacing = node.secret && host.secrets.get(node.path) === 'replace'
  return html`<div class="field" data-path=${node.path}>
    <label for=${id}>${node.label}${req}${replacing ? ' (new value)' : ''}</label>
    ${control} ${hint}
    ${
      replacing
        ? html`<button type="button" class="secondary" @click=${() => host.onSecret(node.path, 'kept')}>
            Keep current
          </button>`
        : nothing
    }
    ${errorOf(host, node.path)}
  </div>`
}

/** A group as a fieldset with its legend; its own errors (a cross-field rule) under the legend. */
export function renderNode(host: FormHost, node: FormNode): TemplateResult {
  if (node.node === 'leaf') return renderLeaf(host, node)
  return html`<fieldset data-path=${node.path}>
    <legend>${node.label}${node.required ? '' : html` <span class="muted">(optional)</span>`}</legend>
    ${errorOf(host, node.path)} ${node.children.map((c) => renderNode(host, c))}
  </fieldset>`
}
