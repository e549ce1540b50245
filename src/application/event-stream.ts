import type { DeliveryEvent, EventCursor } from '../domain/events.js'
import { parseEventCursor } from '../domain/events.js'
import type { TenantScope } from '../domain/tenant-scope.js'
import type { Repositories } from '../ports/unit-of-work.js'
import type { ServiceContext } from './context.js'

export interface EventStreamSink {
  readonly event: (event: DeliveryEvent) => void
  /** The stream ended on an error of the store: the client reconnects and resumes from its last id. */
  readonly failed: (error: unknown) => void
}

/** Events read per page when a stream catches up. */
const PAGE = 100
/**
 * A signal whose read found nothing new: on PostgreSQL the events are committed but not yet
 * below the read horizon (an older transaction is still open, docs/live.md "The cursor").
 * The stream looks again after 50 ms, doubling to 3.2 s (about 6 s in all), by then any
 * unit of work of the module has ended; a later signal or a reconnect covers the rest.
 */
const RECHECK_FIRST_MS = 50
const RECHECK_LAST_MS = 3_200

/**
 * One tenant's live event log for one service: follows the feed for the tenant and reads
 * through the caller's own scoped `list`, from its cursor, so nothing is skipped and nothing
 * is shown that the caller may not list. Reads one at a time; signals during a read gather.
 */
export class EventStream {
  private cursor: EventCursor | null = null
  private dirty = false
  private opened = false
  private closed = false
  private pumping: Promise<void> | null = null
  private unsubscribe: (() => void) | null = null
  private recheck: ReturnType<typeof setTimeout> | undefined
  private recheckMs = RECHECK_FIRST_MS

  constructor(
    private readonly ctx: ServiceContext,
    private readonly scope: TenantScope,
    private readonly infrastructureId: string,
    private readonly sink: EventStreamSink,
  ) {}

  /** Listens first, then reads: from `from` (what came after it), else from the newest event on. */
  async open(from: EventCursor | null): Promise<void> {
    this.unsubscribe = this.ctx.eventFeed.subscribe(this.infrastructureId, () => this.changed())
    try {
      await this.ctx.eventFeed.ready()
      if (from !== null) {
        this.cursor = from
        await this.catchUp()
      } else {
        this.cursor = await this.read((r) => r.events.last(this.scope, this.infrastructureId))
        // Anything that shows between that read and now is found by the next signal's read.
      }
    } catch (e) {
      this.close()
      throw e
    }
    this.opened = true
    this.schedule()
  }

  close(): void {
    this.closed = true
    clearTimeout(this.recheck)
    this.unsubscribe?.()
    this.unsubscribe = null
  }

  private changed(): void {
    if (this.closed) return
    this.dirty = true
    this.recheckMs = RECHECK_FIRST_MS
    this.schedule()
  }

  private schedule(): void {
    if (this.closed || !this.opened || this.pumping || !this.dirty) return
    this.dirty = false
    this.pumping = this.catchUp().then(
      (sent) => {
        this.pumping = null
        if (sent === 0) this.recheckLater()
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

  private recheckLater(): void {
    if (this.closed || this.recheckMs > RECHECK_LAST_MS || this.recheck !== undefined) return
    const ms = this.recheckMs
    this.recheckMs *= 2
    this.recheck = setTimeout(() => {
      this.recheck = undefined
      this.dirty = true
      this.schedule()
    }, ms)
  }

  /** Sends every event after the cursor, a page at a time; returns how many went. */
  private async catchUp(): Promise<number> {
    let total = 0
    for (;;) {
      const after = this.cursor
      const page = await this.read((r) =>
        r.events.list(this.scope, { infrastructureId: this.infrastructureId, after, limit: PAGE }),
      )
      for (const event of page) {
        if (this.closed) return total
        this.cursor = parseEventCursor(event.cursor)
        this.sink.event(event)
        total++
      }
      if (page.length < PAGE || this.closed) return total
    }
  }

  private read<T>(work: (repos: Repositories) => Promise<T>): Promise<T> {
    return this.ctx.uow.run(this.scope, work)
  }
}
