import type pg from 'pg'
import { type InboxChange, type InboxFeed, InboxListeners } from '../../ports/inbox-feed.js'
import { createListenConnection } from './listen-connection.js'

/** The channel the inbox triggers notify (sql/0073_inbox_notify.sql). */
export const INBOX_CHANNEL = 'messaging_inbox'

/** The LISTEN connection's application_name, so an operator can find it in pg_stat_activity. */
export const INBOX_FEED_APPLICATION_NAME = 'messaging_inbox_feed'

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
 * The live inbox across processes: one dedicated connection per process LISTENs on
 * `messaging_inbox` while any stream is open (listen-connection.ts: opened with the first
 * subscriber, closed with the last, reconnecting by itself) and fans each notification out
 * in memory to the streams of its (infrastructure, user). After a reconnect every stream
 * gets a `resync`: notifications sent while it was away are lost, so each stream reads again
 * from its cursor. `publish` does nothing: the inbox's own triggers send what every process
 * hears, this one included.
 */
export function createPostgresInboxFeed(config: pg.ClientConfig): PostgresInboxFeed {
  const listeners = new InboxListeners()
  let closed = false
  const connection = createListenConnection({
    config,
    channel: INBOX_CHANNEL,
    applicationName: INBOX_FEED_APPLICATION_NAME,
    wanted: () => !closed && listeners.size > 0,
    onPayload(payload) {
      const change = parseInboxNotification(payload)
      if (change) listeners.fire(change)
    },
    onResync: () => listeners.fire({ kind: 'resync' }),
  })

  return {
    publish() {
      // The triggers of sql/0073 notify at commit, for every process.
    },
    subscribe(infrastructureId, userId, listener) {
      const remove = listeners.add(infrastructureId, userId, listener)
      connection.ensure()
      return () => {
        remove()
        if (listeners.size === 0) connection.disconnect()
      }
    },
    // A failed attempt is retried in the background, and its reconnect sends a resync.
    ready: () => connection.ready(),
    get listeners() {
      return listeners.size
    },
    async close() {
      closed = true
      connection.disconnect()
    },
  }
}
