import { z } from 'zod'

/**
 * The instants the module accepts: 1970-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z.
 * Every store holds that range alike (PostgreSQL's timestamptz, SQLite's ISO text, a JS
 * Date); beyond it they part ways (a JS Date reaches year 275760, an ISO string of it has
 * six digits and a sign, which text ordering and PostgreSQL's parser do not agree on).
 */
export const MIN_TIMESTAMP = new Date('1970-01-01T00:00:00.000Z')
export const MAX_TIMESTAMP = new Date('9999-12-31T23:59:59.999Z')

/** A Date, an RFC 3339 string or epoch milliseconds, within [MIN_TIMESTAMP, MAX_TIMESTAMP]. */
export const timestampSchema = z.coerce
  .date()
  .refine((d) => d.getTime() >= MIN_TIMESTAMP.getTime() && d.getTime() <= MAX_TIMESTAMP.getTime(), {
    message: 'must lie between 1970-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z',
    params: { rule: 'timestamp_range' },
  })
