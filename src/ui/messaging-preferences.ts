import { css, html, nothing, type PropertyDeclarations, type TemplateResult } from 'lit'
import type { MessagingClient } from '../client/index.js'
import type { Category } from '../domain/category.js'
import type { ChannelView } from '../domain/channel.js'
import type { MembershipView } from '../domain/membership.js'
import type { PreferenceCell, PreferenceGrid, TenantDefault } from '../domain/preference.js'
import type { Principal } from '../domain/tenant-scope.js'
import {
  type CategoryDraft,
  categoryEditor,
  defaultsTable,
  draftOf,
  inputOfDraft,
} from './preferences-admin.js'
import { baseStyles, describeError, MessagingElement } from './shared.js'

/** What `<messaging-preferences>` calls. */
export type PreferencesClient = Pick<
  MessagingClient,
  | 'getSession'
  | 'getPreferences'
  | 'setPreference'
  | 'listMemberships'
  | 'setOptIn'
  | 'listCategories'
  | 'createCategory'
  | 'updateCategory'
  | 'listTenantDefaults'
  | 'setTenantDefault'
  | 'listMessagingChannels'
>

const styles = css`
  .grid-wrap {
    overflow-x: auto;
  }
  td.cell {
    min-width: 9rem;
  }
  .switch {
    display: flex;
    gap: 0.4rem;
    align-items: center;
  }
  input[type='checkbox'] {
    width: 1.1rem;
    height: 1.1rem;
    accent-color: var(--messaging-accent, #0b5cad);
  }
  .hint,
  .meta {
    display: block;
    font-size: 0.82em;
    color: var(--messaging-muted, #57606a);
  }
  .badge {
    display: inline-block;
    font-size: 0.75em;
    font-weight: 600;
    padding: 0 0.4rem;
    margin-left: 0.35rem;
    border-radius: 999px;
    background: var(--messaging-warning-background, #fff4d6);
    color: var(--messaging-warning, #7a4d00);
  }
  button.link {
    border: 0;
    background: transparent;
    color: var(--messaging-accent, #0b5cad);
    padding: 0;
    text-decoration: underline;
    font-size: 0.82em;
  }
  ul.subscriptions {
    list-style: none;
    margin: 0;
    padding: 0;
  }
  ul.subscriptions li {
    display: grid;
    grid-template-columns: auto 1fr;
    column-gap: 0.6rem;
    padding: 0.45rem 0;
    border-bottom: 1px solid var(--messaging-border-color, #d0d7de);
  }
  ul.subscriptions .meta {
    grid-column: 2;
  }
  section.admin {
    margin-top: 1.25rem;
    border-top: 2px solid var(--messaging-border-color, #d0d7de);
    padding-top: 0.75rem;
  }
  form.category {
    display: grid;
    gap: 0.5rem;
    max-width: 40rem;
  }
  form.category label {
    font-weight: 500;
  }
  fieldset {
    border: 1px solid var(--messaging-border-color, #d0d7de);
    border-radius: calc(var(--messaging-radius, 8px) / 2);
    display: grid;
    gap: 0.4rem;
  }
  .row {
    display: flex;
    gap: 0.5rem;
    align-items: center;
    flex-wrap: wrap;
  }
  h3 {
    margin-top: 1rem;
  }
`

/** `in_app` -> `In-app`: the column headings. */
export function channelTypeLabel(type: string): string {
  const known: Record<string, string> = { in_app: 'In-app', email: 'Email', sms: 'SMS', webhook: 'Webhook' }
  return known[type] ?? type.replaceAll('_', ' ')
}

/** Why a cell resolves as it does, in words a person reads. */
export function explainCell(cell: PreferenceCell): string {
  const state = cell.enabled ? 'On' : 'Off'
  if (cell.critical && cell.enabled) return 'Always sent: critical'
  switch (cell.source) {
    case 'user':
      return `${state} · your choice`
    case 'channel':
      return `Off · you left the ${cell.channelKey} channel`
    case 'business':
      return `${state} · your organisation's default`
    case 'tenant':
      return `${state} · default for everyone`
    default:
      return `${state} · default`
  }
}

const cellKey = (c: { categoryKey: string; channelType: string }) => `${c.categoryKey}/${c.channelType}`

