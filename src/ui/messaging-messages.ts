import { css, html, nothing, type PropertyDeclarations, type TemplateResult } from 'lit'
import type { ChannelView as Channel } from '../domain/channel.js'
import type { DeliveryAttempt } from '../domain/delivery.js'
import type { DeliveryStatus, OutboxMessage } from '../domain/outbox-message.js'
import type { CancelResult } from '../ports/outbox-repository.js'
import { cardTableStyles, short, subjectOf } from './operator-views.js'
import { baseStyles, describeError, formatTime, MessagingElement, type SessionClient } from './shared.js'

/** What `<messaging-messages>` calls (the typed client's outbox and delivery methods). */
export interface MessagesClient extends SessionClient {
  listMessages(filter?: {
    infrastructureId?: string
    status?: DeliveryStatus
    channelId?: string
    recipient?: string
    limit?: number
  }): Promise<OutboxMessage[]>
  getMessage(messageId: string, infrastructureId?: string): Promise<OutboxMessage>
  listAttempts(messageId: string, infrastructureId?: string): Promise<DeliveryAttempt[]>
  redriveMessage(messageId: string, infrastructureId?: string): Promise<OutboxMessage>
  cancelMessage(messageId: string, infrastructureId?: string): Promise<CancelResult>
  listMessagingChannels(filter?: { infrastructureId?: string }): Promise<Channel[]>
}

/** The states as an operator names them. */
const STATES: ReadonlyArray<[DeliveryStatus, string]> = [
  ['pending', 'Pending'],
  ['processing', 'In flight'],
  ['processed', 'Delivered'],
  ['failed', 'Failed'],
  ['dead', 'Dead'],
  ['cancelled', 'Cancelled'],
  ['confirmed', 'Confirmed'],
  ['bounced', 'Bounced'],
]
const stateLabel = (s: DeliveryStatus) => STATES.find(([k]) => k === s)?.[1] ?? s
const OUTCOMES: Readonly<Record<DeliveryAttempt['outcome'], string>> = {
  delivered: 'Delivered',
  retryable: 'Failed, to be retried',
  permanent: 'Failed for good',
}
/** A message id as typed: a UUID, any case. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
/** How many messages one search shows. */
const PAGE = 50

const styles = css`
  form.search {
    display: grid;
    grid-template-columns: repeat(auto-fit, minmax(11rem, 1fr));
    gap: 0.5rem 0.75rem;
    align-items: end;
    margin-bottom: 0.75rem;
  }
  form.search label {
    display: flex;
    flex-direction: column;
    gap: 0.2rem;
    font-weight: 600;
  }
  .subject {
    display: block;
    font-weight: 600;
    overflow-wrap: anywhere;
  }
  .state-dead,
  .state-failed {
    color: var(--messaging-danger, #b42318);
    font-weight: 600;
  }
  .detail {
    margin-top: 1rem;
    border-top: 1px solid var(--messaging-border-color, #d0d7de);
    padding-top: 0.75rem;
  }
  dl.facts {
    display: grid;
    grid-template-columns: max-content 1fr;
    gap: 0.25rem 0.75rem;
    margin: 0 0 0.75rem;
  }
  dl.facts dt {
    color: var(--messaging-muted, #57606a);
  }
  dl.facts dd {
    margin: 0;
    overflow-wrap: anywhere;
  }
  pre.payload {
    background: var(--messaging-input-background, #ffffff);
    border: 1px solid var(--messaging-border-color, #d0d7de);
    border-radius: calc(var(--messaging-radius, 8px) / 2);
    padding: 0.5rem;
    overflow-x: auto;
    white-space: pre-wrap;
    word-break: break-word;
    font-family: var(--messaging-mono-font-family, ui-monospace, monospace);
    font-size: 0.85em;
    max-height: 20rem;
  }
  ol.timeline {
    list-style: none;
    margin: 0 0 0.75rem;
    padding: 0 0 0 1rem;
    border-left: 2px solid var(--messaging-border-color, #d0d7de);
  }
  ol.timeline li {
    position: relative;
    margin: 0 0 0.6rem;
  }
  ol.timeline li::before {
    content: '';
    position: absolute;
    left: -1.4rem;
    top: 0.35rem;
    width: 0.6rem;
    height: 0.6rem;
    border-radius: 50%;
    background: var(--messaging-accent, #0b5cad);
  }
  ol.timeline li.failed::before {
    background: var(--messaging-danger, #b42318);
  }
`

