import { css, html, nothing, type PropertyDeclarations, type TemplateResult } from 'lit'
import { type InboxEntry, inboxCursorOf } from '../domain/inbox.js'
import { baseStyles, describeError, formatTime, MessagingElement, PollController } from './shared.js'

/** What `<messaging-inbox>` calls (the typed client's inbox methods). */
export interface InboxClient {
  listInbox(filter?: {
    infrastructureId?: string
    limit?: number
    unreadOnly?: boolean
  }): Promise<InboxEntry[]>
  countUnread(infrastructureId?: string): Promise<{ unread: number }>
  markInbox(input: {
    infrastructureId?: string
    entryIds: string[] | 'all'
    mark: 'seen' | 'read' | 'archived'
  }): Promise<{ changed: number }>
  /**
   * The live inbox (`GET /inbox/stream`, the typed client's `streamInbox`): when the client
   * has it, the element follows it and polls only while it is down.
   */
  streamInbox?(options: {
    infrastructureId?: string
    after?: string
    signal?: AbortSignal
    onEvent: (
      event:
        | { readonly type: 'entry'; readonly id: string; readonly entry: InboxEntry }
        | { readonly type: 'unread'; readonly unread: number },
    ) => void
  }): Promise<void>
}

/** Waits before the element opens the stream again after it failed: doubling from 1 s to 60 s. */
const STREAM_RETRY_MIN_MS = 1_000
const STREAM_RETRY_MAX_MS = 60_000
/** Before every entry: where the stream of an inbox listed empty resumes, so nothing delivered meanwhile is missed. */
const ORIGIN = '0.00000000-0000-0000-0000-000000000000'

/** Whether entry place `a` (`<ms>.<id>`) comes after `b`. */
function later(a: string, b: string | undefined): boolean {
  if (b === undefined) return true
  const [am = '', ai = ''] = a.split('.')
  const [bm = '', bi = ''] = b.split('.')
  return Number(am) > Number(bm) || (Number(am) === Number(bm) && ai > bi)
}

const styles = css`
  .count {
    display: inline-block;
    min-width: 1.6em;
    padding: 0 0.45rem;
    margin-left: 0.4rem;
    border-radius: 999px;
    text-align: center;
    font-size: 0.8em;
    background: var(--messaging-accent, #0b5cad);
    color: var(--messaging-accent-contrast, #ffffff);
  }
  .count.zero {
    background: var(--messaging-border-color, #d0d7de);
    color: var(--messaging-color, #1d2430);
  }
  ul {
    list-style: none;
    margin: 0;
    padding: 0;
  }
  li {
    display: grid;
    grid-template-columns: 1fr auto;
    gap: 0.2rem 0.75rem;
    padding: 0.6rem 0.25rem;
    border-bottom: 1px solid var(--messaging-border-color, #d0d7de);
  }
  li.unread .title {
    font-weight: 700;
  }
  li.unread {
    border-left: 3px solid var(--messaging-accent, #0b5cad);
    padding-left: 0.5rem;
  }
  .title,
  .body {
    overflow-wrap: anywhere;
    min-width: 0;
  }
  .body {
    grid-column: 1;
    white-space: pre-wrap;
  }
  .when {
    font-size: 0.8em;
    color: var(--messaging-muted, #57606a);
  }
  .entry-actions {
    grid-column: 2;
    grid-row: 1 / span 3;
    align-self: center;
  }
`

/** The subject and text of an entry's payload: `subject`/`title` and `text`/`body`, else its JSON. */
export function entryText(payload: unknown): { title: string; body: string } {
  if (typeof payload === 'string') return { title: payload, body: '' }
  if (typeof payload === 'object' && payload !== null && !Array.isArray(payload)) {
    const p = payload as Record<string, unknown>
    const pick = (...keys: string[]) => {
      for (const k of keys) if (typeof p[k] === 'string' && p[k] !== '') return p[k] as string
      return ''
    }
    const title = pick('subject', 'title')
    const body = pick('text', 'body', 'message')
    if (title || body) return { title: title || body, body: title ? body : '' }
  }
  return { title: JSON.stringify(payload), body: '' }
}

