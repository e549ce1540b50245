import { css, html, nothing, type PropertyDeclarations, type TemplateResult } from 'lit'
import type { MessagingClient } from '../client/index.js'
import type { MembershipView } from '../domain/membership.js'
import { baseStyles, describeError, MessagingElement } from './shared.js'

/** What `<messaging-preferences>` calls. */
export type PreferencesClient = Pick<MessagingClient, 'listMemberships' | 'setOptIn'>

const styles = css`
  ul {
    list-style: none;
    margin: 0;
    padding: 0;
  }
  li {
    display: grid;
    grid-template-columns: auto 1fr;
    column-gap: 0.6rem;
    align-items: start;
    padding: 0.5rem 0;
    border-bottom: 1px solid var(--messaging-border-color, #d0d7de);
  }
  input[type='checkbox'] {
    width: 1.1rem;
    height: 1.1rem;
    margin-top: 0.15rem;
    accent-color: var(--messaging-accent, #0b5cad);
  }
  label {
    font-weight: 500;
  }
  .meta {
    grid-column: 2;
    font-size: 0.85em;
    color: var(--messaging-muted, #57606a);
  }
`

/**
 * `<messaging-preferences>`: a business operator's channel memberships (the memberships
 * view), each with a switch to opt into or out of its alerts.
 *
 * @example
 * <messaging-preferences infrastructure-id="…" user-id="…"></messaging-preferences>
 *
 * Events: `messaging-opt-in-changed` (detail: the membership), `messaging-error`.
 */
export class MessagingPreferences extends MessagingElement<PreferencesClient> {
  static override styles = [baseStyles, styles]
  static override properties: PropertyDeclarations = {
    userId: { attribute: 'user-id' },
    memberships: { state: true },
    busy: { state: true },
    status: { state: true },
  }

  /** Whose memberships: the signed-in user. Absent, every membership the caller may read. */
  declare userId: string | undefined
  declare protected memberships: MembershipView[]
  /** The channel whose opt-in is being saved. */
  declare protected busy: string | null
  declare protected status: string

  constructor() {
    super()
    this.userId = undefined
    this.memberships = []
    this.busy = null
    this.status = ''
  }

  protected override updated(changed: Map<PropertyKey, unknown>): void {
    super.updated(changed)
    if (changed.has('userId') && !changed.has('client') && this.client) void this.reload()
  }

  override async reload(): Promise<void> {
    const client = this.client
    if (!client) return
    this.loading = true
    this.error = null
    const rows = await this.guard(() =>
      client.listMemberships({ ...this.scope, ...(this.userId && { userId: this.userId }) }),
    )
    this.memberships = rows ?? []
    this.loading = false
  }

  private async toggle(m: MembershipView, optedIn: boolean, input: HTMLInputElement) {
    const client = this.client
    if (!client) return
    this.busy = m.channelId
    this.error = null
    this.status = ''
    try {
      const saved = await client.setOptIn({
        infrastructureId: m.infrastructureId,
        channelId: m.channelId,
        ...(this.userId && { userId: m.userId }),
        optedIn,
      })
      this.memberships = this.memberships.map((x) =>
        x.channelId === m.channelId && x.userId === m.userId ? { ...x, optedIn: saved.optedIn } : x,
      )
      this.status = `${saved.optedIn ? 'Opted in to' : 'Opted out of'} ${m.channelName} alerts.`
      this.dispatchEvent(
        new CustomEvent('messaging-opt-in-changed', { detail: saved, bubbles: true, composed: true }),
      )
    } catch (e) {
      input.checked = m.optedIn
      this.error = describeError(e)
      this.dispatchEvent(new CustomEvent('messaging-error', { detail: e, bubbles: true, composed: true }))
    } finally {
      this.busy = null
      // Keeps keyboard focus on the switch that was used (it was disabled while saving).
      await this.updateComplete
      input.focus()
    }
  }

  protected override render(): TemplateResult {
    return html`<section aria-labelledby="prefs-title" part="section">
      <h2 id="prefs-title">Alert preferences</h2>
      ${this.error ? html`<div class="alert" role="alert">${this.error}</div>` : nothing}
      <p class="status" role="status">${this.status}</p>
      ${
        this.memberships.length === 0
          ? this.error
            ? nothing
            : html`<p class="muted">${this.loading ? 'Loading…' : 'You are not a member of any channel.'}</p>`
          : html`<ul>
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
                  ?disabled=${this.busy === m.channelId || !m.channelEnabled}
                  @change=${(e: Event) =>
                    this.toggle(m, (e.target as HTMLInputElement).checked, e.target as HTMLInputElement)}
                />
                <label for=${id}>Alerts from ${m.channelName}</label>
                <span class="meta" id=${`${id}-meta`}>
                  ${m.channelType} · <code>${m.channelKey}</code>${m.businessId ? ` · business ${m.businessId}` : ''}${
                    m.channelEnabled ? '' : ' · channel disabled'
                  }
                </span>
              </li>`
            })}
          </ul>`
      }
    </section>`
  }
}
