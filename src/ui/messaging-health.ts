import { css, html, nothing, type PropertyDeclarations, type TemplateResult } from 'lit'
import type { BreakerView } from '../domain/breaker.js'
import type { ChannelView as Channel } from '../domain/channel.js'
import type { ChannelStats } from '../domain/delivery.js'
import type { ThrottledCount } from '../domain/notification.js'
import type { OutboxMessage } from '../domain/outbox-message.js'
import type { QueueMinute } from '../domain/queue-history.js'
import { cardTableStyles, short, subjectOf } from './operator-views.js'
import { queueChartStyles, renderQueueCharts } from './queue-charts.js'
import {
  baseStyles,
  describeError,
  formatAge,
  formatTime,
  MessagingElement,
  PollController,
  type SessionClient,
} from './shared.js'

/** What `<messaging-health>` calls (the typed client's delivery methods). */
export interface HealthClient extends SessionClient {
  stats(filter?: { infrastructureId?: string }): Promise<ChannelStats[]>
  listDeadLetters(filter?: {
    infrastructureId?: string
    channelId?: string
    limit?: number
  }): Promise<OutboxMessage[]>
  redriveMessage(messageId: string, infrastructureId?: string): Promise<OutboxMessage>
  redriveChannel(channelId: string, infrastructureId?: string): Promise<{ redriven: number }>
  listMessagingChannels(filter?: { infrastructureId?: string }): Promise<Channel[]>
  listBreakers(filter?: { infrastructureId?: string }): Promise<BreakerView[]>
  throttledCounts(filter?: { infrastructureId?: string }): Promise<ThrottledCount[]>
  /** The charts' figures (`GET /stats/history`); without it the element draws no charts. */
  queueHistory?(filter?: { infrastructureId?: string; minutes?: number }): Promise<QueueMinute[]>
}

const styles = css`
  h3 {
    margin-top: 1.25rem;
  }
  .dead,
  .breaker-open {
    color: var(--messaging-danger, #b42318);
    font-weight: 600;
  }
  .subject {
    display: block;
    font-weight: 600;
    overflow-wrap: anywhere;
  }
  th code.muted {
    font-weight: 400;
    font-size: 0.8em;
  }
`

/**
 * `<messaging-health>`: queue health per tenant and channel (pending, in flight, delivered,
 * failed, dead, cancelled, held in open digests, age of the oldest due pending message), the tenant's backlog,
 * throughput and dead letters over the last hour as charts (for operators who may read the
 * history), the channels whose circuit
 * breaker is open (their messages wait for the endpoint to recover), the deliveries each
 * category's per-recipient throttle skipped in the last 24 hours, and the dead letters with
 * their last error and a Redrive button (one message, or every dead one of a channel). Refreshes every
 * `poll-interval` ms (default 30000; 0: off).
 *
 * @example
 * <messaging-health infrastructure-id="…"></messaging-health>
 *
 * Events: `messaging-redriven` (detail: `{ messageId }` or `{ channelId, redriven }`), `messaging-error`.
 */
export class MessagingHealth extends MessagingElement<HealthClient> {
  static override styles = [baseStyles, styles, cardTableStyles, queueChartStyles]
  static override properties: PropertyDeclarations = {
    pollInterval: { attribute: 'poll-interval', type: Number },
    stats: { state: true },
    dead: { state: true },
    breakers: { state: true },
    throttled: { state: true },
    history: { state: true },
    channelNames: { state: true },
    status: { state: true },
    busy: { state: true },
  }

  declare pollInterval: number
  declare protected stats: ChannelStats[]
  declare protected dead: OutboxMessage[]
  declare protected breakers: BreakerView[]
  declare protected throttled: ThrottledCount[]
  /** The last hour of one tenant, for the charts; null: none to show (no reader, or refused). */
  declare protected history: QueueMinute[] | null
  declare protected channelNames: Map<string, string>
  declare protected status: string
  declare protected busy: string | null

  constructor() {
    super()
    this.pollInterval = 30_000
    this.stats = []
    this.dead = []
    this.breakers = []
    this.throttled = []
    this.history = null
    this.channelNames = new Map()
    this.status = ''
    this.busy = null
  }

  protected readonly poll = new PollController(
    this,
    () => this.pollInterval,
    () => Boolean(this.client) && !this.loading && !this.busy,
    () => this.reload(),
  )

