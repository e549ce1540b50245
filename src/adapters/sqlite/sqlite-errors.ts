import { StorageError } from '../../domain/errors.js'

/** better-sqlite3's extended result code (`SQLITE_CONSTRAINT_UNIQUE`, ...), if the error carries one. */
export function sqliteCode(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined
  const code = (e as { code?: unknown }).code
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined
}

export const isUniqueViolation = (e: unknown) => {
  const code = sqliteCode(e)
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
}

export const isForeignKeyViolation = (e: unknown) => sqliteCode(e) === 'SQLITE_CONSTRAINT_FOREIGNKEY'

/**
 * Classifies by result code, never by message text. SQLite errors that are not the
 * caller's become a StorageError naming only the code (messages may quote values).
 * Errors of the module's own set pass through.
 */
export function toStorageError(e: unknown, during: string): unknown {
  const code = sqliteCode(e)
  return code === undefined ? e : new StorageError(`sqlite ${during} failed: ${code}`, { cause: e })
}