/**
 * `<messaging-inbox>`: the signed-in user's in-app inbox, newest first, with the unread
 * count, Mark read per entry and for all. Live: it follows `GET /inbox/stream` when the
 * client can (`streamInbox`), and polls (`poll-interval` milliseconds, default 15000, 0
 * turns it off; paused while the page is hidden) when it cannot or while the stream is down.
 *
 * @example
 * <messaging-inbox infrastructure-id="…" poll-interval="10000"></messaging-inbox>
 *
 * Events: `messaging-unread-changed` (detail: `{ unread }`), `messaging-error`.
 */
export class MessagingInbox extends MessagingElement<InboxClient> {
  static override styles = [baseStyles, styles]
  static override properties: PropertyDeclarations = {
    pollInterval: { attribute: 'poll-interval', type: Number },
    limit: { type: Number },
    entries: { state: true },
    unread: { state: true },
    status: { state: true },
    live: { state: true },
  }

  declare pollInterval: number
  /** Entries shown (newest first). Default 50. */
  declare limit: number
  declare protected entries: InboxEntry[]
  declare protected unread: number | null
  declare protected status: string
  /** Whether the stream is open now (polling pauses meanwhile). */
  declare protected live: boolean
  private stream: AbortController | null = null
  private streamRetryMs = STREAM_RETRY_MIN_MS
  private streamRetry: ReturnType<typeof setTimeout> | undefined
  /** The newest entry's place the element has: where a reopened stream resumes. */
  private cursor: string | undefined

  constructor() {
    super()
    this.pollInterval = 15_000
    this.limit = 50
    this.entries = []
    this.unread = null
    this.status = ''
    this.live = false
  }

  // Live refresh: polls while visible, and reloads at once when the page comes back into view.
  protected readonly poll = new PollController(
    this,
    () => this.pollInterval,
    () => Boolean(this.client) && !this.loading && !this.live,
    () => this.reload(),
    true,
  )

  protected override resetForIdentity(): void {
    this.entries = []
    this.unread = null
    this.stopStream()
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    this.stopStream()
  }

  override connectedCallback(): void {
    super.connectedCallback()
    if (this.hasUpdated && this.client) void this.reload()
  }

  private stopStream(): void {
    this.stream?.abort()
    this.stream = null
    clearTimeout(this.streamRetry)
    this.streamRetry = undefined
    this.live = false
    this.cursor = undefined
    this.streamRetryMs = STREAM_RETRY_MIN_MS
  }

  /**
   * Follows the stream from the newest entry listed, so nothing between the list and the
   * stream is missed; when it ends or fails, polling takes over and the stream is opened
   * again later (resuming from the newest entry received).
   */
  private startStream(): void {
    const client = this.client
    if (!client?.streamInbox || this.stream || this.streamRetry !== undefined || !this.isConnected) return
    const controller = new AbortController()
    const identity = this.identity
    this.stream = controller
    const ended = () => {
      if (this.stream !== controller) return
      this.stream = null
      this.live = false
      if (identity !== this.identity || !this.isConnected) return
      this.streamRetry = setTimeout(() => {
        this.streamRetry = undefined
        this.startStream()
      }, this.streamRetryMs)
      this.streamRetryMs = Math.min(this.streamRetryMs * 2, STREAM_RETRY_MAX_MS)
    }
    client
      .streamInbox({
        ...this.scope,
        ...(this.cursor !== undefined && { after: this.cursor }),
        signal: controller.signal,
        onEvent: (event) => {
          if (this.stream !== controller) return
          this.live = true
          this.streamRetryMs = STREAM_RETRY_MIN_MS
          if (event.type === 'entry') this.received(event.id, event.entry)
          else this.counted(event.unread)
        },
      })
      .then(ended, ended)
  }

