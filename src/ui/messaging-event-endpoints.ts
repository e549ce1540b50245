import { css, html, nothing, type PropertyDeclarations, type TemplateResult } from 'lit'
import type { MessagingClient } from '../client/index.js'
import type { EventEndpointView } from '../domain/event-endpoint.js'
import { EVENT_TYPES, type EventType } from '../domain/events.js'
import { cardTableStyles } from './operator-views.js'
import {
  baseStyles,
  formatTime,
  type IssueLike,
  MessagingElement,
  plainIssue,
  type SessionClient,
} from './shared.js'

/** What `<messaging-event-endpoints>` calls. `createUiClient` gives one. */
export type EventEndpointsClient = Pick<
  MessagingClient,
  | 'listEventEndpoints'
  | 'createEventEndpoint'
  | 'updateEventEndpoint'
  | 'rotateEventEndpointSecret'
  | 'deleteEventEndpoint'
> &
  SessionClient

const styles = css`
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
    display: flex;
    flex-wrap: wrap;
    gap: 0.4rem 1rem;
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
  label {
    font-weight: 500;
  }
  fieldset label {
    font-weight: 400;
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
  .secret {
    border: 1px solid var(--messaging-accent, #0b5cad);
    border-radius: calc(var(--messaging-radius, 8px) / 2);
    padding: 0.5rem 0.75rem;
    margin: 0 0 0.75rem;
    display: grid;
    gap: 0.4rem;
  }
  .secret code {
    font-size: 1em;
    user-select: all;
  }
  .state-failing,
  .state-disabled {
    color: var(--messaging-danger, #b42318);
    font-weight: 600;
  }
  .state-active {
    color: var(--messaging-success, #1a7f37);
    font-weight: 600;
  }
  td.actions button {
    margin: 0 0.25rem 0.25rem 0;
  }
  .url {
    overflow-wrap: anywhere;
  }
`

/** The one secret shown right now: after a create or a rotate, until dismissed. */
interface ShownSecret {
  readonly endpointId: string
  readonly url: string
  readonly secret: string
}

/**
 * `<messaging-event-endpoints>`: a tenant admin's status webhooks (docs/live.md, "Status
 * webhooks"). Lists each endpoint with the events it takes and its state (active, failing
 * with its redacted last error and the next attempt, disabled); adds one; enables, disables,
 * rotates its signing secret or deletes it. A signing secret is shown once, right after a
 * create or a rotate, and dropped from the element when dismissed: the server never shows
 * it again.
 *
 * @example
 * <messaging-event-endpoints></messaging-event-endpoints>
 * <script type="module">document.querySelector('messaging-event-endpoints').client = client</script>
 */
export class MessagingEventEndpoints extends MessagingElement<EventEndpointsClient> {
  static override properties: PropertyDeclarations = {
    ...MessagingElement.properties,
    endpoints: { state: true },
    secret: { state: true },
    urlError: { state: true },
    confirming: { state: true },
    busy: { state: true },
  }
  static override styles = [baseStyles, cardTableStyles, styles]

  declare protected endpoints: EventEndpointView[]
  declare protected secret: ShownSecret | null
  declare protected urlError: string | null
  /** The endpoint whose delete waits for its confirmation. */
  declare protected confirming: string | null
  declare protected busy: boolean

  constructor() {
    super()
    this.endpoints = []
    this.secret = null
    this.urlError = null
    this.confirming = null
    this.busy = false
  }

  protected override resetForIdentity(): void {
    this.endpoints = []
    this.secret = null
    this.urlError = null
    this.confirming = null
  }

  override async reload(): Promise<void> {
    const client = this.client
    if (!client) return
    this.loading = true
    void this.loadRole(client)
    const rows = await this.guard(() => client.listEventEndpoints(this.infrastructureId))
    this.loading = false
    if (rows) {
      this.endpoints = rows
      this.error = null
    }
  }

  private async add(e: SubmitEvent): Promise<void> {
    e.preventDefault()
    const client = this.client
    if (!client || this.busy) return
    const form = e.target as HTMLFormElement
    const data = new FormData(form)
    const url = String(data.get('url') ?? '').trim()
    const picked = data.getAll('eventTypes').map(String) as EventType[]
    this.urlError = null
    this.busy = true
    try {
      const created = await client.createEventEndpoint({
        ...this.scope,
        url,
        eventTypes: picked.length === 0 ? null : picked,
      })
      form.reset()
      this.secret = { endpointId: created.endpoint.id, url: created.endpoint.url, secret: created.secret }
      this.status = `Endpoint added: ${created.endpoint.url}`
      this.error = null
      await this.reload()
      await this.updateComplete
      this.renderRoot.querySelector<HTMLElement>('#secret-done')?.focus()
    } catch (err) {
      const issue = issuesOf(err).find((i) => i.path === 'url')
      if (issue) this.urlError = plainIssue(issue, 'URL')
      else await this.guard(() => Promise.reject(err))
    } finally {
      this.busy = false
    }
  }

  private async setEnabled(ep: EventEndpointView, enabled: boolean): Promise<void> {
    const client = this.client
    if (!client) return
    const r = await this.guard(() =>
      client.updateEventEndpoint({ ...this.scope, endpointId: ep.id, enabled }),
    )
    if (r) {
      this.status = `${enabled ? 'Enabled' : 'Disabled'}: ${ep.url}`
      await this.reload()
    }
  }

  private async rotate(ep: EventEndpointView): Promise<void> {
    const client = this.client
    if (!client) return
    const r = await this.guard(() => client.rotateEventEndpointSecret({ ...this.scope, endpointId: ep.id }))
    if (r) {
      this.secret = { endpointId: ep.id, url: ep.url, secret: r.secret }
      this.status = `New signing secret for ${ep.url}; the previous one no longer verifies.`
      await this.updateComplete
      this.renderRoot.querySelector<HTMLElement>('#secret-done')?.focus()
    }
  }