  protected override resetForIdentity(): void {
    this.stats = []
    this.dead = []
    this.breakers = []
    this.throttled = []
    this.history = null
    this.channelNames = new Map()
  }

  /** Redrive needs `infra_admin` or `service`: nobody else is offered what would be refused. */
  protected get canRedrive(): boolean {
    return this.roleIs('infra_admin', 'service')
  }

  override async reload(): Promise<void> {
    const client = this.client
    if (!client) return
    this.loading = true
    if (this.sessionRole === null) void this.loadRole(client)
    const result = await this.guard(async () => {
      const stats = await client.stats(this.scope)
      const tenants = [...new Set(stats.filter((s) => s.dead > 0).map((s) => s.infrastructureId))]
      const everyTenant = [
        ...new Set([
          ...stats.map((s) => s.infrastructureId),
          ...(this.scope.infrastructureId ? [this.scope.infrastructureId] : []),
        ]),
      ]
      // The charts show one tenant: the element's (or the client's default), else the only one listed.
      const charted = this.scope.infrastructureId ?? (everyTenant.length === 1 ? everyTenant[0] : undefined)
      const [dead, channels, breakers, throttled, history] = await Promise.all([
        Promise.all(
          tenants.map((infrastructureId) => client.listDeadLetters({ infrastructureId, limit: 100 })),
        ),
        Promise.all(
          [...new Set(stats.map((s) => s.infrastructureId))].map((infrastructureId) =>
            // Names are a nicety: a caller who may read stats but not channels sees ids.
            client.listMessagingChannels({ infrastructureId }).catch(() => [] as Channel[]),
          ),
        ),
        Promise.all(everyTenant.map((infrastructureId) => client.listBreakers({ infrastructureId }))),
        Promise.all(
          everyTenant.map((infrastructureId) =>
            // Read by infra_admin and service only: another reader of the stats sees none.
            client.throttledCounts({ infrastructureId }).catch(() => [] as ThrottledCount[]),
          ),
        ),
        // Read by infra_admin and service with a tenant-wide grant: anyone else gets no charts.
        charted !== undefined && client.queueHistory
          ? client.queueHistory({ infrastructureId: charted, minutes: 60 }).catch(() => null)
          : Promise.resolve(null),
      ])
      return {
        stats,
        dead: dead.flat(),
        channels: channels.flat(),
        breakers: breakers.flat(),
        throttled: throttled.flat(),
        history,
      }
    })
    if (result) {
      this.error = null
      this.stats = result.stats
      this.dead = result.dead
      this.breakers = result.breakers
      this.throttled = result.throttled
      this.history = result.history
      this.channelNames = new Map(result.channels.map((c) => [c.id, c.name || c.channelKey]))
    }
    this.loading = false
  }

  private channelLabel(channelId: string): string {
    return this.channelNames.get(channelId) ?? short(channelId)
  }

  private async redrive(run: () => Promise<string>, key: string, detail: Record<string, unknown>) {
    this.busy = key
    this.status = ''
    const identity = this.identity
    try {
      const said = await run()
      if (identity === this.identity) {
        this.status = said
        this.dispatchEvent(new CustomEvent('messaging-redriven', { detail, bubbles: true, composed: true }))
      }
    } catch (e) {
      if (identity === this.identity) {
        this.error = describeError(e)
        this.dispatchEvent(new CustomEvent('messaging-error', { detail: e, bubbles: true, composed: true }))
      }
    }
    this.busy = null
    // Signed in as someone else meanwhile: the reload for them is already under way.
    if (identity !== this.identity) return
    await this.reload()
    await this.updateComplete
    this.shadowRoot?.querySelector<HTMLElement>('#dead-title')?.focus()
  }

  private redriveOne(m: OutboxMessage) {
    const client = this.client
    if (!client) return
    void this.redrive(
      async () => {
        await client.redriveMessage(m.id, m.infrastructureId)
        return `Message ${short(m.id)} on ${this.channelLabel(m.channelId)} sent round again.`
      },
      m.id,
      { messageId: m.id },
    )
  }

