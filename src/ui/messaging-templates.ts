import { css, html, nothing, type PropertyDeclarations, type TemplateResult } from 'lit'
import type { TemplatePreview } from '../application/template-service.js'
import type { MessagingClient } from '../client/index.js'
import {
  TEMPLATE_CHANNEL_TYPES,
  TEMPLATE_FIELDS,
  type TemplateChannelType,
  type TemplateSettings,
  type TemplateVersion,
} from '../domain/template.js'
import { baseStyles, describeError, formatTime, MessagingElement, type SessionClient } from './shared.js'
import { previewStyles, renderPreview } from './template-preview.js'

/** What `<messaging-templates>` calls. `createUiClient` gives one. */
export type TemplatesClient = Pick<
  MessagingClient,
  | 'listTemplates'
  | 'createTemplate'
  | 'updateTemplate'
  | 'listTemplateVersions'
  | 'previewTemplate'
  | 'getTemplateSettings'
  | 'setTemplateSettings'
> &
  Partial<Pick<MessagingClient, 'listCategories'>> &
  SessionClient

const TYPE_LABELS: Record<TemplateChannelType, string> = {
  email: 'Email',
  sms: 'SMS',
  in_app: 'In-app',
  webhook: 'Webhook',
}

const FIELD_LABELS: Record<string, string> = {
  subject: 'Subject',
  html: 'HTML body',
  text: 'Text',
  title: 'Title',
  body: 'Body',
  actionUrl: 'Action URL',
}

const FIELD_HINTS: Record<string, string> = {
  html: 'Every {{ output }} is HTML-escaped; | raw prints a value as it is.',
  actionUrl: 'http(s) or a path on your site: /invoices/{{ data.id }}',
  body: '',
}

/** Single-line fields get an input; the rest a text area. */
const SINGLE_LINE = new Set(['subject', 'title', 'actionUrl'])

const fieldLabel = (channelType: TemplateChannelType, name: string) =>
  channelType === 'webhook' && name === 'body' ? 'JSON body' : (FIELD_LABELS[name] ?? name)

const fieldHint = (channelType: TemplateChannelType, name: string) =>
  channelType === 'webhook' && name === 'body'
    ? 'Must render to JSON: print values with the json filter, {{ data.amount | json }}.'
    : (FIELD_HINTS[name] ?? '')

/** The editor's state: the template's key and its sources, and the sample data of the preview. */
interface Draft {
  categoryKey: string
  channelType: TemplateChannelType
  locale: string
  content: Record<string, string>
  sampleData: string
}

const PREVIEW_DELAY_MS = 300

const styles = css`
  .layout {
    display: grid;
    grid-template-columns: repeat(auto-fit, minmax(min(100%, 22rem), 1fr));
    gap: 1rem;
    margin-top: 1rem;
    padding-top: 0.75rem;
    border-top: 1px solid var(--messaging-border-color, #d0d7de);
  }
  form {
    display: grid;
    gap: 0.6rem;
    align-content: start;
    min-width: 0;
  }
  .field {
    display: grid;
    gap: 0.2rem;
  }
  .field input,
  .field select,
  .field textarea {
    width: 100%;
  }
  textarea {
    font-family: var(--messaging-code-font, ui-monospace, monospace);
    font-size: 0.9em;
    min-height: 5rem;
    resize: vertical;
  }
  label,
  .label {
    font-weight: 500;
    margin: 0;
  }
  .hint {
    font-size: 0.85em;
    color: var(--messaging-muted, #57606a);
  }
  .field-error {
    margin: 0;
    font-size: 0.85em;
    color: var(--messaging-danger, #b42318);
  }
  .actions {
    display: flex;
    gap: 0.5rem;
    flex-wrap: wrap;
  }
  .filters {
    display: flex;
    flex-wrap: wrap;
    gap: 0.5rem 1rem;
    align-items: end;
  }
  .filters .field {
    min-width: 9rem;
  }
  .table-wrap {
    overflow-x: auto;
  }
  tr[aria-current='true'] td {
    background: var(--messaging-selected-background, #eef5ff);
  }
  .versions {
    list-style: none;
    margin: 0;
    padding: 0;
  }
  .versions li {
    display: flex;
    flex-wrap: wrap;
    gap: 0.25rem 0.75rem;
    align-items: center;
    padding: 0.35rem 0;
    border-bottom: 1px solid var(--messaging-border-color, #d0d7de);
  }
  button.link {
    background: none;
    border: 0;
    padding: 0;
    color: var(--messaging-accent, #0b5cad);
    text-decoration: underline;
    text-align: left;
  }
  /* A phone's width: the table keeps what tells templates apart. */
  @media (max-width: 36rem) {
    .saved {
      display: none;
    }
  }
  .settings {
    display: flex;
    flex-wrap: wrap;
    gap: 0.5rem;
    align-items: end;
    margin-bottom: 0.75rem;
  }
`