/**
 * `<messaging-messages>`: find a tenant's messages by id, state, channel or recipient (the
 * list route's own filters), and open one: its payload (channel secrets redacted by the
 * server), its attempts on a timeline (time, outcome, error, provider), and Redrive (dead
 * or failed) or Cancel (pending) through the same routes as everywhere else, with the result.
 *
 * @example
 * <messaging-messages infrastructure-id="…"></messaging-messages>
 *
 * Events: `messaging-message-changed` (detail: `{ messageId, action, status }`), `messaging-error`.
 */
export class MessagingMessages extends MessagingElement<MessagesClient> {
  static override styles = [baseStyles, styles, cardTableStyles]
  static override properties: PropertyDeclarations = {
    channels: { state: true },
    rows: { state: true },
    selected: { state: true },
    attempts: { state: true },
    status: { state: true },
    busy: { state: true },
  }

  declare protected channels: Channel[]
  declare protected rows: OutboxMessage[] | null
  declare protected selected: OutboxMessage | null
  declare protected attempts: DeliveryAttempt[]
  declare protected status: string
  declare protected busy: boolean

  constructor() {
    super()
    this.channels = []
    this.rows = null
    this.selected = null
    this.attempts = []
    this.status = ''
    this.busy = false
  }

  protected override resetForIdentity(): void {
    this.channels = []
    this.rows = null
    this.selected = null
    this.attempts = []
  }

  /** Redrive and cancel need `infra_admin` or `service`: nobody else is offered them. */
  protected get canAct(): boolean {
    return this.roleIs('infra_admin', 'service')
  }

  override async reload(): Promise<void> {
    const client = this.client
    if (!client) return
    if (this.sessionRole === null) void this.loadRole(client)
    const channels = await this.guard(() =>
      client.listMessagingChannels(this.scope).catch(() => [] as Channel[]),
    )
    if (channels) this.channels = channels
    await this.search()
  }

  private channelLabel(channelId: string): string {
    const c = this.channels.find((x) => x.id === channelId)
    return c ? c.name || c.channelKey : short(channelId)
  }

  private field(name: string): string {
    const el = this.shadowRoot?.querySelector<HTMLInputElement | HTMLSelectElement>(`[name="${name}"]`)
    return el?.value.trim() ?? ''
  }

  /** Runs the form's search: an id opens that message; otherwise the list route's filters. */
  private async search(): Promise<void> {
    const client = this.client
    if (!client) return
    const id = this.field('messageId')
    if (id) {
      if (!UUID.test(id)) {
        this.error = 'Enter a message id: a UUID such as 1b4e28ba-2fa1-11d2-883f-0016d3cca427.'
        return
      }
      await this.open(id.toLowerCase())
      return
    }
    const status = this.field('status') as DeliveryStatus | ''
    const channelId = this.field('channelId')
    const recipient = this.field('recipient')
    this.loading = true
    const rows = await this.guard(() =>
      client.listMessages({
        ...this.scope,
        limit: PAGE,
        ...(status && { status }),
        ...(channelId && { channelId }),
        ...(recipient && { recipient }),
      }),
    )
    if (rows) {
      this.error = null
      this.rows = rows
      this.status = `${rows.length === PAGE ? `The first ${PAGE}` : rows.length} message${rows.length === 1 ? '' : 's'} found.`
    }
    this.loading = false
  }

