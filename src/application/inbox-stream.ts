import type { InboxCursor, InboxEntry } from '../domain/inbox.js'
import { inboxCursorOf } from '../domain/inbox.js'
import type { TenantScope } from '../domain/tenant-scope.js'
import type { InboxChange } from '../ports/inbox-feed.js'
import type { Repositories } from '../ports/unit-of-work.js'
import type { ServiceContext } from './context.js'

/** What a live inbox stream sends: a new entry (with its cursor), or the unread count. */
export type InboxStreamEvent =
  | { readonly type: 'entry'; readonly id: string; readonly entry: InboxEntry }
  | { readonly type: 'unread'; readonly unread: number }

export interface InboxStreamSink {
  readonly event: (event: InboxStreamEvent) => void
  /** The stream ended on an error of the store: the client reconnects and resumes from its last id. */
  readonly failed: (error: unknown) => void
}

/** Entries read per page when a stream catches up from a cursor. */
const PAGE = 100
/**
 * Entry ids a stream remembers having sent, so an entry both notified and found by a
 * catch-up goes out once: more than a catch-up page and the notifications of a burst.
 */
const REMEMBERED = 1_000
/** Before any entry: where a stream of an empty inbox starts. */
const ORIGIN: InboxCursor = { createdAt: new Date(0), id: '00000000-0000-0000-0000-000000000000' }

const after = (a: InboxCursor, b: InboxCursor) =>
  a.createdAt.getTime() > b.createdAt.getTime() ||
  (a.createdAt.getTime() === b.createdAt.getTime() && a.id > b.id)

/**
 * One caller's live inbox: follows the feed for the caller's (infrastructure, user) and reads
 * what a change names through the caller's own scoped read, so a change can show nothing the
 * store would not. Changes are worked off one batch at a time (a burst is one read).
 */
export class InboxStream {
  private cursor: InboxCursor = ORIGIN
  private readonly sent = new Set<string>()
  private readonly ids = new Set<string>()
  private recount = false
  private resync = false
  private unread: number | null = null
  private pumping: Promise<void> | null = null
  private unsubscribe: (() => void) | null = null
  private closed = false
  /** The place a resuming client named: the entry there is the one it has. */
  private held: InboxCursor | null = null

  constructor(
    private readonly ctx: ServiceContext,
    private readonly scope: TenantScope,
    private readonly infrastructureId: string,
    private readonly sink: InboxStreamSink,
  ) {}

  /**
   * Listens first, then reads: an entry committed meanwhile is both notified and read, and
   * goes out once. From `from`, sends what came after it; else starts after the newest entry.
   */
  async open(from: InboxCursor | null): Promise<void> {
    this.unsubscribe = this.ctx.inboxFeed.subscribe(this.infrastructureId, this.scope.userId, (c) =>
      this.changed(c),
    )
    try {
      await this.ctx.inboxFeed.ready()
      if (from) {
        // The client has the entry at this very place; the others of its millisecond it may
        // not (see catchUp).
        this.held = from
        this.cursor = from
        await this.catchUp()
      } else {
        const [newest] = await this.read((r) =>
          r.inbox.list(this.scope, {
            infrastructureId: this.infrastructureId,
            includeArchived: true,
            limit: 1,
          }),
        )
        if (newest) this.cursor = { createdAt: newest.createdAt, id: newest.id }
      }
      await this.count(true)
    } catch (e) {
      this.close()
      throw e
    }
    this.schedule()
  }

  /** Stops listening; idempotent. */
  close(): void {
    this.closed = true
    this.unsubscribe?.()
    this.unsubscribe = null
  }

  private changed(change: InboxChange): void {
    if (this.closed) return
    if (change.kind === 'entry') this.ids.add(change.entryId.toLowerCase())
    else if (change.kind === 'marked') this.recount = true
    else this.resync = true
    this.schedule()
  }

  private schedule(): void {
    // open() schedules once it is done; until then changes only gather.
    if (this.closed || this.pumping || this.unsubscribe === null || this.unread === null) return
    if (this.ids.size === 0 && !this.recount && !this.resync) return
    this.pumping = this.pump().then(
      () => {
        this.pumping = null
        this.schedule()
      },
      (e: unknown) => {
        this.pumping = null
        if (this.closed) return
        this.close()
        this.sink.failed(e)
      },
    )
  }

  private async pump(): Promise<void> {
    const ids = [...this.ids]
    const resync = this.resync
    this.ids.clear()
    this.resync = false
    this.recount = false
    let sent = 0
    if (resync) sent += await this.catchUp()
    if (ids.length > 0) {
      const found = await this.read((r) => r.inbox.find(this.scope, this.infrastructureId, ids))
      sent += this.send(found)
    }
    await this.count(sent > 0 || resync || ids.length === 0)
  }

  /**
   * Sends every unarchived entry after the cursor, a page at a time; returns how many went.
   * It starts at the cursor's millisecond, not after the cursor's id: ids are random, so an
   * entry written later within that millisecond may sort before the cursor's. Entries of that
   * millisecond the stream sent already are skipped by id; after a reconnect (Last-Event-ID)
   * the client may get those again, and tells them by their ids.
   */
  private async catchUp(): Promise<number> {
    let total = 0
    let from: InboxCursor = { createdAt: this.cursor.createdAt, id: ORIGIN.id }
    for (;;) {
      const after = from
      const page = await this.read((r) =>
        r.inbox.listAfter(this.scope, { infrastructureId: this.infrastructureId, after, limit: PAGE }),
      )
      total += this.send(page)
      if (page.length < PAGE || this.closed) return total
      const last = page[page.length - 1]!
      from = { createdAt: last.createdAt, id: last.id }
    }
  }

  private send(entries: readonly InboxEntry[]): number {
    let n = 0
    for (const entry of entries) {
      if (this.closed) break
      const place = { createdAt: entry.createdAt, id: entry.id }
      if (after(place, this.cursor)) this.cursor = place
      if (this.sent.has(entry.id) || this.isHeld(entry)) continue
      this.remember(entry.id)
      this.sink.event({ type: 'entry', id: inboxCursorOf(entry), entry })
      n++
    }
    return n
  }

  private isHeld(entry: InboxEntry): boolean {
    const h = this.held
    return h !== null && entry.id === h.id && entry.createdAt.getTime() === h.createdAt.getTime()
  }

  private remember(id: string): void {
    this.sent.add(id)
    if (this.sent.size > REMEMBERED) this.sent.delete(this.sent.values().next().value as string)
  }

  /** Sends the unread count when it moved (always on open). */
  private async count(wanted: boolean): Promise<void> {
    if (!wanted || this.closed) return
    const unread = await this.read((r) => r.inbox.countUnread(this.scope, this.infrastructureId))
    if (this.closed || unread === this.unread) return
    this.unread = unread
    this.sink.event({ type: 'unread', unread })
  }

  private read<T>(work: (repos: Repositories) => Promise<T>): Promise<T> {
    return this.ctx.uow.run(this.scope, work)
  }
}