/**
 * `<messaging-templates>`: a tenant's notification templates for an infrastructure
 * administrator: the current version of each (category x channel type x locale), filtered
 * by category, channel type and locale; an editor whose every change is rendered by the
 * server's preview (with sample data, sending nothing) beside it; the template's versions,
 * any of which can be loaded back into the editor; the tenant's default locale.
 *
 * @example
 * <messaging-templates infrastructure-id="…"></messaging-templates>
 *
 * Events: `messaging-template-saved` (detail: the new version), `messaging-error`.
 */
export class MessagingTemplates extends MessagingElement<TemplatesClient> {
  static override styles = [baseStyles, previewStyles, styles]
  static override properties: PropertyDeclarations = {
    templates: { state: true },
    categories: { state: true },
    filter: { state: true },
    settings: { state: true },
    editing: { state: true },
    draft: { state: true },
    errors: { state: true },
    preview: { state: true },
    previewError: { state: true },
    previewing: { state: true },
    versions: { state: true },
    status: { state: true },
    saving: { state: true },
  }

  declare protected templates: TemplateVersion[]
  /** Category keys the tenant has, for suggestions. */
  declare protected categories: string[]
  declare protected filter: { categoryKey: string; channelType: string; locale: string }
  declare protected settings: TemplateSettings | null
  /** null: no editor; 'new': creating; a version: editing the template it is the current version of. */
  declare protected editing: TemplateVersion | 'new' | null
  declare protected draft: Draft
  /** Field path (`categoryKey`, `content.subject`, `sampleData`) -> message. */
  declare protected errors: Map<string, string>
  declare protected preview: TemplatePreview | null
  declare protected previewError: string | null
  declare protected previewing: boolean
  declare protected versions: TemplateVersion[]
  declare protected status: string
  declare protected saving: boolean

  private previewTimer: ReturnType<typeof setTimeout> | undefined
  /** Answers to older previews than the latest are dropped. */
  private previewSeq = 0

  constructor() {
    super()
    this.templates = []
    this.categories = []
    this.filter = { categoryKey: '', channelType: '', locale: '' }
    this.settings = null
    this.editing = null
    this.draft = emptyDraft()
    this.errors = new Map()
    this.preview = null
    this.previewError = null
    this.previewing = false
    this.versions = []
    this.status = ''
    this.saving = false
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    clearTimeout(this.previewTimer)
  }

  override async reload(): Promise<void> {
    const client = this.client
    if (!client) return
    this.loading = true
    this.error = null
    if (this.sessionRole === null) void this.loadRole(client)
    const [templates, settings, categories] = await Promise.all([
      this.guard(() => client.listTemplates(this.scope)),
      this.guard(() => client.getTemplateSettings(this.scope.infrastructureId)),
      client.listCategories
        ? client.listCategories(this.scope.infrastructureId).catch(() => [])
        : Promise.resolve([]),
    ])
    this.templates = templates ?? []
    this.settings = settings ?? null
    this.categories = [
      ...new Set([...categories.map((c) => c.key), ...this.templates.map((t) => t.categoryKey)]),
    ].sort()
    this.loading = false
  }