  private received(cursor: string, entry: InboxEntry): void {
    if (later(cursor, this.cursor)) this.cursor = cursor
    if (this.entries.some((e) => e.id === entry.id)) return
    this.entries = [entry, ...this.entries]
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1))
      .slice(0, this.limit)
  }

  private counted(unread: number): void {
    if (unread === this.unread) return
    this.unread = unread
    this.dispatchEvent(
      new CustomEvent('messaging-unread-changed', { detail: { unread }, bubbles: true, composed: true }),
    )
  }

  override async reload(): Promise<void> {
    const client = this.client
    if (!client) return
    this.loading = true
    const infrastructureId = this.infrastructureId || undefined
    const result = await this.guard(() =>
      Promise.all([
        client.listInbox({ ...this.scope, limit: this.limit }),
        client.countUnread(infrastructureId),
      ]),
    )
    if (result) {
      const [entries, { unread }] = result
      this.error = null
      this.entries = entries
      const place = entries[0] ? inboxCursorOf(entries[0]) : ORIGIN
      if (later(place, this.cursor)) this.cursor = place
      this.counted(unread)
    }
    this.loading = false
    if (result) this.startStream()
  }

  private async mark(entryIds: string[] | 'all', focusAfter: HTMLElement | null) {
    const client = this.client
    if (!client) return
    this.status = ''
    const identity = this.identity
    const title = entryIds === 'all' ? '' : this.labelOf(entryIds[0] ?? '')
    try {
      const { changed } = await client.markInbox({ ...this.scope, entryIds, mark: 'read' })
      if (identity !== this.identity) return
      this.status = entryIds === 'all' ? `Marked ${changed} read.` : `Marked ${title} read.`
    } catch (e) {
      if (identity !== this.identity) return
      this.error = describeError(e)
      this.dispatchEvent(new CustomEvent('messaging-error', { detail: e, bubbles: true, composed: true }))
    }
    await this.reload()
    await this.updateComplete
    // The entry's button is gone once it is read: focus stays inside the list, on its title.
    ;(focusAfter?.isConnected
      ? focusAfter
      : this.shadowRoot?.querySelector<HTMLElement>('#inbox-title')
    )?.focus()
  }

  /**
   * How an entry is named to a person: its title in quotes, and its time when another entry
   * shown has the same title, so every Mark read button has a name of its own.
   */
  private labelOf(entryId: string): string {
    const e = this.entries.find((x) => x.id === entryId)
    if (!e) return 'the message'
    const { title } = entryText(e.payload)
    const short = title.length > 80 ? `${title.slice(0, 79)}…` : title
    const twins = this.entries.filter((x) => entryText(x.payload).title === title)
    if (twins.length === 1) return `"${short}"`
    const when = formatTime(e.createdAt)
    // Sent within the same second: the place among them (newest first) tells them apart.
    const sameTime = twins.filter((x) => formatTime(x.createdAt) === when)
    return sameTime.length === 1
      ? `"${short}" of ${when}`
      : `"${short}" of ${when} (${sameTime.indexOf(e) + 1} of ${sameTime.length})`
  }

  protected override render(): TemplateResult {
    const unread = this.unread
    const unreadEntries = this.entries.filter((e) => e.readAt === null)
    return html`<section aria-labelledby="inbox-title" part="section">
      <h2 id="inbox-title" tabindex="-1">
        Inbox
        <span class=${`count ${unread === 0 ? 'zero' : ''}`} id="unread-count" aria-live="polite" aria-atomic="true"
          >${unread ?? '…'}<span class="visually-hidden"> unread</span></span
        >
      </h2>
      ${this.error ? html`<div class="alert" role="alert">${this.error}</div>` : nothing}
      <p class="status" role="status">${this.status}</p>
      <div class="toolbar">
        <button type="button" ?disabled=${unreadEntries.length === 0} @click=${() => this.mark('all', null)}>
          Mark all read
        </button>
        <button type="button" class="secondary" @click=${() => this.reload()}>Refresh</button>
      </div>
      ${
        this.entries.length === 0
          ? this.error
            ? nothing
            : html`<p class="muted">${this.loading && unread === null ? 'Loading…' : 'No messages.'}</p>`
          : html`<ul aria-label="Messages">
            ${this.entries.map((e) => {
              const { title, body } = entryText(e.payload)
              const isUnread = e.readAt === null
              return html`<li class=${isUnread ? 'unread' : ''} data-entry=${e.id}>
                <span class="title" id=${`t-${e.id}`} tabindex="-1"
                  >${isUnread ? html`<span class="visually-hidden">Unread: </span>` : nothing}${title}</span
                >
                ${body ? html`<span class="body">${body}</span>` : nothing}
                <span class="when">${formatTime(e.createdAt)}</span>
                ${
                  isUnread
                    ? html`<span class="entry-actions"
                      ><button
                        type="button"
                        class="secondary"
                        aria-label=${`Mark ${this.labelOf(e.id)} read`}
                        @click=${() => this.mark([e.id], this.shadowRoot?.getElementById(`t-${e.id}`) ?? null)}
                      >
                        Mark read
                      </button></span
                    >`
                    : nothing
                }
              </li>`
            })}
          </ul>`
      }
    </section>`
  }
}
