import { html, nothing, type TemplateResult } from 'lit'
import type { Category } from '../domain/category.js'
import type { ChannelView } from '../domain/channel.js'
import type { TenantDefault } from '../domain/preference.js'

/** The category form's state: what the admin has typed so far. */
export interface CategoryDraft {
  /** Editing an existing category (its key is fixed) or creating one. */
  readonly existing: boolean
  readonly key: string
  readonly name: string
  readonly description: string
  readonly critical: boolean
  /** Per channel type: the serving channel's key ('' for none) and the category's default. */
  readonly channels: Readonly<Record<string, { readonly channelKey: string; readonly enabled: boolean }>>
}

export const emptyDraft: CategoryDraft = {
  existing: false,
  key: '',
  name: '',
  description: '',
  critical: false,
  channels: {},
}

export const draftOf = (c: Category): CategoryDraft => ({
  existing: true,
  key: c.key,
  name: c.name,
  description: c.description ?? '',
  critical: c.critical,
  channels: c.channels,
})

/** The create/update input of a draft: channel types without a channel are left out. */
export function inputOfDraft(d: CategoryDraft) {
  return {
    key: d.key.trim(),
    name: d.name.trim(),
    description: d.description.trim() === '' ? null : d.description.trim(),
    critical: d.critical,
    channels: Object.fromEntries(
      Object.entries(d.channels)
        .filter(([, c]) => c.channelKey !== '')
        .map(([type, c]) => [type, { channelKey: c.channelKey, enabled: c.enabled }]),
    ),
  }
}

const typeLabel = (type: string) =>
  ({ in_app: 'In-app', email: 'Email', sms: 'SMS', webhook: 'Webhook' })[type] ?? type.replaceAll('_', ' ')

/**
 * The admin's category list and form: name, description, critical, and for each channel
 * type the tenant has channels of, which channel serves it and whether it is on by default.
 */
export function categoryEditor(o: {
  readonly categories: readonly Category[]
  readonly channels: readonly ChannelView[]
  readonly draft: CategoryDraft | null
  readonly busy: boolean
  edit(c: Category): void
  change(d: CategoryDraft): void
  cancel(): void
  save(d: CategoryDraft): void
}): TemplateResult {
  const byType = new Map<string, ChannelView[]>()
  for (const ch of o.channels) byType.set(ch.type, [...(byType.get(ch.type) ?? []), ch])
  const types = [...byType.keys()].sort()
  const d = o.draft
  const set = (patch: Partial<CategoryDraft>) => d && o.change({ ...d, ...patch })
  const setChannel = (type: string, patch: Partial<{ channelKey: string; enabled: boolean }>) => {
    if (!d) return
    const current = d.channels[type] ?? { channelKey: '', enabled: true }
    o.change({ ...d, channels: { ...d.channels, [type]: { ...current, ...patch } } })
  }
  return html`<h3 id="cat-title">Categories</h3>
    <table aria-labelledby="cat-title">
      <thead>
        <tr>
          <th scope="col">Category</th>
          <th scope="col">Channels</th>
          <th scope="col"><span class="visually-hidden">Actions</span></th>
        </tr>
      </thead>
      <tbody>
        ${o.categories.map(
          (c) => html`<tr>
            <th scope="row">
              ${c.name}${c.critical ? html`<span class="badge">Critical</span>` : nothing}
              <span class="meta"><code>${c.key}</code></span>
            </th>
            <td>
              ${Object.entries(c.channels).map(
                ([t, ch]) =>
                  html`<span class="meta">${typeLabel(t)}: <code>${ch.channelKey}</code>${ch.enabled ? '' : ' (off by default)'}</span>`,
              )}
            </td>
            <td>
              <button type="button" class="secondary" aria-label=${`Edit ${c.name}`} @click=${() => o.edit(c)}>
                Edit
              </button>
            </td>
          </tr>`,
        )}
      </tbody>
    </table>
    ${
      d === null
        ? html`<p><button type="button" @click=${() => o.change(emptyDraft)}>New category</button></p>`
        : html`<form
            class="category"
            aria-label=${d.existing ? `Edit category ${d.key}` : 'New category'}
            @submit=${(e: Event) => {
              e.preventDefault()
              o.save(d)
            }}
          >
            <label for="cat-key">Key</label>
            <input
              id="cat-key"
              .value=${d.key}
              ?readonly=${d.existing}
              placeholder="invoice.paid"
              required
              @input=${(e: Event) => set({ key: (e.target as HTMLInputElement).value })}
            />
            <label for="cat-name">Name</label>
            <input
              id="cat-name"
              .value=${d.name}
              required
              @input=${(e: Event) => set({ name: (e.target as HTMLInputElement).value })}
            />
            <label for="cat-description">Description</label>
            <input
              id="cat-description"
              .value=${d.description}
              @input=${(e: Event) => set({ description: (e.target as HTMLInputElement).value })}
            />
            <span class="row">
              <input
                type="checkbox"
                id="cat-critical"
                .checked=${d.critical}
                aria-describedby="cat-critical-hint"
                @change=${(e: Event) => set({ critical: (e.target as HTMLInputElement).checked })}
              />
              <label for="cat-critical">Critical</label>
              <span class="meta" id="cat-critical-hint">Critical notifications ignore users' opt-outs.</span>
            </span>
            <fieldset>
              <legend>Channels</legend>
              ${types.map((type) => {
                const current = d.channels[type] ?? { channelKey: '', enabled: true }
                const id = `cat-ch-${type}`
                return html`<span class="row">
                  <label for=${id}>${typeLabel(type)}</label>
                  <select
                    id=${id}
                    .value=${current.channelKey}
                    @change=${(e: Event) => setChannel(type, { channelKey: (e.target as HTMLSelectElement).value })}
                  >
                    <option value="" ?selected=${current.channelKey === ''}>Not sent</option>
                    ${(byType.get(type) ?? []).map(
                      (ch) =>
                        html`<option value=${ch.channelKey} ?selected=${ch.channelKey === current.channelKey}>
                          ${ch.name} (${ch.channelKey})
                        </option>`,
                    )}
                  </select>
                  <input
                    type="checkbox"
                    id=${`${id}-on`}
                    .checked=${current.enabled}
                    ?disabled=${current.channelKey === ''}
                    @change=${(e: Event) => setChannel(type, { enabled: (e.target as HTMLInputElement).checked })}
                  />
                  <label for=${`${id}-on`}>On by default</label>
                </span>`
              })}
            </fieldset>
            <span class="row">
              <button type="submit" ?disabled=${o.busy}>${d.existing ? 'Save category' : 'Create category'}</button>
              <button type="button" class="secondary" @click=${() => o.cancel()}>Cancel</button>
            </span>
          </form>`
    }`
}