  /** Writing templates and settings needs `infra_admin`: nobody else is offered what would be refused. */
  protected get canEdit(): boolean {
    return this.roleIs('infra_admin')
  }

  protected override resetForIdentity(): void {
    clearTimeout(this.previewTimer)
    this.previewSeq++
    this.templates = []
    this.settings = null
    this.editing = null
    this.errors = new Map()
    this.preview = null
    this.previewError = null
    this.versions = []
  }

  private get shown(): TemplateVersion[] {
    const f = this.filter
    return this.templates.filter(
      (t) =>
        (f.categoryKey === '' || t.categoryKey === f.categoryKey) &&
        (f.channelType === '' || t.channelType === f.channelType) &&
        (f.locale === '' || t.locale === f.locale),
    )
  }

  /** Opens the editor for a new template. */
  startCreate(): void {
    this.editing = 'new'
    this.status = ''
    this.errors = new Map()
    this.versions = []
    this.draft = { ...emptyDraft(), locale: this.settings?.defaultLocale ?? 'en' }
    this.preview = null
    this.previewError = null
    void this.updateComplete.then(() => this.shadowRoot?.getElementById('t-categoryKey')?.focus())
  }

  /** Opens the editor on a template's current version, with its history. */
  async startEdit(t: TemplateVersion, keepStatus = false): Promise<void> {
    this.editing = t
    if (!keepStatus) this.status = ''
    this.errors = new Map()
    this.draft = {
      categoryKey: t.categoryKey,
      channelType: t.channelType,
      locale: t.locale,
      content: { ...t.content },
      sampleData: this.draft.sampleData,
    }
    this.schedulePreview(0)
    await this.updateComplete
    this.shadowRoot?.querySelector<HTMLElement>('#editor-title')?.focus()
    const client = this.client
    if (!client) return
    const versions = await this.guard(() =>
      client.listTemplateVersions({
        ...this.scope,
        categoryKey: t.categoryKey,
        channelType: t.channelType,
        locale: t.locale,
        limit: 20,
      }),
    )
    if (this.editing === t) this.versions = versions ?? []
  }

  /** Puts an older version's sources in the editor; saving makes them current again (as a new version). */
  private loadVersion(v: TemplateVersion): void {
    this.draft = { ...this.draft, content: { ...v.content } }
    this.errors = new Map()
    this.status = `Version ${v.version} loaded into the editor; save to make it current.`
    this.schedulePreview(0)
  }

  private close(): void {
    const was = this.editing
    this.editing = null
    this.errors = new Map()
    clearTimeout(this.previewTimer)
    void this.updateComplete.then(() => {
      const target =
        was && was !== 'new'
          ? this.shadowRoot?.querySelector<HTMLElement>(`[data-template="${was.id}"] button`)
          : this.shadowRoot?.querySelector<HTMLElement>('#new-template')
      target?.focus()
    })
  }

  private setDraft(patch: Partial<Draft>): void {
    this.draft = { ...this.draft, ...patch }
    this.schedulePreview(PREVIEW_DELAY_MS)
  }

  private setField(name: string, value: string): void {
    this.setDraft({ content: { ...this.draft.content, [name]: value } })
  }

  /** The draft's sources for its channel type: fields of other types and empty optional ones left out. */
  private contentOf(): Record<string, string> {
    const out: Record<string, string> = {}
    for (const f of TEMPLATE_FIELDS[this.draft.channelType]) {
      const v = this.draft.content[f.name] ?? ''
      if (v !== '' || f.required) out[f.name] = v
    }
    return out
  }

  private sampleData(): Record<string, unknown> | null {
    const text = this.draft.sampleData.trim()
    if (text === '') return {}
    try {
      const v: unknown = JSON.parse(text)
      return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null
    } catch {
      return null
    }
  }

  private schedulePreview(delayMs: number): void {
    clearTimeout(this.previewTimer)
    this.previewTimer = setTimeout(() => void this.runPreview(), delayMs)
  }

