import { css, html, nothing, type PropertyDeclarations, type TemplateResult } from 'lit'
import type { MessagingClient } from '../client/index.js'
import type { ChannelView as Channel } from '../domain/channel.js'
import {
  collect,
  type FormHost,
  type FormNode,
  type FormValues,
  fieldOfIssue,
  formOf,
  type GroupField,
  idOf,
  type LeafField,
  missingOf,
  pathsOf,
  renderLeaf,
  renderNode,
  requiredSentence,
  type SecretState,
  secretInputStyles,
  valuesOf,
} from './schema-form.js'
import { baseStyles, describeError, MessagingElement, plainIssue, type SessionClient } from './shared.js'
import type { ChannelTypeInfo } from './ui-client.js'

/** What `<messaging-channels>` calls. `createUiClient` gives one. */
export type ChannelsClient = Pick<
  MessagingClient,
  'listMessagingChannels' | 'createChannel' | 'configureChannel'
> &
  SessionClient & {
    listChannelTypes(): Promise<ChannelTypeInfo[]>
  }

const formStyles = css`
  form {
    display: grid;
    gap: 0.6rem;
    margin-top: 1rem;
    padding-top: 0.75rem;
    border-top: 1px solid var(--messaging-border-color, #d0d7de);
  }
  fieldset {
    border: 1px solid var(--messaging-border-color, #d0d7de);
    border-radius: calc(var(--messaging-radius, 8px) / 2);
    display: grid;
    gap: 0.6rem;
    padding: 0.5rem 0.75rem 0.75rem;
    margin: 0;
  }
  legend {
    font-weight: 600;
    padding: 0 0.25rem;
  }
  .field {
    display: grid;
    gap: 0.2rem;
    max-width: 36rem;
  }
  .field.check {
    grid-template-columns: auto 1fr;
    align-items: center;
    column-gap: 0.4rem;
  }
  .field.check .hint,
  .field.check .field-error {
    grid-column: 2;
  }
  .field.secret {
    grid-template-columns: auto auto 1fr;
    align-items: center;
    column-gap: 0.6rem;
    justify-items: start;
  }
  .field.secret .field-error {
    grid-column: 1 / -1;
  }
  label,
  .label {
    font-weight: 500;
  }
  .secret-set {
    display: inline-block;
    padding: 0.05rem 0.5rem;
    border-radius: 999px;
    background: var(--messaging-badge-background, #ddf4e4);
    color: var(--messaging-success, #1a7f37);
    font-size: 0.85em;
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
  .req {
    color: var(--messaging-danger, #b42318);
    margin-left: 0.15rem;
  }
  .actions {
    display: flex;
    gap: 0.5rem;
  }
  tr[aria-current='true'] td {
    background: var(--messaging-selected-background, #eef5ff);
  }
  :host {
    container-type: inline-size;
  }
  /* Below 34rem (a 390 px phone) the table's rows become cards, each cell labelled by its
     column, so nothing scrolls sideways. */
  @container (max-width: 34rem) {
    thead {
      position: absolute;
      width: 1px;
      height: 1px;
      overflow: hidden;
      clip: rect(0 0 0 0);
    }
    table,
    tbody,
    tr,
    td {
      display: block;
    }
    tr {
      border-bottom: 1px solid var(--messaging-border-color, #d0d7de);
      padding: 0.4rem 0;
    }
    td {
      border: 0;
      padding: 0.15rem 0.25rem;
    }
    td[data-label]::before {
      content: attr(data-label) ': ';
      color: var(--messaging-muted, #57606a);
    }
  }
`

const FIXED_PATHS = ['type', 'channelKey', 'name', 'enabled', 'maxAttempts'] as const

