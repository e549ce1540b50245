import pg from 'pg'
import { type InboxChange, type InboxFeed, InboxListeners } from '../../ports/inbox-feed.js'

/** The channel the inbox triggers notify (sql/0073_inbox_notify.sql). */
export const INBOX_CHANNEL = 'messaging_inbox'

/** The LISTEN connection's application_name, so an operator can find it in pg_stat_activity. */
export const INBOX_FEED_APPLICATION_NAME = 'messaging_inbox_feed'

const RECONNECT_MIN_MS = 100
const RECONNECT_MAX_MS = 5_000

export interface PostgresInboxFeed extends InboxFeed {
  close(): Promise<void>
}

/** `e:<infra>:<user>:<entry>` or `m:<infra>:<user>` (sql/0073); anything else is ignored. */
export function parseInboxNotification(payload: string | undefined): InboxChange | null {
  const parts = (payload ?? '').split(':')
  if (parts[0] === 'e' && parts.length === 4) {
    return { kind: 'entry', infrastructureId: parts[1]!, userId: parts[2]!, entryId: parts[3]! }
  }
  if (parts[0] === 'm' && parts.length === 3) {
    return { kind: 'marked', infrastructureId: parts[1]!, userId: parts[2]! }
  }
  return null
}

/**
 * The live inbox across processes: one dedicated client per process LISTENs on
 * `messaging_inbox` while any stream is open (opened with the first subscriber, closed with
 * the last) and fans each notification out in memory to the streams of its (infrastructure,
 * user). It reconnects by itself with backoff when the connection drops (a restarted server,
 * a terminated backend), and then sends every stream a `resync`: notifications sent while it
 * was away are lost, so each stream reads again from its cursor. `publish` does nothing:
 * the inbox's own triggers send what every process hears, this one included.
 */
export function createPostgresInboxFeed(config: pg.ClientConfig): PostgresInboxFeed {
  const listeners = new InboxListeners()
  let client: pg.Client | null = null
  let listening: Promise<void> | null = null
  let closed = false
  let reconnectTimer: NodeJS.Timeout | undefined
  let backoff = RECONNECT_MIN_MS
  let connectedOnce = false

  const wanted = () => !closed && listeners.size > 0

  function scheduleReconnect(): void {
    if (!wanted() || reconnectTimer !== undefined) return
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined
      listening = connect()
      listening.catch(() => undefined)
    }, backoff)
    backoff = Math.min(backoff * 2, RECONNECT_MAX_MS)
  }

  async function connect(): Promise<void> {
    if (!wanted()) return
    const c = new pg.Client({ ...config, application_name: INBOX_FEED_APPLICATION_NAME })
    client = c
    let dropped = false
    const drop = () => {
      if (dropped) return
      dropped = true
      if (client === c) {
        client = null
        listening = null
      }
      c.end().catch(() => undefined)
      scheduleReconnect()
    }
    c.on('error', drop)
    c.on('end', drop)
    c.on('notification', (n) => {
      if (n.channel !== INBOX_CHANNEL) return
      const change = parseInboxNotification(n.payload)
      if (change) listeners.fire(change)
    })
    try {
      await c.connect()
      await c.query(`LISTEN ${INBOX_CHANNEL}`)
    } catch (e) {
      drop()
      throw e
    }
    if (!wanted()) {
      drop()
      return
    }
    backoff = RECONNECT_MIN_MS
    // Whatever was committed while the connection was down is looked for now.
    if (connectedOnce) listeners.fire({ kind: 'resync' })
    connectedOnce = true
  }

  function disconnect(): void {
    clearTimeout(reconnectTimer)
    reconnectTimer = undefined
    const c = client
    client = null
    listening = null
    c?.end().catch(() => undefined)
  }

  return {
    publish() {
      // The triggers of sql/0073 notify at commit, for every process.
    },
    subscribe(infrastructureId, userId, listener) {
      const remove = listeners.add(infrastructureId, userId, listener)
      if (!client && reconnectTimer === undefined) {
        listening = connect()
        listening.catch(() => undefined)
      }
      return () => {
        remove()
        if (listeners.size === 0) disconnect()
      }
    },
    async ready() {
      // A failed attempt is retried in the background, and its reconnect sends a resync.
      await listening?.catch(() => undefined)
    },
    get listeners() {
      return listeners.size
    },
    async close() {
      closed = true
      disconnect()
    },
  }
}
