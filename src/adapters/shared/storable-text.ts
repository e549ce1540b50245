import type { DeliveryAttempt } from '../../domain/delivery.js'
import type { Settlement } from '../../domain/outbox-message.js'

/**
 * Column caps of the attempt and outbox texts (sql/0006, SQLite v2): a longer value would
 * break the CHECK and, with it, the settle that carries it.
 */
export const TEXT_CAPS = {
  error: 4000,
  errorCode: 100,
  providerMessageId: 500,
  lastError: 4000,
  // sql/0030, SQLite v7: the longest host name (RFC 1035).
  workerHost: 253,
  // sql/0057, SQLite v15.
  provider: 300,
} as const

// biome-ignore lint/suspicious/noControlCharactersInRegex: U+0000 is exactly what a store cannot keep
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g

/**
 * A text from outside (a receiver's body, an SMTP reply, a provider id) as every store can
 * keep it: U+0000 (PostgreSQL `text` refuses it) and lone surrogates (not UTF-8) become
 * U+FFFD, and it is cut to `max` UTF-16 units without splitting a pair. The application
 * cleans such texts before they reach a store; the stores do it again, because a settle
 * that fails on its error text would leave the message held until its lease lapsed, and
 * fail again on the next attempt.
 */
export function storableText(text: string, max: number): string {
  let out = text.replace(UNSTORABLE, '\ufffd')
  if (out.length > max) {
    const cut = out.charCodeAt(max - 1)
    out = out.slice(0, cut >= 0xd800 && cut <= 0xdbff ? max - 1 : max)
  }
  return out
}

const orNull = (text: string | null, max: number) => (text === null ? null : storableText(text, max))

/** A settlement whose error text every store can keep. */
export const storableSettlement = (s: Settlement): Settlement =>
  s.lastError === null ? s : { ...s, lastError: storableText(s.lastError, TEXT_CAPS.lastError) }

/** An attempt record whose texts every store can keep. */
export const storableAttempt = (a: DeliveryAttempt): DeliveryAttempt => ({
  ...a,
  errorCode: orNull(a.errorCode, TEXT_CAPS.errorCode),
  error: orNull(a.error, TEXT_CAPS.error),
  providerMessageId: orNull(a.providerMessageId, TEXT_CAPS.providerMessageId),
  workerHost: orNull(a.workerHost ?? null, TEXT_CAPS.workerHost),
  provider: orNull(a.provider ?? null, TEXT_CAPS.provider),
})