/**
 * `<messaging-channels>`: a tenant's channels for an infrastructure administrator: list,
 * create, configure. The config form is generated from the channel type's JSON Schema
 * (custom types too); secrets are write-only (a stored one shows as "Set", with Replace);
 * the server's validation issues appear beside their fields.
 *
 * @example
 * <messaging-channels infrastructure-id="…"></messaging-channels>
 * <script type="module">document.querySelector('messaging-channels').client = createUiClient({ baseUrl, getToken })</script>
 *
 * Events: `messaging-channel-saved` (detail: the channel), `messaging-error` (detail: the error).
 */
export class MessagingChannels extends MessagingElement<ChannelsClient> implements FormHost {
  static override styles = [baseStyles, formStyles, secretInputStyles]
  static override properties: PropertyDeclarations = {
    channels: { state: true },
    types: { state: true },
    editing: { state: true },
    status: { state: true },
    saving: { state: true },
    formRevision: { state: true },
  }

  declare protected channels: Channel[]
  declare protected types: ChannelTypeInfo[]
  /** null: no form; 'new': creating; a channel: configuring it. */
  declare protected editing: Channel | 'new' | null
  declare protected status: string
  declare protected saving: boolean
  /** Bumped on every change of the form state, which lives in Maps. */
  declare protected formRevision: number

  values: FormValues = new Map()
  secrets: SecretState = new Map()
  secretKeys = new Map<string, readonly string[]>()
  revealed = new Set<string>()
  errors = new Map<string, string>()
  private form: GroupField | null = null

  constructor() {
    super()
    this.channels = []
    this.types = []
    this.editing = null
    this.status = ''
    this.saving = false
    this.formRevision = 0
  }

  get disabled(): boolean {
    return this.saving
  }

  /** Creating and configuring need `infra_admin`: nobody else is offered what would be refused. */
  protected get canConfigure(): boolean {
    return this.roleIs('infra_admin')
  }

  protected override resetForIdentity(): void {
    this.editing = null
    this.channels = []
    this.errors = new Map()
    this.revealed = new Set()
    this.form = null
  }

  override async reload(): Promise<void> {
    const client = this.client
    if (!client) return
    const identity = this.identity
    this.loading = true
    this.error = null
    const [channels, types] = await Promise.all([
      this.guard(() => client.listMessagingChannels(this.scope)),
      this.types.length > 0 ? Promise.resolve(this.types) : this.guard(() => client.listChannelTypes()),
      this.loadRole(client),
    ])
    if (identity !== this.identity) return
    this.channels = channels ?? []
    this.types = types ?? []
    this.loading = false
  }

  onReveal(path: string, shown: boolean): void {
    this.revealed = new Set(this.revealed)
    if (shown) this.revealed.add(path)
    else this.revealed.delete(path)
    this.formRevision++
  }

  onInput(path: string, value: string | boolean): void {
    this.values.set(path, value)
    if (path === 'type' && typeof value === 'string') this.selectType(value)
    this.formRevision++
  }

  onSecret(path: string, state: 'kept' | 'replace'): void {
    this.secrets.set(path, state)
    this.values.set(path, '')
    this.formRevision++
    void this.updateComplete.then(() => this.focusField(path))
  }

  private typeInfo(type: string): ChannelTypeInfo | undefined {
    return this.types.find((t) => t.type === type)
  }

  private selectType(type: string) {
    const info = this.typeInfo(type)
    this.form = info ? formOf(info.configSchema, info.secretPaths, 'config', `${type} configuration`) : null
    const fresh = this.form ? valuesOf(this.form, null) : { values: new Map(), secrets: new Map() }
    for (const k of [...this.values.keys()]) if (k.startsWith('config.')) this.values.delete(k)
    for (const [k, v] of fresh.values) this.values.set(k, v)
    this.secrets = fresh.secrets
    this.secretKeys = new Map()
    this.revealed = new Set()
  }

  /** Opens the form for a new channel. */
  startCreate(): void {
    this.editing = 'new'
    this.status = ''
    this.errors = new Map()
    this.values = new Map<string, string | boolean>([
      ['channelKey', ''],
      ['name', ''],
      ['enabled', true],
      ['maxAttempts', ''],
    ])
    this.values.set('type', this.types[0]?.type ?? '')
    this.selectType(this.types[0]?.type ?? '')
    void this.updateComplete.then(() => this.focusField('type'))
  }

