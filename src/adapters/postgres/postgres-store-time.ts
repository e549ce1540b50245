import { type Kysely, sql } from 'kysely'
import { StorageError } from '../../domain/errors.js'
import type { StoreTime } from '../../ports/store-time.js'
import type { MessagingDatabase } from './schema.js'

/** The database's clock (messaging_now(), sql/0010): what every relative time on this store is resolved against. */
export class PostgresStoreTime implements StoreTime {
  constructor(private readonly db: Kysely<MessagingDatabase>) {}

  async now(): Promise<Date> {
    const { rows } = await sql<{ now: Date }>`select messaging_now() as now`.execute(this.db)
    const now = rows[0]?.now
    if (!now) throw new StorageError('the database returned no time')
    return now
  }
}