  private redriveChannel(s: ChannelStats) {
    const client = this.client
    if (!client) return
    let redriven = 0
    void this.redrive(
      async () => {
        redriven = (await client.redriveChannel(s.channelId, s.infrastructureId)).redriven
        return `${redriven} dead message${redriven === 1 ? '' : 's'} of ${this.channelLabel(s.channelId)} sent round again.`
      },
      s.channelId,
      {
        channelId: s.channelId,
        get redriven() {
          return redriven
        },
      },
    )
  }

  /** Backlog, throughput and dead letters over the last hour, refreshed with the rest. */
  private renderHistory(): TemplateResult | typeof nothing {
    if (!this.history || this.history.length === 0) return nothing
    return html`<h3 id="history-title">The last hour</h3>
      ${renderQueueCharts(this.history)}`
  }

  /** Channels whose breaker is open: their messages wait, attempts not spent, until a probe gets through. */
  private renderBreakers(): TemplateResult {
    return html`<h3 id="breakers-title">Open circuit breakers</h3>
      ${
        this.breakers.length === 0
          ? html`<p class="muted">Every channel is delivering.</p>`
          : html`<div class="table-wrap">
            <table>
              <caption class="visually-hidden">Channels whose endpoint failed repeatedly: their messages wait</caption>
              <thead>
                <tr>
                  <th scope="col">Channel</th>
                  <th scope="col">State</th>
                  <th scope="col" class="num">Failures</th>
                  <th scope="col">Opened</th>
                  <th scope="col">Next probe</th>
                </tr>
              </thead>
              <tbody>
                ${this.breakers.map(
                  (b) => html`<tr data-breaker=${b.channelId}>
                    <th scope="row">${this.channelLabel(b.channelId)}</th>
                    <td class="breaker-open" data-label="State">
                      ${b.status === 'open' ? 'Open: messages wait' : 'Probing: one delivery under way'}
                    </td>
                    <td class="num" data-label="Failures">${b.failures}</td>
                    <td data-label="Opened">${formatTime(b.openedAt)}</td>
                    <td data-label="Next probe">${formatTime(b.retryAt)}</td>
                  </tr>`,
                )}
              </tbody>
            </table>
          </div>`
      }`
  }

  /** Per category, the deliveries its throttle skipped in the last 24 hours (recipient x channel type). */
  private renderThrottled(): TemplateResult {
    const multiTenant = new Set(this.throttled.map((t) => t.infrastructureId)).size > 1
    return html`<h3 id="throttled-title">Throttled in the last 24 hours</h3>
      ${
        this.throttled.length === 0
          ? html`<p class="muted">No notification was throttled.</p>`
          : html`<div class="table-wrap">
            <table>
              <caption class="visually-hidden">Deliveries each category's per-recipient throttle skipped</caption>
              <thead>
                <tr>
                  ${multiTenant ? html`<th scope="col">Tenant</th>` : nothing}
                  <th scope="col">Category</th>
                  <th scope="col" class="num">Throttled</th>
                </tr>
              </thead>
              <tbody>
                ${this.throttled.map(
                  (t) => html`<tr data-throttled=${t.categoryKey}>
                    ${
                      multiTenant
                        ? html`<td data-label="Tenant"><code title=${t.infrastructureId}>${short(t.infrastructureId)}</code></td>`
                        : nothing
                    }
                    <th scope="row">${t.categoryKey}</th>
                    <td class="num throttled" data-label="Throttled">${t.throttled}</td>
                  </tr>`,
                )}
              </tbody>
            </table>
          </div>`
      }`
  }