  /** Opens the form for an existing channel. */
  startEdit(channel: Channel, keepStatus = false): void {
    this.editing = channel
    if (!keepStatus) this.status = ''
    this.errors = new Map()
    const info = this.typeInfo(channel.type)
    this.form = info
      ? formOf(info.configSchema, info.secretPaths, 'config', `${channel.type} configuration`)
      : null
    const state = this.form ? valuesOf(this.form, channel.config) : { values: new Map(), secrets: new Map() }
    this.values = state.values
    this.secrets = state.secrets
    this.revealed = new Set()
    // Reads name the keys a secret is sealed under (useful while rotating); never its value.
    this.secretKeys = new Map((channel.secrets ?? []).map((s) => [`config.${s.path}`, s.keyIds]))
    this.values.set('name', channel.name)
    this.values.set('enabled', channel.enabled)
    this.values.set('maxAttempts', channel.maxAttempts === null ? '' : String(channel.maxAttempts))
    void this.updateComplete.then(() => this.shadowRoot?.querySelector<HTMLElement>('#form-title')?.focus())
  }

  private cancel() {
    const was = this.editing
    this.editing = null
    this.errors = new Map()
    void this.updateComplete.then(() => {
      const target =
        was && was !== 'new'
          ? this.shadowRoot?.querySelector<HTMLElement>(`[data-channel="${was.id}"] button`)
          : this.shadowRoot?.querySelector<HTMLElement>('#new-channel')
      target?.focus()
    })
  }

  private focusField(path: string) {
    const el = this.shadowRoot?.getElementById(idOf('f', path))
    const target =
      el && el.tagName === 'SPAN'
        ? el.parentElement?.querySelector<HTMLElement>('button')
        : (el as HTMLElement | null)
    target?.focus()
  }

  private async save(e: Event) {
    e.preventDefault()
    const client = this.client
    const editing = this.editing
    if (!client || !editing || this.saving) return
    const original = editing === 'new' ? null : editing.config
    const { value: config, errors: unreadable } = this.form
      ? collect(this.form, this.values, this.secrets, original)
      : { value: {}, errors: new Map<string, string>() }
    const missing = this.missingFields(editing === 'new')
    this.errors = new Map([...missing, ...unreadable])
    this.error = null
    this.status = ''
    if (this.errors.size > 0) {
      // Every empty required field at once, named in the banner, each flagged beside itself.
      if (missing.size > 0) {
        const names = [...missing.keys()].map((p) => this.labelOf(p))
        this.error = `Fill in the required field${names.length === 1 ? '' : 's'}: ${listOf(names)}.`
      }
      this.afterErrors()
      return
    }
    const text = (k: string) => String(this.values.get(k) ?? '').trim()
    const attempts = text('maxAttempts')
    const maxAttempts =
      attempts === '' ? null : Number.isFinite(Number(attempts)) ? Number(attempts) : attempts
    const name = text('name')
    this.saving = true
    const identity = this.identity
    try {
      const saved =
        editing === 'new'
          ? await client.createChannel({
              ...this.scope,
              type: text('type'),
              channelKey: text('channelKey'),
              ...(name !== '' && { name }),
              config,
              enabled: this.values.get('enabled') === true,
              maxAttempts: maxAttempts as number | null,
            })
          : await client.configureChannel({
              ...this.scope,
              channelId: editing.id,
              ...(name !== '' && { name }),
              config,
              enabled: this.values.get('enabled') === true,
              maxAttempts: maxAttempts as number | null,
            })
      this.saving = false
      // Signed in as someone else meanwhile: this answer is not theirs to see.
      if (identity !== this.identity) return
      await this.reload()
      this.status =
        editing === 'new' ? `Channel ${saved.channelKey} created.` : `Channel ${saved.channelKey} saved.`
      this.dispatchEvent(
        new CustomEvent('messaging-channel-saved', { detail: saved, bubbles: true, composed: true }),
      )
      this.startEdit(saved, true)
    } catch (err) {
      this.saving = false
      if (identity !== this.identity) return
      const issues = (err as { code?: unknown; issues?: unknown }).code === 'VALIDATION_FAILED'
      if (issues)
        this.showIssues((err as { issues: { path: string; rule?: string; message: string }[] }).issues)
      else this.error = describeError(err)
      this.dispatchEvent(new CustomEvent('messaging-error', { detail: err, bubbles: true, composed: true }))
      if (issues) this.afterErrors()
    }
  }