/**
 * `<messaging-preferences>`: the signed-in user's notification preferences as a grid of
 * categories x channel types, each cell a switch that says what resolves and why (the user's
 * choice, a left channel, the organisation's or everyone's default, the category's), and
 * the user's channel subscriptions (the membership opt-in). An `infra_admin` also edits the
 * categories (name, critical, the channel serving each type) and the tenant's defaults.
 *
 * @example
 * <messaging-preferences infrastructure-id="…"></messaging-preferences>
 *
 * Events: `messaging-preference-changed` (detail: the cell), `messaging-opt-in-changed`
 * (detail: the membership), `messaging-category-saved` (detail: the category), `messaging-error`.
 */
export class MessagingPreferences extends MessagingElement<PreferencesClient> {
  static override styles = [baseStyles, styles]
  static override properties: PropertyDeclarations = {
    userId: { attribute: 'user-id' },
    session: { state: true },
    grid: { state: true },
    memberships: { state: true },
    categories: { state: true },
    channels: { state: true },
    defaults: { state: true },
    draft: { state: true },
    busy: { state: true },
    status: { state: true },
  }

  /** Whose preferences: absent, the signed-in user's (an admin may name another user). */
  declare userId: string | undefined
  declare protected session: Principal | null
  declare protected grid: PreferenceGrid | null
  declare protected memberships: MembershipView[]
  declare protected categories: Category[]
  declare protected channels: ChannelView[]
  declare protected defaults: TenantDefault[]
  /** The category form's state; null while closed. */
  declare protected draft: CategoryDraft | null
  /** What is being saved (a cell, a channel, the form). */
  declare protected busy: string | null
  declare protected status: string

  constructor() {
    super()
    this.userId = undefined
    this.session = null
    this.grid = null
    this.memberships = []
    this.categories = []
    this.channels = []
    this.defaults = []
    this.draft = null
    this.busy = null
    this.status = ''
  }

  protected override identityKeys(): readonly PropertyKey[] {
    return ['client', 'infrastructureId', 'userId']
  }

  protected override resetForIdentity(): void {
    this.session = null
    this.grid = null
    this.memberships = []
    this.categories = []
    this.channels = []
    this.defaults = []
    this.draft = null
  }

  protected override updated(changed: Map<PropertyKey, unknown>): void {
    super.updated(changed)
    if (changed.has('userId') && !changed.has('client') && this.client) void this.reload()
  }

  private get isAdmin(): boolean {
    return this.session?.role === 'infra_admin'
  }

  override async reload(): Promise<void> {
    const client = this.client
    if (!client) return
    this.loading = true
    this.error = null
    const session = await this.guard(() => client.getSession())
    if (!session) {
      this.loading = false
      return
    }
    this.session = session
    const userId = this.userId ?? session.userId
    const [grid, memberships] = await Promise.all([
      this.guard(() => client.getPreferences({ ...this.scope, ...(this.userId && { userId: this.userId }) })),
      this.guard(() => client.listMemberships({ ...this.scope, userId })),
    ])
    this.grid = grid ?? null
    this.memberships = memberships ?? []
    if (this.isAdmin) await this.reloadAdmin(client)
    this.loading = false
  }

  private async reloadAdmin(client: PreferencesClient) {
    const [categories, channels, defaults] = await Promise.all([
      this.guard(() => client.listCategories(this.infrastructureId)),
      this.guard(() => client.listMessagingChannels({ ...this.scope })),
      this.guard(() => client.listTenantDefaults({ ...this.scope, businessId: null })),
    ])
    this.categories = categories ?? []
    this.channels = channels ?? []
    this.defaults = defaults ?? []
  }

  /** Runs a save: the busy marker, the status line, the error banner and the event. */
  private async save<T>(busy: string, call: () => Promise<T>, done: (saved: T) => string): Promise<T | null> {
    this.busy = busy
    this.error = null
    this.status = ''
    try {
      const saved = await call()
      this.status = done(saved)
      return saved
    } catch (e) {
      this.error = describeError(e)
      const issues = (e as { issues?: ReadonlyArray<{ path: string; message: string }> }).issues
      if (issues?.length) this.error += ` ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`
      this.dispatchEvent(new CustomEvent('messaging-error', { detail: e, bubbles: true, composed: true }))
      return null
    } finally {
      this.busy = null
    }
  }