  /** Asks the server to render the draft; keeps only the answer to the latest ask. */
  private async runPreview(): Promise<void> {
    const client = this.client
    if (!client || !this.editing) return
    const data = this.sampleData()
    const errors = new Map([...this.errors].filter(([k]) => !k.startsWith('content.') && k !== 'sampleData'))
    if (data === null) {
      errors.set('sampleData', 'Sample data must be a JSON object: {"name": "Ada"}')
      this.errors = errors
      this.previewError = 'The sample data is not a JSON object.'
      return
    }
    const seq = ++this.previewSeq
    this.previewing = true
    try {
      const preview = await client.previewTemplate({
        ...this.scope,
        channelType: this.draft.channelType,
        content: this.contentOf(),
        data: data as never,
        ...(this.draft.locale.trim() !== '' && { locale: this.draft.locale.trim() }),
      } as never)
      if (seq !== this.previewSeq) return
      this.preview = preview
      this.previewError = null
      this.errors = errors
    } catch (e) {
      if (seq !== this.previewSeq) return
      const issues = issuesOf(e)
      if (issues) {
        for (const i of issues) {
          const path = i.path === 'data' || i.path.startsWith('data.') ? 'sampleData' : i.path
          errors.set(path, i.message)
        }
        this.previewError = `The preview failed: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`
      } else {
        this.previewError = describeError(e)
      }
      this.errors = errors
      this.preview = null
    } finally {
      if (seq === this.previewSeq) this.previewing = false
    }
  }

  private async save(e: Event): Promise<void> {
    e.preventDefault()
    const client = this.client
    const editing = this.editing
    if (!client || !editing || this.saving) return
    this.saving = true
    this.error = null
    this.status = ''
    const key = {
      ...this.scope,
      categoryKey: this.draft.categoryKey.trim(),
      channelType: this.draft.channelType,
      locale: this.draft.locale.trim(),
      content: this.contentOf(),
    }
    try {
      const saved =
        editing === 'new'
          ? await client.createTemplate(key as never)
          : await client.updateTemplate({ ...key, baseVersion: editing.version } as never)
      this.saving = false
      await this.reload()
      this.status =
        saved.version === 1
          ? `Template ${saved.categoryKey} (${TYPE_LABELS[saved.channelType]}, ${saved.locale}) created.`
          : `Version ${saved.version} of ${saved.categoryKey} (${TYPE_LABELS[saved.channelType]}, ${saved.locale}) saved.`
      this.dispatchEvent(
        new CustomEvent('messaging-template-saved', { detail: saved, bubbles: true, composed: true }),
      )
      await this.startEdit(saved, true)
    } catch (err) {
      this.saving = false
      this.dispatchEvent(new CustomEvent('messaging-error', { detail: err, bubbles: true, composed: true }))
      const issues = issuesOf(err)
      if (issues) {
        this.errors = new Map(issues.map((i) => [i.path, i.message]))
        this.error = 'Some fields need attention.'
        await this.updateComplete
        this.shadowRoot?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus()
        return
      }
      this.error =
        (err as { code?: unknown }).code === 'CONFLICT' && editing !== 'new'
          ? `Someone else saved this template after version ${editing.version}. Reload it to see their version before saving yours.`
          : (err as { code?: unknown }).code === 'CONFLICT'
            ? 'A template for this category, channel type and locale exists already: edit it instead.'
            : describeError(err)
      await this.updateComplete
      this.shadowRoot?.querySelector<HTMLElement>('.alert')?.focus()
    }
  }

  private async reloadEditing(): Promise<void> {
    const editing = this.editing
    await this.reload()
    if (!editing || editing === 'new') return
    const current = this.templates.find(
      (t) =>
        t.categoryKey === editing.categoryKey &&
        t.channelType === editing.channelType &&
        t.locale === editing.locale,
    )
    if (current) {
      this.error = null
      await this.startEdit(current)
    }
  }

