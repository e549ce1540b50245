/** Mints identifiers: message ids, channel ids, lease tokens. Must be UUIDs (the SQL columns are `uuid`). */
export interface IdGenerator {
  next(): string
}

export const randomIds: IdGenerator = { next: () => crypto.randomUUID() }
