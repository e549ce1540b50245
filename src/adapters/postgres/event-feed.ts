import type pg from 'pg'
import { type EventFeed, EventListeners } from '../../ports/event-feed.js'
import { createListenConnection } from './listen-connection.js'

/** The channel the event log's trigger notifies (sql/0111_events_notify.sql). */
export const EVENTS_CHANNEL = 'messaging_events'

/** The LISTEN connection's application_name, so an operator can find it in pg_stat_activity. */
export const EVENT_FEED_APPLICATION_NAME = 'messaging_event_feed'

const TENANT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

export interface PostgresEventFeed extends EventFeed {
  close(): Promise<void>
}

/**
 * Delivery events across processes, as the live inbox's feed does it (inbox-feed.ts): one
 * dedicated connection per process LISTENs on `messaging_events` while any event stream is
 * open (listen-connection.ts), and fans each tenant's signal out in memory. After a
 * reconnect every stream reads again from its cursor (signals sent meanwhile are lost; the
 * log is not). `publish` does nothing: the trigger notifies every process, this one included.
 */
export function createPostgresEventFeed(config: pg.ClientConfig): PostgresEventFeed {
  const listeners = new EventListeners()
  let closed = false
  const connection = createListenConnection({
    config,
    channel: EVENTS_CHANNEL,
    applicationName: EVENT_FEED_APPLICATION_NAME,
    wanted: () => !closed && listeners.size > 0,
    onPayload(payload) {
      if (payload && TENANT.test(payload)) listeners.fire({ kind: 'events', infrastructureId: payload })
    },
    onResync: () => listeners.fire({ kind: 'resync' }),
  })

  return {
    publish() {
      // The trigger of sql/0111 notifies at commit, for every process.
    },
    subscribe(infrastructureId, listener) {
      const remove = listeners.add(infrastructureId, listener)
      connection.ensure()
      return () => {
        remove()
        if (listeners.size === 0) connection.disconnect()
      }
    },
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
