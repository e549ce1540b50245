import pg from 'pg'
import type { WakeSignal } from '../../ports/wake-signal.js'

/** The channel the enqueue trigger notifies (sql/0005_triggers.sql). */
export const WAKE_CHANNEL = 'messaging_outbox'

/** The LISTEN connection's application_name, so an operator can find it in pg_stat_activity. */
export const WAKE_APPLICATION_NAME = 'messaging_wake'

/**
 * The database throttles NOTIFY to one per 100 ms and swallows the rest: a wake-up means
 * "claim now, and once more a little later" for the enqueues the throttle swallowed.
 */
const TRAILING_MS = 110
const RECONNECT_MIN_MS = 100
const RECONNECT_MAX_MS = 5_000

export interface PostgresWakeSignal extends WakeSignal {
  close(): Promise<void>
}

/**
 * Cross-process wake-ups: one dedicated client LISTENs on `messaging_outbox` while anyone
 * subscribes (opened with the first subscriber, closed with the last), and reconnects by
 * itself with backoff when the connection drops; after a reconnect it wakes the
 * subscribers once, since a signal may have been missed meanwhile. `notify` is an
 * in-process broadcast: the enqueue's own trigger sends the NOTIFY that other processes
 * hear. Polling stays the fallback, so a lost signal costs latency, never a message.
 */
export function createPostgresWakeSignal(config: pg.ClientConfig): PostgresWakeSignal {
  const listeners = new Set<(infrastructureId: string) => void>()
  let client: pg.Client | null = null
  let closed = false
  let reconnectTimer: NodeJS.Timeout | undefined
  let trailingTimer: NodeJS.Timeout | undefined
  let backoff = RECONNECT_MIN_MS
  let connectedOnce = false

  const fire = (infrastructureId: string) => {
    for (const l of [...listeners]) l(infrastructureId)
  }
  const wakeFromDatabase = () => {
    fire('')
    if (trailingTimer === undefined) {
      trailingTimer = setTimeout(() => {
        trailingTimer = undefined
        fire('')
      }, TRAILING_MS)
    }
  }

  const wanted = () => !closed && listeners.size > 0

  function scheduleReconnect(): void {
    if (!wanted() || reconnectTimer !== undefined) return
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined
      void connect()
    }, backoff)
    backoff = Math.min(backoff * 2, RECONNECT_MAX_MS)
  }

  async function connect(): Promise<void> {
    if (!wanted() || client) return
    const c = new pg.Client({ ...config, application_name: WAKE_APPLICATION_NAME })
    client = c
    let dropped = false
    const drop = () => {
      if (dropped) return
      dropped = true
      if (client === c) client = null
      c.end().catch(() => undefined)
      scheduleReconnect()
    }
    c.on('error', drop)
    c.on('end', drop)
    c.on('notification', (n) => {
      if (n.channel === WAKE_CHANNEL) wakeFromDatabase()
    })
    try {
      await c.connect()
      await c.query(`LISTEN ${WAKE_CHANNEL}`)
    } catch {
      drop()
      return
    }
    if (!wanted()) {
      drop()
      return
    }
    backoff = RECONNECT_MIN_MS
    // Whatever was signalled while the connection was down is looked for now.
    if (connectedOnce) wakeFromDatabase()
    connectedOnce = true
  }

  function disconnect(): void {
    clearTimeout(reconnectTimer)
    reconnectTimer = undefined
    clearTimeout(trailingTimer)
    trailingTimer = undefined
    const c = client
    client = null
    c?.end().catch(() => undefined)
  }

  return {
    notify(infrastructureId) {
      if (listeners.size === 0) return
      queueMicrotask(() => fire(infrastructureId))
    },
    subscribe(listener) {
      listeners.add(listener)
      if (!client && reconnectTimer === undefined) void connect()
      return () => {
        listeners.delete(listener)
        if (listeners.size === 0) disconnect()
      }
    },
    async close() {
      closed = true
      listeners.clear()
      disconnect()
    },
  }
}
