import type { Clock } from '../../src/index.js'
import { T0 } from './fixtures.js'

/**
 * The clock a store resolves its times against, moved by a test. Memory and SQLite are
 * handed a clock; PostgreSQL's is the database's own (messaging_now()), which a test
 * database replaces with one it can set (see createTestDatabase's `clock`).
 */
export interface StoreClock {
  set(at: Date): Promise<void>
}

/** A store clock for the stores that take one (memory, SQLite), starting at T0. */
export function manualStoreClock(start: Date = T0): { clock: Clock; control: StoreClock } {
  let now = start.getTime()
  return {
    clock: { now: () => new Date(now) },
    control: {
      async set(at) {
        now = at.getTime()
      },
    },
  }
}
