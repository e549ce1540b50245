import type { Logger } from 'pino'
import { isMessagingError } from '../domain/errors.js'

/**
 * The store's availability as a server sees it, logged once per change however many
 * requests fail meanwhile: a database that is down (or not up yet) is one line when it goes
 * and one when it comes back, not one per request.
 */
export interface StoreStateLog {
  /** A request failed; a store failure is a state, anything else is logged as it comes. */
  failed(error: unknown): void
  /** An answer's status: below 500, the store answered. */
  answered(status: number): void
}

export function storeStateLog(log: Logger): StoreStateLog {
  let down: string | null = null
  return {
    failed(error) {
      if (!isMessagingError(error) || error.code !== 'STORAGE_FAILURE') {
        log.error({ err: error }, 'request failed')
        return
      }
      const reason = String(error)
      if (reason === down) return
      down = reason
      log.error({ err: reason }, 'store unavailable; answering 503 with Retry-After until it is back')
    },
    answered(status) {
      if (status >= 500 || down === null) return
      down = null
      log.info({}, 'store available again')
    },
  }
}
