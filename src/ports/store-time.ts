/**
 * The store's own clock, as a unit of work reads it: PostgreSQL's `messaging_now()` (the
 * database's clock, which every relative time of the module is resolved against), SQLite's
 * and memory's the clock they were given. What "now" means for a decision the store's
 * other times must agree with (a recipient's quiet hours against the messages' due times).
 */
export interface StoreTime {
  now(): Promise<Date>
}