  private async choose(cell: PreferenceCell, name: string, enabled: boolean | null, focus?: HTMLElement) {
    const client = this.client
    if (!client) return
    const saved = await this.save(
      cellKey(cell),
      () =>
        client.setPreference({
          ...this.scope,
          ...(this.userId && { userId: this.userId }),
          categoryKey: cell.categoryKey,
          channelType: cell.channelType,
          enabled,
        }),
      (c) =>
        enabled === null
          ? `${name} by ${channelTypeLabel(c.channelType)}: back to the default (${c.enabled ? 'on' : 'off'}).`
          : `${name} by ${channelTypeLabel(c.channelType)}: ${c.enabled ? 'on' : 'off'}.`,
    )
    if (saved && this.grid) {
      this.grid = {
        ...this.grid,
        categories: this.grid.categories.map((c) => ({
          ...c,
          cells: c.cells.map((x) => (cellKey(x) === cellKey(saved) ? saved : x)),
        })),
      }
      this.dispatchEvent(
        new CustomEvent('messaging-preference-changed', { detail: saved, bubbles: true, composed: true }),
      )
    }
    await this.updateComplete
    // Keeps keyboard focus where it was (the switch was disabled while saving).
    focus?.focus()
  }

  private async optIn(m: MembershipView, optedIn: boolean, input: HTMLInputElement) {
    const client = this.client
    if (!client) return
    const saved = await this.save(
      `channel/${m.channelId}`,
      () =>
        client.setOptIn({
          infrastructureId: m.infrastructureId,
          channelId: m.channelId,
          ...(this.userId && { userId: m.userId }),
          optedIn,
        }),
      // The channel's name often says "alerts" itself ("Ops alerts"): the sentence does not repeat it.
      (s) => `${s.optedIn ? 'Opted in to' : 'Opted out of'} ${m.channelName}.`,
    )
    if (saved) {
      this.memberships = this.memberships.map((x) =>
        x.channelId === m.channelId && x.userId === m.userId ? { ...x, optedIn: saved.optedIn } : x,
      )
      this.dispatchEvent(
        new CustomEvent('messaging-opt-in-changed', { detail: saved, bubbles: true, composed: true }),
      )
      // A channel opt-out is part of the resolution: the grid may read differently now.
      await this.refreshGrid()
    } else input.checked = m.optedIn
    await this.updateComplete
    input.focus()
  }

  private async refreshGrid() {
    const client = this.client
    if (!client) return
    const grid = await this.guard(() =>
      client.getPreferences({ ...this.scope, ...(this.userId && { userId: this.userId }) }),
    )
    if (grid) this.grid = grid
  }

  private async setDefault(category: Category, channelType: string, value: string) {
    const client = this.client
    if (!client) return
    const enabled = value === '' ? null : value === 'on'
    await this.save(
      `default/${category.key}/${channelType}`,
      () =>
        client.setTenantDefault({
          ...this.scope,
          businessId: null,
          categoryKey: category.key,
          channelType,
          enabled,
        }),
      () =>
        `Default for ${category.name} by ${channelTypeLabel(channelType)}: ${
          enabled === null ? "the category's own" : enabled ? 'on' : 'off'
        }.`,
    )
    if (this.error === null) {
      const defaults = await this.guard(() => client.listTenantDefaults({ ...this.scope, businessId: null }))
      if (defaults) this.defaults = defaults
      await this.refreshGrid()
    }
  }

  private async saveCategory(draft: CategoryDraft) {
    const client = this.client
    if (!client) return
    const input = inputOfDraft(draft)
    const saved = await this.save(
      'category',
      () =>
        draft.existing
          ? client.updateCategory({
              ...this.scope,
              categoryKey: draft.key,
              name: input.name,
              description: input.description,
              critical: input.critical,
              channels: input.channels,
            })
          : client.createCategory({ ...this.scope, ...input }),
      (c) => `Category ${c.key} ${draft.existing ? 'saved' : 'created'}.`,
    )
    if (!saved) return
    this.draft = null
    this.dispatchEvent(
      new CustomEvent('messaging-category-saved', { detail: saved, bubbles: true, composed: true }),
    )
    await this.reload()
  }