/** The infrastructure-wide defaults: per category and channel type, the category's own, on, or off. */
export function defaultsTable(o: {
  readonly categories: readonly Category[]
  readonly defaults: readonly TenantDefault[]
  readonly busy: string | null
  change(c: Category, channelType: string, value: string): void
}): TemplateResult {
  if (o.categories.length === 0) return html``
  const types = [...new Set(o.categories.flatMap((c) => Object.keys(c.channels)))].sort()
  const chosen = (c: Category, t: string) => {
    const d = o.defaults.find((x) => x.categoryKey === c.key && x.channelType === t && x.businessId === null)
    return d === undefined ? '' : d.enabled ? 'on' : 'off'
  }
  return html`<h3 id="defaults-title">Defaults for everyone</h3>
    <table aria-labelledby="defaults-title">
      <thead>
        <tr>
          <th scope="col">Category</th>
          ${types.map((t) => html`<th scope="col">${typeLabel(t)}</th>`)}
        </tr>
      </thead>
      <tbody>
        ${o.categories.map(
          (c) => html`<tr>
            <th scope="row">${c.name}</th>
            ${types.map((t) => {
              const ch = c.channels[t]
              if (!ch) return html`<td><span class="muted" aria-label="not offered">—</span></td>`
              const value = chosen(c, t)
              return html`<td>
                <select
                  aria-label=${`Default for ${c.name} by ${typeLabel(t)}`}
                  ?disabled=${o.busy === `default/${c.key}/${t}`}
                  @change=${(e: Event) => o.change(c, t, (e.target as HTMLSelectElement).value)}
                >
                  <option value="" ?selected=${value === ''}>Category: ${ch.enabled ? 'on' : 'off'}</option>
                  <option value="on" ?selected=${value === 'on'}>On</option>
                  <option value="off" ?selected=${value === 'off'}>Off</option>
                </select>
              </td>`
            })}
          </tr>`,
        )}
      </tbody>
    </table>`
}