  private async deleteEndpoint(ep: EventEndpointView): Promise<void> {
    const client = this.client
    if (!client) return
    if (this.confirming !== ep.id) {
      this.confirming = ep.id
      return
    }
    this.confirming = null
    const done = await this.guard(() =>
      client.deleteEventEndpoint({ ...this.scope, endpointId: ep.id }).then(() => true),
    )
    if (done) {
      if (this.secret?.endpointId === ep.id) this.secret = null
      this.status = `Deleted: ${ep.url}`
      await this.reload()
    }
  }

  private dismissSecret(): void {
    this.secret = null
  }

  override render(): TemplateResult {
    const admin = this.roleIs('infra_admin')
    return html`
      <h2 id="title">Status webhooks</h2>
      <p class="status" role="status">${this.status}</p>
      ${this.error ? html`<p class="alert" role="alert">${this.error}</p>` : nothing}
      ${this.secret ? this.renderSecret(this.secret) : nothing}
      ${this.renderTable(admin)}
      ${admin ? this.renderForm() : nothing}
    `
  }

  private renderSecret(s: ShownSecret): TemplateResult {
    return html`<section class="secret" aria-labelledby="secret-title">
      <h3 id="secret-title">Signing secret for <span class="url">${s.url}</span></h3>
      <p>
        Copy it now: it is shown this once. The receiver verifies each request's
        <code>webhook-signature</code> with it (Standard Webhooks).
      </p>
      <code id="secret-value" aria-label="Signing secret">${s.secret}</code>
      <div><button id="secret-done" type="button" @click=${this.dismissSecret}>I have copied it</button></div>
    </section>`
  }

  private renderTable(admin: boolean): TemplateResult {
    if (this.loading && this.endpoints.length === 0) return html`<p class="muted">Loading…</p>`
    if (this.endpoints.length === 0) return html`<p class="muted">No status webhooks yet.</p>`
    return html`<table aria-labelledby="title">
      <thead>
        <tr>
          <th scope="col">URL</th>
          <th scope="col">Events</th>
          <th scope="col">State</th>
          ${admin ? html`<th scope="col"><span class="visually-hidden">Actions</span></th>` : nothing}
        </tr>
      </thead>
      <tbody>
        ${this.endpoints.map((ep) => this.renderRow(ep, admin))}
      </tbody>
    </table>`
  }

  private renderRow(ep: EventEndpointView, admin: boolean): TemplateResult {
    return html`<tr>
      <td class="url" data-label="URL">${ep.url}</td>
      <td data-label="Events">${ep.eventTypes === null ? 'all' : ep.eventTypes.join(', ')}</td>
      <td data-label="State">
        <span class="state-${ep.status}">${ep.status}</span>
        ${
          ep.status === 'failing'
            ? html`<div class="hint">
                ${ep.attempts} failed ${ep.attempts === 1 ? 'attempt' : 'attempts'} since ${formatTime(ep.failingSince)};
                next ${formatTime(ep.nextAttemptAt)}
              </div>`
            : nothing
        }
        ${ep.lastError ? html`<div class="hint">Last error: ${ep.lastError}</div>` : nothing}
      </td>
      ${
        admin
          ? html`<td class="actions" data-label="Actions">
              <button
                type="button"
                class="secondary"
                aria-label="${ep.enabled ? 'Disable' : 'Enable'} ${ep.url}"
                @click=${() => this.setEnabled(ep, !ep.enabled)}
              >
                ${ep.enabled ? 'Disable' : 'Enable'}
              </button>
              <button
                type="button"
                class="secondary"
                aria-label="Rotate the signing secret of ${ep.url}"
                @click=${() => this.rotate(ep)}
              >
                Rotate secret
              </button>
              <button
                type="button"
                class="secondary"
                aria-label="${this.confirming === ep.id ? 'Confirm: delete' : 'Delete'} ${ep.url}"
                @click=${() => this.deleteEndpoint(ep)}
              >
                ${this.confirming === ep.id ? 'Confirm delete' : 'Delete'}
              </button>
            </td>`
          : nothing
      }
    </tr>`
  }

  private renderForm(): TemplateResult {
    return html`<form @submit=${this.add} aria-labelledby="add-title" novalidate>
      <h3 id="add-title">Add a status webhook</h3>
      <div class="field">
        <label for="ep-url">URL</label>
        <input
          id="ep-url"
          name="url"
          type="url"
          required
          autocomplete="url"
          aria-describedby="ep-url-hint ${this.urlError ? 'ep-url-error' : ''}"
          aria-invalid=${this.urlError ? 'true' : 'false'}
        />
        <span class="hint" id="ep-url-hint">An https address the module may reach; each event is one signed POST.</span>
        ${this.urlError ? html`<p class="field-error" id="ep-url-error">${this.urlError}</p>` : nothing}
      </div>
      <fieldset>
        <legend>Events (none checked: all, those added later too)</legend>
        ${EVENT_TYPES.map(
          (t) => html`<label><input type="checkbox" name="eventTypes" value=${t} /> ${t}</label>`,
        )}
      </fieldset>
      <div><button type="submit" ?disabled=${this.busy}>Add webhook</button></div>
    </form>`
  }
}

/** The validation issues a typed client error carries, if any. */
function issuesOf(e: unknown): IssueLike[] {
  const issues = (e as { issues?: unknown } | null)?.issues
  return Array.isArray(issues) ? (issues as IssueLike[]) : []
}
