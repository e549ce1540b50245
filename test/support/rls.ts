import type pg from 'pg'

/** Runs `fn` in a transaction holding `claimsText` as the caller's claims (none when null), then rolls back. */
export async function as<T>(client: pg.Client, claimsText: string | null, fn: () => Promise<T>): Promise<T> {
  await client.query('begin')
  try {
    if (claimsText !== null)
      await client.query("select set_config('messaging.claims', $1, true)", [claimsText])
    return await fn()
  } finally {
    await client.query('rollback')
  }
}

/** The SQLSTATE a statement fails with, inside a savepoint so the transaction goes on. */
export async function refusal(client: pg.Client, text: string, values: unknown[] = []): Promise<string> {
  await client.query('savepoint probe')
  try {
    await client.query(text, values)
  } catch (e) {
    await client.query('rollback to savepoint probe')
    return (e as { code: string }).code
  }
  await client.query('release savepoint probe')
  return 'no error'
}