  protected override render(): TemplateResult {
    return html`<section aria-labelledby="prefs-title" part="section">
      <h2 id="prefs-title">Notification preferences</h2>
      ${this.error ? html`<div class="alert" role="alert">${this.error}</div>` : nothing}
      <p class="status" role="status">${this.status}</p>
      ${this.renderGrid()} ${this.renderSubscriptions()}
      ${
        this.isAdmin
          ? html`<section class="admin" aria-labelledby="prefs-admin-title">
              <h2 id="prefs-admin-title">Categories and defaults</h2>
              ${categoryEditor({
                categories: this.categories,
                channels: this.channels,
                draft: this.draft,
                busy: this.busy === 'category',
                edit: (c) => {
                  this.draft = draftOf(c)
                },
                change: (d) => {
                  this.draft = d
                },
                cancel: () => {
                  this.draft = null
                },
                save: (d) => void this.saveCategory(d),
              })}
              ${defaultsTable({
                categories: this.categories,
                defaults: this.defaults,
                busy: this.busy,
                change: (c, t, v) => void this.setDefault(c, t, v),
              })}
            </section>`
          : nothing
      }
    </section>`
  }

  private renderGrid(): TemplateResult {
    const grid = this.grid
    if (!grid || grid.categories.length === 0) {
      return html`<p class="muted">
        ${this.loading ? 'Loading…' : this.error ? '' : 'No notification categories yet.'}
      </p>`
    }
    return html`<div class="grid-wrap">
      <table>
        <caption>
          What reaches you, by category and channel
        </caption>
        <thead>
          <tr>
            <th scope="col">Category</th>
            ${grid.channelTypes.map((t) => html`<th scope="col">${channelTypeLabel(t)}</th>`)}
          </tr>
        </thead>
        <tbody>
          ${grid.categories.map(
            (c) => html`<tr>
              <th scope="row">
                ${c.name}${c.critical ? html`<span class="badge">Critical</span>` : nothing}
                <span class="meta"><code>${c.key}</code>${c.description ? ` · ${c.description}` : ''}</span>
              </th>
              ${grid.channelTypes.map((t) => {
                const cell = c.cells.find((x) => x.channelType === t)
                return cell
                  ? this.renderCell(c.name, cell)
                  : html`<td class="cell"><span class="muted" aria-label="not offered">—</span></td>`
              })}
            </tr>`,
          )}
        </tbody>
      </table>
    </div>`
  }

  private renderCell(name: string, cell: PreferenceCell): TemplateResult {
    const id = `pref-${cell.categoryKey}-${cell.channelType}`.replace(/[^\w-]/g, '_')
    const label = `${name} by ${channelTypeLabel(cell.channelType)}`
    return html`<td class="cell">
      <span class="switch">
        <input
          type="checkbox"
          role="switch"
          id=${id}
          aria-label=${label}
          aria-describedby=${`${id}-hint`}
          .checked=${cell.enabled}
          aria-checked=${cell.enabled ? 'true' : 'false'}
          ?disabled=${this.busy === cellKey(cell) || cell.critical}
          @change=${(e: Event) => {
            const input = e.target as HTMLInputElement
            void this.choose(cell, name, input.checked, input)
          }}
        />
        <span class="hint" id=${`${id}-hint`}>${explainCell(cell)}</span>
      </span>
      ${
        cell.userChoice !== null && !cell.critical
          ? html`<button
              type="button"
              class="link"
              aria-label=${`Use the default for ${label}`}
              ?disabled=${this.busy === cellKey(cell)}
              @click=${(e: Event) => void this.choose(cell, name, null, e.target as HTMLElement)}
            >
              Use default
            </button>`
          : nothing
      }
    </td>`
  }

  private renderSubscriptions(): TemplateResult {
    if (this.memberships.length === 0) return html``
    return html`<h3 id="subs-title">Channel subscriptions</h3>
      <ul class="subscriptions" aria-labelledby="subs-title">
        ${this.memberships.map((m) => {
          const id = `opt-${m.channelId}-${m.userId}`
          return html`<li>
            <input
              type="checkbox"
              role="switch"
              id=${id}
              .checked=${m.optedIn}
              aria-checked=${m.optedIn ? 'true' : 'false'}
              aria-describedby=${`${id}-meta`}
              ?disabled=${this.busy === `channel/${m.channelId}` || !m.channelEnabled}
              @change=${(e: Event) =>
                this.optIn(m, (e.target as HTMLInputElement).checked, e.target as HTMLInputElement)}
            />
            <label for=${id}>Alerts from ${m.channelName}</label>
            <span class="meta" id=${`${id}-meta`}>
              ${m.channelType} · <code>${m.channelKey}</code>${
                // The module knows no business names: an id would say nothing to the reader.
                m.businessId ? html` · <span title=${m.businessId}>through an organisation</span>` : ''
              }${m.channelEnabled ? '' : ' · channel disabled'}
            </span>
          </li>`
        })}
      </ul>`
  }
}
