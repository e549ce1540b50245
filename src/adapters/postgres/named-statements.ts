import type { PostgresPool, PostgresPoolClient } from 'kysely'
import type pg from 'pg'

/**
 * Statement texts the adapter sends as named prepared statements. kysely sends every
 * statement unnamed, so the server parses and plans it again on every call; a hot
 * statement registered here is parsed once per connection and then only bound and run
 * (node-postgres keeps the names it prepared per connection). Registered texts are the
 * adapter's own constants, so a name always stands for one text.
 */
const names = new Map<string, string>()

/** Registers `text` under `name` and returns the text, to be run through kysely as usual. */
export function namedStatement(name: string, text: string): string {
  const taken = names.get(text)
  if (taken !== undefined && taken !== name) throw new Error(`statement registered twice: ${taken}, ${name}`)
  names.set(text, name)
  return text
}

/**
 * A pool for kysely's PostgresDialect that runs the registered statements by name and
 * everything else as it was sent. The pool itself is untouched (a host's stays the host's);
 * each of its clients gets one wrapper, kept as long as the client.
 */
export function namingPool(pool: pg.Pool): PostgresPool {
  const wrappers = new WeakMap<pg.PoolClient, PostgresPoolClient>()
  const wrap = (client: pg.PoolClient): PostgresPoolClient => {
    const query = (textOrCursor: unknown, values?: readonly unknown[]) => {
      const name = typeof textOrCursor === 'string' ? names.get(textOrCursor) : undefined
      if (name !== undefined)
        return client.query({ name, text: textOrCursor as string, values: values as unknown[] })
      return (client.query as (...a: unknown[]) => unknown)(textOrCursor, values)
    }
    return { query, release: (destroy?: boolean) => client.release(destroy) } as PostgresPoolClient
  }
  return {
    connect: async () => {
      const client = await pool.connect()
      let w = wrappers.get(client)
      if (w === undefined) {
        w = wrap(client)
        wrappers.set(client, w)
      }
      return w
    },
    end: () => pool.end(),
  }
}