  protected override render(): TemplateResult {
    const multiTenant = new Set(this.stats.map((s) => s.infrastructureId)).size > 1
    return html`<section aria-labelledby="health-title" part="section">
      <h2 id="health-title">Queue health</h2>
      ${this.error ? html`<div class="alert" role="alert">${this.error}</div>` : nothing}
      <p class="status" role="status">${this.status}</p>
      <div class="toolbar">
        <button type="button" class="secondary" @click=${() => this.reload()}>Refresh</button>
        ${this.loading ? html`<span class="muted">Loading…</span>` : nothing}
      </div>
      <div class="table-wrap">
        <table>
          <caption class="visually-hidden">Messages per channel by delivery state</caption>
          <thead>
            <tr>
              ${multiTenant ? html`<th scope="col">Tenant</th>` : nothing}
              <th scope="col">Channel</th>
              <th scope="col" class="num">Pending</th>
              <th scope="col" class="num">In flight</th>
              <th scope="col" class="num">Delivered</th>
              <th scope="col" class="num">Failed</th>
              <th scope="col" class="num">Dead</th>
              <th scope="col" class="num">Cancelled</th>
              <th scope="col" class="num" title="Messages held in digests not yet closed">In digests</th>
              <th scope="col" class="num">Oldest pending</th>
              ${this.canRedrive ? html`<th scope="col"><span class="visually-hidden">Actions</span></th>` : nothing}
            </tr>
          </thead>
          <tbody>
            ${
              this.stats.length === 0
                ? html`<tr><td colspan=${(multiTenant ? 10 : 9) + (this.canRedrive ? 1 : 0)} class="muted">No messages yet.</td></tr>`
                : this.stats.map(
                    (s) => html`<tr data-channel=${s.channelId}>
                      ${
                        multiTenant
                          ? html`<td data-label="Tenant"><code title=${s.infrastructureId}>${short(s.infrastructureId)}</code></td>`
                          : nothing
                      }
                      <th scope="row">${this.channelLabel(s.channelId)}</th>
                      <td class="num" data-label="Pending">${s.pending}</td>
                      <td class="num" data-label="In flight">${s.inFlight}</td>
                      <td class="num" data-label="Delivered">${s.processed + (s.confirmed ?? 0)}</td>
                      <td class="num" data-label="Failed">${s.failed + (s.bounced ?? 0)}</td>
                      <td class=${s.dead > 0 ? 'num dead' : 'num'} data-label="Dead">${s.dead}</td>
                      <td class="num cancelled" data-label="Cancelled">${s.cancelled}</td>
                      <td class="num" data-label="In digests">${s.digested ?? 0}</td>
                      <td class="num" data-label="Oldest pending">${formatAge(s.oldestPendingAgeMs)}</td>
                      ${
                        this.canRedrive
                          ? html`<td>
                        ${
                          s.dead > 0
                            ? html`<button
                              type="button"
                              class="secondary"
                              aria-label=${`Redrive all dead messages of ${this.channelLabel(s.channelId)}`}
                              ?disabled=${this.busy !== null}
                              @click=${() => this.redriveChannel(s)}
                            >
                              Redrive all
                            </button>`
                            : nothing
                        }
                      </td>`
                          : nothing
                      }
                    </tr>`,
                  )
            }
          </tbody>
        </table>
      </div>
      ${this.renderHistory()}
      ${this.renderBreakers()}
      ${this.renderThrottled()}
      <h3 id="dead-title" tabindex="-1">Dead letters</h3>
      ${
        this.dead.length === 0
          ? html`<p class="muted">No dead letters.</p>`
          : html`<div class="table-wrap">
            <table>
              <caption class="visually-hidden">Dead messages with their last error</caption>
              <thead>
                <tr>
                  <th scope="col">Message</th>
                  <th scope="col">Channel</th>
                  <th scope="col" class="num">Attempts</th>
                  <th scope="col">Last error</th>
                  <th scope="col">Queued</th>
                  ${this.canRedrive ? html`<th scope="col"><span class="visually-hidden">Actions</span></th>` : nothing}
                </tr>
              </thead>
              <tbody>
                ${this.dead.map(
                  (m) => html`<tr data-message=${m.id}>
                    <th scope="row">
                      <span class="subject">${subjectOf(m.payload)}</span>
                      <code class="muted" title=${m.id}>${short(m.id)}</code>
                    </th>
                    <td data-label="Channel">${this.channelLabel(m.channelId)}</td>
                    <td class="num" data-label="Attempts">${m.attempts}</td>
                    <td class="error-text" data-label="Last error">${m.lastError ?? '-'}</td>
                    <td data-label="Queued">${formatTime(m.createdAt)}</td>
                    ${
                      this.canRedrive
                        ? html`<td>
                      <button
                        type="button"
                        aria-label=${`Redrive message ${short(m.id)}`}
                        ?disabled=${this.busy !== null}
                        @click=${() => this.redriveOne(m)}
                      >
                        Redrive
                      </button>
                    </td>`
                        : nothing
                    }
                  </tr>`,
                )}
              </tbody>
            </table>
          </div>`
      }
    </section>`
  }
}