  /** The fixed fields and the config form's required inputs that are empty. */
  private missingFields(creating: boolean): Map<string, string> {
    const missing = new Map<string, string>()
    const empty = (k: string) => String(this.values.get(k) ?? '').trim() === ''
    if (creating && empty('type')) missing.set('type', requiredSentence({ kind: 'enum', label: 'Type' }))
    if (creating && empty('channelKey'))
      missing.set('channelKey', requiredSentence({ kind: 'text', label: 'Channel key' }))
    if (this.form) for (const [k, v] of missingOf(this.form, this.values, this.secrets)) missing.set(k, v)
    return missing
  }

  /** The label a person sees for a field path. */
  private labelOf(path: string): string {
    const fixed: Record<string, string> = {
      type: 'Type',
      channelKey: 'Channel key',
      name: 'Name',
      enabled: 'Enabled',
      maxAttempts: 'Max attempts',
    }
    if (fixed[path]) return fixed[path]
    const find = (node: FormNode): string | undefined =>
      node.path === path
        ? node.label
        : node.node === 'group'
          ? node.children.map(find).find((x) => x !== undefined)
          : undefined
    return (this.form && find(this.form)) ?? path
  }

  /** Puts each issue beside its field, in plain words; issues no field owns go to the banner. */
  private showIssues(issues: readonly { path: string; rule?: string; message: string }[]) {
    const known = new Set<string>(FIXED_PATHS)
    if (this.form) pathsOf(this.form, known)
    const errors = new Map<string, string>()
    const loose: string[] = []
    for (const i of issues) {
      const field = fieldOfIssue(known, i.path)
      if (field === null) loose.push(`${i.path}: ${plainIssue(i)}`)
      else {
        const sub = field === i.path ? '' : i.path.slice(field.length + 1)
        // `config.secrets.1`: the second value of Secrets.
        const where = /^\d+$/.test(sub) ? `Value ${Number(sub) + 1}: ` : sub ? `${sub}: ` : ''
        const sentence = `${where}${plainIssue(i, field === i.path ? this.labelOf(field) : undefined)}`
        errors.set(field, errors.has(field) ? `${errors.get(field)} ${sentence}` : sentence)
      }
    }
    this.errors = errors
    this.error =
      loose.length > 0 ? `Some fields need attention: ${loose.join('; ')}` : 'Some fields need attention.'
  }

  /** Focus goes to the first field in error, so a keyboard user lands where the fix is. */
  private afterErrors() {
    void this.updateComplete.then(() => {
      const first = this.shadowRoot?.querySelector<HTMLElement>(
        '[aria-invalid="true"], fieldset .field-error',
      )
      if (first) first.focus()
      else this.shadowRoot?.querySelector<HTMLElement>('.alert')?.focus()
    })
  }

  private fixed(
    path: (typeof FIXED_PATHS)[number],
    label: string,
    extra: Partial<LeafField> = {},
  ): TemplateResult {
    return renderLeaf(this, {
      node: 'leaf',
      path,
      label,
      kind: 'text',
      required: false,
      secret: false,
      ...extra,
    })
  }

