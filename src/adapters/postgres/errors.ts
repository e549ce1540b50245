import { ChannelDigestsSignal } from '../../domain/digest.js'
import {
  ConflictError,
  IllegalTransitionError,
  MessagingError,
  NotFoundError,
  StorageError,
  ValidationError,
} from '../../domain/errors.js'

/** What a failed statement was doing, so a SQLSTATE can become the domain's error. */
export interface ErrorContext {
  /** 23505: the entity and key that were taken. */
  readonly conflict?: { entity: string; key: string }
  /** 23503: the referenced entity that does not exist (in the row's own infrastructure). */
  readonly missing?: { entity: string; id: string }
  /** 42501: refused by a policy or a privilege; the caller decides which domain error fits. */
  readonly refused?: () => Error
  /** Class 22 and 23514: the input field the value came from, when the statement knows it. */
  readonly field?: string
}

/** The SQLSTATE of a driver error, if it has one. */
export const sqlState = (e: unknown): string | undefined =>
  typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string'
    ? (e as { code: string }).code
    : undefined

/**
 * Maps a database error to the module's closed set, by SQLSTATE only (never by message
 * text, which changes with the server's language and version). Unclassified errors become
 * StorageError without the server's text (it may quote row values).
 */
export function classify(e: unknown, ctx: ErrorContext = {}): Error {
  // instanceof, not isMessagingError: a driver error also carries a string `code`.
  if (e instanceof MessagingError) return e
  // The store's answer, not a failure: the outbox service folds the enqueue (sql/0102).
  if (e instanceof ChannelDigestsSignal) return e
  const state = sqlState(e)
  switch (state) {
    case '23505':
      if (ctx.conflict) return new ConflictError(ctx.conflict.entity, ctx.conflict.key)
      break
    case '23503':
      if (ctx.missing) return new NotFoundError(ctx.missing.entity, ctx.missing.id)
      break
    case '42501':
      if (ctx.refused) return ctx.refused()
      break
    case 'MSG01':
      return new IllegalTransitionError('?', '?', 'refused by the database')
  }
  // Class 22, data exception: a value the database cannot hold; and a broken CHECK. The
  // domain refuses these first; one that still gets here is the caller's input, and a retry
  // would fail the same way, so it is a 400, never a 503. The server's text is not passed
  // on (it quotes values).
  if (state?.startsWith('22') || state === '23514') {
    return ValidationError.single(
      ctx.field ?? '(input)',
      state === '23514' ? 'check_violation' : 'data_exception',
      `a value the store cannot hold (SQLSTATE ${state})`,
    )
  }
  return new StorageError(`storage failure${state ? ` (SQLSTATE ${state})` : ''}`, { cause: e })
}
