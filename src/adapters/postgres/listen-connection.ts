import pg from 'pg'

const RECONNECT_MIN_MS = 100
const RECONNECT_MAX_MS = 5_000

export interface ListenConnectionOptions {
  readonly config: pg.ClientConfig
  /** The NOTIFY channel to LISTEN on (a fixed identifier of this module, never user input). */
  readonly channel: string
  /** The connection's application_name, so an operator can find it in pg_stat_activity. */
  readonly applicationName: string
  /** Whether anyone still wants the connection (some subscriber is left and the feed is open). */
  readonly wanted: () => boolean
  /** Called with each notification's payload on `channel`. */
  readonly onPayload: (payload: string | undefined) => void
  /** Called after a reconnect: notifications sent while the connection was away are lost. */
  readonly onResync: () => void
}

export interface ListenConnection {
  /** Opens the connection unless it is open or a reconnect is already scheduled. */
  ensure(): void
  /** Settles once the current connect attempt has (a failed one is retried in the background). */
  ready(): Promise<void>
  /** Closes the connection and cancels a scheduled reconnect. */
  disconnect(): void
}

/**
 * One dedicated client LISTENing on one channel, shared by every stream of a process: opened
 * with the first subscriber, closed with the last. It reconnects by itself with backoff
 * (100 ms doubling to 5 s) when the connection drops (a restarted server, a terminated
 * backend), and then calls `onResync` so every stream reads again from its cursor.
 */
export function createListenConnection(options: ListenConnectionOptions): ListenConnection {
  const { config, channel, applicationName, wanted } = options
  let client: pg.Client | null = null
  let listening: Promise<void> | null = null
  let reconnectTimer: NodeJS.Timeout | undefined
  let backoff = RECONNECT_MIN_MS
  let connectedOnce = false

  function start(): void {
    listening = connect()
    listening.catch(() => undefined)
  }

  function scheduleReconnect(): void {
    if (!wanted() || reconnectTimer !== undefined) return
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined
      start()
    }, backoff)
    backoff = Math.min(backoff * 2, RECONNECT_MAX_MS)
  }

  async function connect(): Promise<void> {
    if (!wanted()) return
    const c = new pg.Client({ ...config, application_name: applicationName })
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
      if (n.channel === channel) options.onPayload(n.payload)
    })
    try {
      await c.connect()
      await c.query(`LISTEN ${channel}`)
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
    if (connectedOnce) options.onResync()
    connectedOnce = true
  }

  return {
    ensure() {
      if (!client && reconnectTimer === undefined) start()
    },
    async ready() {
      await listening?.catch(() => undefined)
    },
    disconnect() {
      clearTimeout(reconnectTimer)
      reconnectTimer = undefined
      const c = client
      client = null
      listening = null
      c?.end().catch(() => undefined)
    },
  }
}