  private renderForm(): TemplateResult | typeof nothing {
    const editing = this.editing
    if (!editing) return nothing
    const creating = editing === 'new'
    const title = creating ? 'New channel' : `Configure ${editing.channelKey}`
    return html`<form novalidate @submit=${this.save} aria-labelledby="form-title">
      <h3 id="form-title" tabindex="-1">${title}</h3>
      ${
        creating
          ? html`${this.fixed('type', 'Type', {
              kind: 'enum',
              required: true,
              enumValues: this.types.map((t) => t.type),
            })}
            ${this.fixed('channelKey', 'Channel key', {
              required: true,
              hint: 'lower-case slug, unique in the tenant: ops-alerts',
            })}`
          : html`<p class="muted">Type <strong>${editing.type}</strong>, key <code>${editing.channelKey}</code></p>`
      }
      ${this.fixed('name', 'Name', creating ? { hint: 'defaults to the key' } : {})}
      ${this.fixed('enabled', 'Enabled', { kind: 'boolean' })}
      ${this.fixed('maxAttempts', 'Max attempts', { kind: 'integer', hint: '1 to 100; empty: the module default' })}
      ${
        this.form
          ? renderNode(this, this.form)
          : creating
            ? nothing
            : html`<p class="muted">No schema for type ${editing.type}: its config is left as it is.</p>`
      }
      <div class="actions">
        <button type="submit" ?disabled=${this.saving}>${creating ? 'Create channel' : 'Save changes'}</button>
        <button type="button" class="secondary" @click=${this.cancel}>Close</button>
      </div>
    </form>`
  }

  protected override render(): TemplateResult {
    const current = this.editing && this.editing !== 'new' ? this.editing.id : null
    return html`<section aria-labelledby="channels-title" part="section">
      <h2 id="channels-title">Channels</h2>
      ${this.error ? html`<div class="alert" role="alert" tabindex="-1">${this.error}</div>` : nothing}
      <p class="status" role="status">${this.status}</p>
      <div class="toolbar">
        ${
          this.canConfigure
            ? html`<button id="new-channel" type="button" @click=${this.startCreate} ?disabled=${this.types.length === 0}>
              New channel
            </button>`
            : nothing
        }
        <button type="button" class="secondary" @click=${() => this.reload()}>Refresh</button>
        ${this.loading ? html`<span class="muted">Loading…</span>` : nothing}
      </div>
      ${
        this.sessionRole !== null && !this.canConfigure
          ? html`<p class="muted" id="channels-readonly">
            Channels are created and configured by an infrastructure administrator.
          </p>`
          : nothing
      }
      <table>
        <thead>
          <tr>
            <th scope="col">Key</th>
            <th scope="col">Name</th>
            <th scope="col">Type</th>
            <th scope="col">Enabled</th>
            ${this.canConfigure ? html`<th scope="col"><span class="visually-hidden">Actions</span></th>` : nothing}
          </tr>
        </thead>
        <tbody>
          ${
            this.channels.length === 0
              ? html`<tr>
                <td colspan=${this.canConfigure ? 5 : 4} class="muted">No channels.</td>
              </tr>`
              : this.channels.map(
                  (c) =>
                    html`<tr data-channel=${c.id} aria-current=${c.id === current ? 'true' : 'false'}>
                      <td data-label="Key"><code>${c.channelKey}</code></td>
                      <td data-label="Name">${c.name}</td>
                      <td data-label="Type">${c.type}</td>
                      <td data-label="Enabled">${c.enabled ? 'yes' : 'no'}</td>
                      ${
                        this.canConfigure
                          ? html`<td>
                            <button
                              type="button"
                              class="secondary"
                              aria-label=${`Configure ${c.channelKey}`}
                              @click=${() => this.startEdit(c)}
                            >
                              Configure
                            </button>
                          </td>`
                          : nothing
                      }
                    </tr>`,
                )
          }
        </tbody>
      </table>
      ${this.renderForm()}
    </section>`
  }
}

/** `A`, `A and B`, `A, B and C`. */
function listOf(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`
}