  /** Opens one message: the message as the server shows it (secrets redacted) and its attempts. */
  private async open(messageId: string): Promise<void> {
    const client = this.client
    if (!client) return
    const { infrastructureId } = this.scope
    const found = await this.guard(() =>
      Promise.all([
        client.getMessage(messageId, infrastructureId),
        client.listAttempts(messageId, infrastructureId),
      ]),
    )
    if (!found) return
    this.error = null
    ;[this.selected, this.attempts] = found
    await this.updateComplete
    this.shadowRoot?.querySelector<HTMLElement>('#message-title')?.focus()
  }

  private async act(m: OutboxMessage, action: 'redrive' | 'cancel'): Promise<void> {
    const client = this.client
    if (!client) return
    this.busy = true
    this.status = ''
    const identity = this.identity
    try {
      let said: string
      if (action === 'redrive') {
        await client.redriveMessage(m.id, m.infrastructureId)
        said = `Message ${short(m.id)} sent round again: pending.`
      } else {
        const r = await client.cancelMessage(m.id, m.infrastructureId)
        said =
          r.cancelled.length > 0
            ? `Message ${short(m.id)} cancelled.`
            : `Message ${short(m.id)} was not cancelled: ${stateLabel(r.kept[0]?.status ?? m.status).toLowerCase()}, a worker holds or settled it.`
      }
      if (identity !== this.identity) return
      const fresh = await client.getMessage(m.id, m.infrastructureId)
      this.status = said
      this.dispatchEvent(
        new CustomEvent('messaging-message-changed', {
          detail: { messageId: m.id, action, status: fresh.status },
          bubbles: true,
          composed: true,
        }),
      )
      this.rows = this.rows?.map((r) => (r.id === m.id ? fresh : r)) ?? null
      this.selected = fresh
      this.attempts = await client.listAttempts(m.id, m.infrastructureId)
    } catch (e) {
      if (identity === this.identity) {
        this.error = describeError(e)
        this.dispatchEvent(new CustomEvent('messaging-error', { detail: e, bubbles: true, composed: true }))
      }
    } finally {
      this.busy = false
    }
  }

  private renderSearch(): TemplateResult {
    return html`<form
      class="search"
      role="search"
      aria-label="Find messages"
      @submit=${(e: Event) => {
        e.preventDefault()
        void this.search()
      }}
    >
      <label>Message id <input name="messageId" autocomplete="off" spellcheck="false" /></label>
      <label
        >State
        <select name="status">
          <option value="">Any state</option>
          ${STATES.map(([v, l]) => html`<option value=${v}>${l}</option>`)}
        </select>
      </label>
      <label
        >Channel
        <select name="channelId">
          <option value="">Any channel</option>
          ${this.channels.map((c) => html`<option value=${c.id}>${c.name || c.channelKey}</option>`)}
        </select>
      </label>
      <label>Recipient <input name="recipient" autocomplete="off" /></label>
      <div><button type="submit">Find</button></div>
    </form>`
  }

  private renderRows(): TemplateResult | typeof nothing {
    if (this.rows === null) return nothing
    if (this.rows.length === 0) return html`<p class="muted">No message matches.</p>`
    return html`<div class="table-wrap">
      <table>
        <caption class="visually-hidden">Messages found, oldest first</caption>
        <thead>
          <tr>
            <th scope="col">Message</th>
            <th scope="col">Channel</th>
            <th scope="col">State</th>
            <th scope="col" class="num">Attempts</th>
            <th scope="col">Queued</th>
            <th scope="col"><span class="visually-hidden">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          ${this.rows.map(
            (m) => html`<tr data-message=${m.id}>
              <th scope="row">
                <span class="subject">${subjectOf(m.payload)}</span>
                <code class="muted" title=${m.id}>${short(m.id)}</code>
              </th>
              <td data-label="Channel">${this.channelLabel(m.channelId)}</td>
              <td data-label="State" class=${`state-${m.status}`}>${stateLabel(m.status)}</td>
              <td class="num" data-label="Attempts">${m.attempts}</td>
              <td data-label="Queued">${formatTime(m.createdAt)}</td>
              <td>
                <button
                  type="button"
                  class="secondary"
                  aria-label=${`Open message ${short(m.id)}`}
                  @click=${() => this.open(m.id)}
                >
                  Open
                </button>
              </td>
            </tr>`,
          )}
        </tbody>
      </table>
    </div>`
  }

