import pg from 'pg'
import { type EventFeed, EventListeners } from '../../ports/event-feed.js'

/** The channel the event log's trigger notifies (sql/0111_events_notify.sql). */
export const EVENTS_CHANNEL = 'messaging_events'

/** The LISTEN connection's application_name, so an operator can find it in pg_stat_activity. */
export const EVENT_FEED_APPLICATION_NAME = 'messaging_event_feed'

const RECONNECT_MIN_MS = 100
const RECONNECT_MAX_MS = 5_000
const TENANT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

export interface PostgresEventFeed extends EventFeed {
  close(): Promise<void>
}

/**
 * Delivery events across processes, as the live inbox's feed does it (inbox-feed.ts): one
 * dedicated client per process LISTENs on `messaging_events` while any event stream is open,
 * and fans each tenant's signal out in memory. It reconnects by itself with backoff when
 * the connection drops, then tells every stream to read again from its cursor (signals sent
 * meanwhile are lost; the log is not). `publish` does nothing: the trigger notifies every
 * process, this one included.
 */
export function createPostgresEventFeed(config: pg.ClientConfig): PostgresEventFeed {
  const listeners = new EventListeners()
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
    const c = new pg.Client({ ...config, application_name: EVENT_FEED_APPLICATION_NAME })
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
      if (n.channel !== EVENTS_CHANNEL || !TENANT.test(n.payload ?? '')) return
      listeners.fire({ kind: 'events', infrastructureId: n.payload! })
    })
    try {
      await c.connect()
      await c.query(`LISTEN ${EVENTS_CHANNEL}`)
    } catch (e) {
      drop()
      throw e
    }
    if (!wanted()) {
      drop()
      return
    }
    backoff = RECONNECT_MIN_MS
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
      // The trigger of sql/0111 notifies at commit, for every process.
    },
    subscribe(infrastructureId, listener) {
      const remove = listeners.add(infrastructureId, listener)
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