  private async saveSettings(e: Event): Promise<void> {
    e.preventDefault()
    const client = this.client
    if (!client) return
    const input = this.shadowRoot?.getElementById('default-locale') as HTMLInputElement | null
    const defaultLocale = input?.value.trim() ?? ''
    this.errors = new Map([...this.errors].filter(([k]) => k !== 'defaultLocale'))
    try {
      this.settings = await client.setTemplateSettings({ ...this.scope, defaultLocale })
      this.status = `Default locale set to ${this.settings.defaultLocale}.`
    } catch (err) {
      const issues = issuesOf(err)
      if (issues) this.errors = new Map([...this.errors, ['defaultLocale', issues[0]!.message]])
      else this.error = describeError(err)
      this.dispatchEvent(new CustomEvent('messaging-error', { detail: err, bubbles: true, composed: true }))
    }
  }

  private input(
    path: string,
    label: string,
    value: string,
    onInput: (v: string) => void,
    opts: { multiline?: boolean; hint?: string; list?: string; required?: boolean } = {},
  ): TemplateResult {
    const id = `t-${path.replace(/\W/g, '-')}`
    const error = this.errors.get(path)
    const described = [opts.hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ')
    const handler = (e: Event) => onInput((e.target as HTMLInputElement | HTMLTextAreaElement).value)
    return html`<div class="field" data-path=${path}>
      <label for=${id}>${label}</label>
      ${
        opts.multiline
          ? html`<textarea
              id=${id}
              spellcheck="false"
              .value=${value}
              ?required=${opts.required}
              aria-invalid=${error ? 'true' : 'false'}
              aria-describedby=${described || nothing}
              @input=${handler}
            ></textarea>`
          : html`<input
              id=${id}
              .value=${value}
              list=${opts.list ?? nothing}
              autocomplete="off"
              spellcheck="false"
              ?required=${opts.required}
              aria-invalid=${error ? 'true' : 'false'}
              aria-describedby=${described || nothing}
              @input=${handler}
            />`
      }
      ${opts.hint ? html`<span class="hint" id=${`${id}-hint`}>${opts.hint}</span>` : nothing}
      ${error ? html`<p class="field-error" id=${`${id}-error`}>${error}</p>` : nothing}
    </div>`
  }

  private renderKeyFields(creating: boolean): TemplateResult {
    if (!creating) {
      const d = this.draft
      return html`<p class="muted">
        <code>${d.categoryKey}</code> · ${TYPE_LABELS[d.channelType]} · ${d.locale}
        ${this.editing && this.editing !== 'new' ? html` · version ${this.editing.version}` : nothing}
      </p>`
    }
    const typeError = this.errors.get('channelType')
    return html`${this.input(
      'categoryKey',
      'Category key',
      this.draft.categoryKey,
      (v) => this.setDraft({ categoryKey: v }),
      {
        hint: 'The notification category it serves: invoice.paid',
        list: 'category-keys',
        required: true,
      },
    )}
      <datalist id="category-keys">${this.categories.map((k) => html`<option value=${k}></option>`)}</datalist>
      <div class="field" data-path="channelType">
        <label for="t-channelType">Channel type</label>
        <select
          id="t-channelType"
          .value=${this.draft.channelType}
          aria-invalid=${typeError ? 'true' : 'false'}
          @change=${(e: Event) => this.setDraft({ channelType: (e.target as HTMLSelectElement).value as TemplateChannelType })}
        >
          ${TEMPLATE_CHANNEL_TYPES.map(
            (t) =>
              html`<option value=${t} ?selected=${t === this.draft.channelType}>${TYPE_LABELS[t]}</option>`,
          )}
        </select>
      </div>
      ${this.input('locale', 'Locale', this.draft.locale, (v) => this.setDraft({ locale: v }), {
        hint: 'BCP 47: en, de, de-CH, pt-BR',
        required: true,
      })}`
  }

  private renderEditor(): TemplateResult | typeof nothing {
    const editing = this.editing
    if (!editing) return nothing
    const creating = editing === 'new'
    const type = this.draft.channelType
    return html`<div class="layout">
      <form novalidate @submit=${this.save} aria-labelledby="editor-title">
        <h3 id="editor-title" tabindex="-1">${creating ? 'New template' : `Edit ${editing.categoryKey}`}</h3>
        ${this.renderKeyFields(creating)}
        ${TEMPLATE_FIELDS[type].map((f) =>
          this.input(
            `content.${f.name}`,
            fieldLabel(type, f.name),
            this.draft.content[f.name] ?? '',
            (v) => this.setField(f.name, v),
            {
              multiline: !SINGLE_LINE.has(f.name),
              hint: fieldHint(type, f.name),
              required: f.required,
            },
          ),
        )}
        ${this.input(
          'sampleData',
          'Sample data (JSON)',
          this.draft.sampleData,
          (v) => this.setDraft({ sampleData: v }),
          {
            multiline: true,
            hint: 'What {{ data.… }} holds in the preview. {{ recipient.… }} is a sample profile.',
          },
        )}
        <div class="actions">
          <button type="submit" ?disabled=${this.saving}>${creating ? 'Create template' : 'Save new version'}</button>
          <button type="button" class="secondary" @click=${this.close}>Close</button>
        </div>
      </form>
      <section class="preview" aria-labelledby="preview-title">
        <h3 id="preview-title">Preview</h3>
        <div aria-live="polite" aria-busy=${this.previewing ? 'true' : 'false'} id="preview-result">
          ${
            this.previewError
              ? html`<p class="field-error" role="status">${this.previewError}</p>`
              : this.preview
                ? renderPreview(this.preview)
                : html`<p class="muted">${this.previewing ? 'Rendering…' : 'The preview appears as you type.'}</p>`
          }
        </div>
        ${creating ? nothing : this.renderVersions()}
      </section>
    </div>`
  }

  private renderVersions(): TemplateResult {
    return html`<h3 id="versions-title">Versions</h3>
      <ul class="versions" aria-labelledby="versions-title">
        ${this.versions.map(
          (v, i) => html`<li data-version=${v.version}>
            <strong>Version ${v.version}</strong>${i === 0 ? html` <span class="muted">(current)</span>` : nothing}
            <span class="muted">${formatTime(v.createdAt)}</span>
            <button type="button" class="secondary" aria-label=${`Load version ${v.version} into the editor`} @click=${() => this.loadVersion(v)}>
              Load into editor
            </button>
          </li>`,
        )}
      </ul>`
  }

  private renderFilters(): TemplateResult {
    const locales = [...new Set(this.templates.map((t) => t.locale))].sort()
    const select = (
      key: 'categoryKey' | 'channelType' | 'locale',
      label: string,
      options: [string, string][],
    ) =>
      html`<div class="field">
        <label for=${`filter-${key}`}>${label}</label>
        <select
          id=${`filter-${key}`}
          @change=${(e: Event) => {
            this.filter = { ...this.filter, [key]: (e.target as HTMLSelectElement).value }
          }}
        >
          <option value="" ?selected=${this.filter[key] === ''}>All</option>
          ${options.map(([v, l]) => html`<option value=${v} ?selected=${this.filter[key] === v}>${l}</option>`)}
        </select>
      </div>`
    return html`<div class="filters" role="group" aria-label="Filter templates">
      ${select(
        'categoryKey',
        'Filter by category',
        this.categories.map((k) => [k, k]),
      )}
      ${select(
        'channelType',
        'Filter by channel type',
        TEMPLATE_CHANNEL_TYPES.map((t) => [t, TYPE_LABELS[t]]),
      )}
      ${select(
        'locale',
        'Filter by locale',
        locales.map((l) => [l, l]),
      )}
    </div>`
  }

  private renderSettings(): TemplateResult {
    if (!this.canEdit)
      return html`<p class="muted">
        Default locale <strong>${this.settings?.defaultLocale ?? 'en'}</strong>; templates are written by an
        infrastructure administrator.
      </p>`
    const error = this.errors.get('defaultLocale')
    return html`<form class="settings" novalidate @submit=${this.saveSettings} aria-label="Template settings">
      <div class="field">
        <label for="default-locale">Default locale</label>
        <input
          id="default-locale"
          .value=${this.settings?.defaultLocale ?? 'en'}
          autocomplete="off"
          aria-invalid=${error ? 'true' : 'false'}
          aria-describedby="default-locale-hint${error ? ' default-locale-error' : ''}"
        />
        <span class="hint" id="default-locale-hint">Used when neither a recipient's locale nor its language has a template.</span>
        ${error ? html`<p class="field-error" id="default-locale-error">${error}</p>` : nothing}
      </div>
      <button type="submit" class="secondary">Set default locale</button>
    </form>`
  }

  protected override render(): TemplateResult {
    const current = this.editing && this.editing !== 'new' ? this.editing : null
    const same = (t: TemplateVersion) =>
      current !== null &&
      t.categoryKey === current.categoryKey &&
      t.channelType === current.channelType &&
      t.locale === current.locale
    const shown = this.shown
    return html`<section aria-labelledby="templates-title" part="section">
      <h2 id="templates-title">Templates</h2>
      ${
        this.error
          ? html`<div class="alert" role="alert" tabindex="-1">
            ${this.error}
            ${
              this.error.startsWith('Someone else saved')
                ? html` <button type="button" class="secondary" @click=${() => this.reloadEditing()}>Reload template</button>`
                : nothing
            }
          </div>`
          : nothing
      }
      <p class="status" role="status">${this.status}</p>
      ${this.renderSettings()}
      <div class="toolbar">
        ${
          this.canEdit
            ? html`<button id="new-template" type="button" @click=${this.startCreate}>New template</button>`
            : nothing
        }
        <button type="button" class="secondary" @click=${() => this.reload()}>Refresh</button>
        ${this.loading ? html`<span class="muted">Loading…</span>` : nothing}
      </div>
      ${this.renderFilters()}
      <div class="table-wrap">
        <table>
          <caption class="visually-hidden">Current template versions</caption>
          <thead>
            <tr>
              <th scope="col">Category</th>
              <th scope="col">Channel</th>
              <th scope="col">Locale</th>
              <th scope="col" class="num">Version</th>
              <th scope="col" class="saved">Saved</th>
            </tr>
          </thead>
          <tbody>
            ${
              shown.length === 0
                ? html`<tr><td colspan="5" class="muted">${this.templates.length === 0 ? 'No templates yet.' : 'No template matches the filters.'}</td></tr>`
                : shown.map(
                    (t) => html`<tr data-template=${t.id} aria-current=${same(t) ? 'true' : 'false'}>
                      <td>
                        ${
                          this.canEdit
                            ? html`<button
                              type="button"
                              class="link"
                              aria-label=${`Edit ${t.categoryKey} ${TYPE_LABELS[t.channelType]} ${t.locale}`}
                              @click=${() => this.startEdit(t)}
                            >
                              <code>${t.categoryKey}</code>
                            </button>`
                            : html`<code>${t.categoryKey}</code>`
                        }
                      </td>
                      <td>${TYPE_LABELS[t.channelType]}</td>
                      <td>${t.locale}</td>
                      <td class="num">${t.version}</td>
                      <td class="saved">${formatTime(t.createdAt)}</td>
                    </tr>`,
                  )
            }
          </tbody>
        </table>
      </div>
      ${this.renderEditor()}
    </section>`
  }
}

function emptyDraft(): Draft {
  return { categoryKey: '', channelType: 'email', locale: 'en', content: {}, sampleData: '{}' }
}

/** The issues of a ValidationError the client threw, or null for any other error. */
function issuesOf(e: unknown): ReadonlyArray<{ path: string; message: string }> | null {
  const err = e as { code?: unknown; issues?: unknown }
  return err?.code === 'VALIDATION_FAILED' && Array.isArray(err.issues)
    ? (err.issues as Array<{ path: string; message: string }>)
    : null
}
