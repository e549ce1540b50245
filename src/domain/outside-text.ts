/**
 * Text that comes from outside the module (a receiver's body, a provider's error or id, an
 * SMTP reply, a transport's thrown message) is cleaned once before any store sees it.
 * PostgreSQL's `text` refuses U+0000 outright (SQLSTATE 22P05): one NUL in a 500 page of a
 * gzip-bombing receiver made every settle of that message fail, so it stayed held until its
 * lease lapsed, again and again. SQLite and memory keep such text but a JSON reader of the
 * attempts list may not (lone surrogates are not valid UTF-8).
 */

/** Longest stored error text of an attempt or a message's `lastError`. */
export const MAX_ERROR_TEXT = 2000
/** Longest stored error code (`http_503`, `ECONNREFUSED`, `21211` ...). */
export const MAX_ERROR_CODE = 100
/** Longest stored provider message id (Twilio's SIDs are 34, SMTP queue ids under 100). */
export const MAX_PROVIDER_ID = 500

const REPLACEMENT = '\uFFFD'
const ELLIPSIS = '...'
// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g
// NUL, which no store keeps, and the other C0/C1 controls but tab, line feed and carriage return,
// which only garble logs and terminals (a body of binary junk is mostly these).
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly what is being removed
const CONTROLS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/g

/**
 * `text` fit to store: U+0000 and other control characters and lone surrogates replaced by
 * U+FFFD, and at most `maxLength` UTF-16 units (cut on a code point boundary, `...` marking
 * the cut). Idempotent.
 *
 * @example
 * cleanOutsideText('HTTP 500: \u0000\u0000\ud800', 100) // 'HTTP 500: \uFFFD\uFFFD\uFFFD'
 */
export function cleanOutsideText(text: string, maxLength: number): string {
  let out = text.replace(CONTROLS, REPLACEMENT).replace(LONE_SURROGATE, REPLACEMENT)
  if (out.length > maxLength) {
    let end = Math.max(0, maxLength - ELLIPSIS.length)
    // Never split a surrogate pair: that would create the very lone surrogate removed above.
    const code = out.charCodeAt(end - 1)
    if (end > 0 && code >= 0xd800 && code <= 0xdbff) end--
    out = `${out.slice(0, end)}${ELLIPSIS}`
  }
  return out
}

/** `cleanOutsideText` for optional text: null stays null. */
export function cleanOptionalText(text: string | null | undefined, maxLength: number): string | null {
  return text === null || text === undefined ? null : cleanOutsideText(text, maxLength)
}