  private renderAttempt(a: DeliveryAttempt): TemplateResult {
    return html`<li class=${a.outcome === 'delivered' ? 'delivered' : 'failed'} data-attempt=${a.attempt}>
      <strong>Attempt ${a.attempt}: ${OUTCOMES[a.outcome]}</strong>
      <span class="muted">${formatTime(a.finishedAt)}, ${a.durationMs} ms${a.provider ? html`, via ${a.provider}` : nothing}</span>
      ${
        a.error || a.errorCode
          ? html`<div class="error-text">${[a.errorCode, a.error].filter(Boolean).join(': ')}</div>`
          : nothing
      }
    </li>`
  }

  private renderDetail(): TemplateResult | typeof nothing {
    const m = this.selected
    if (!m) return nothing
    const redrivable = m.status === 'dead' || m.status === 'failed'
    return html`<section class="detail" aria-labelledby="message-title" data-open=${m.id}>
      <h3 id="message-title" tabindex="-1">Message ${short(m.id)}: ${subjectOf(m.payload)}</h3>
      <dl class="facts">
        <dt>State</dt>
        <dd data-state=${m.status} class=${`state-${m.status}`}>${stateLabel(m.status)}</dd>
        <dt>Channel</dt>
        <dd>${this.channelLabel(m.channelId)}</dd>
        <dt>Id</dt>
        <dd><code>${m.id}</code></dd>
        <dt>Recipients</dt>
        <dd>${m.notification ? m.notification.userId : (m.recipients ?? []).join(', ') || '-'}</dd>
        <dt>Queued</dt>
        <dd>${formatTime(m.createdAt)}</dd>
        <dt>Due</dt>
        <dd>${formatTime(m.availableAt)}</dd>
        <dt>Attempts</dt>
        <dd>${m.attempts} of ${m.maxAttempts}</dd>
        ${m.lastError ? html`<dt>Last error</dt><dd class="error-text">${m.lastError}</dd>` : nothing}
      </dl>
      ${
        this.canAct && (redrivable || m.status === 'pending')
          ? html`<div class="toolbar">
            ${
              redrivable
                ? html`<button type="button" ?disabled=${this.busy} @click=${() => this.act(m, 'redrive')}>
                  Redrive
                </button>`
                : nothing
            }
            ${
              m.status === 'pending'
                ? html`<button type="button" ?disabled=${this.busy} @click=${() => this.act(m, 'cancel')}>
                  Cancel message
                </button>`
                : nothing
            }
          </div>`
          : nothing
      }
      <h4>Payload</h4>
      <pre class="payload" tabindex="0" aria-label="Payload">${JSON.stringify(m.payload, null, 2)}</pre>
      <h4>Attempts</h4>
      ${
        this.attempts.length === 0
          ? html`<p class="muted">No attempt yet.</p>`
          : html`<ol class="timeline" aria-label="Attempts, oldest first">
            ${this.attempts.map((a) => this.renderAttempt(a))}
          </ol>`
      }
    </section>`
  }

  protected override render(): TemplateResult {
    return html`<section aria-labelledby="messages-title" part="section">
      <h2 id="messages-title">Messages</h2>
      ${this.error ? html`<div class="alert" role="alert">${this.error}</div>` : nothing}
      <p class="status" role="status">${this.status}</p>
      ${this.renderSearch()} ${this.loading ? html`<p class="muted">Loading…</p>` : nothing}
      ${this.renderRows()} ${this.renderDetail()}
    </section>`
  }
}
