/**
 * The W3C trace context (https://www.w3.org/TR/trace-context/) of the span that enqueued a
 * message, stored with it so the delivery, in whatever process claims it, joins that trace.
 * Null when no span was recording at enqueue (no OpenTelemetry SDK in the host): nothing
 * is written then.
 */
export interface TraceContext {
  /** `version-traceid-parentid-flags`, 55 characters for version 00. */
  readonly traceparent: string
  /** Vendor entries, or null when the span carried none. */
  readonly tracestate: string | null
}

// Version 00's shape (the stores' CHECK holds the same): a later version may append fields
// after a dash, which the specification tells a parser to ignore; 55 + those, capped at 128.
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(-[^\s]*)?$/
/** The specification's limit: 32 list members of at most 256 characters plus separators; 512 is what propagators send. */
export const MAX_TRACESTATE_LENGTH = 512
export const MAX_TRACEPARENT_LENGTH = 128

/**
 * A trace context the stores accept, or null when the carrier has none or a malformed one.
 * A propagator's carrier that does not fit is dropped at enqueue (tracing never fails an
 * enqueue); the stores refuse one that reaches them anyway (a ValidationError).
 */
export function storableTraceContext(
  carrier: {
    readonly traceparent?: string | undefined
    readonly tracestate?: string | null | undefined
  } | null,
): TraceContext | null {
  const parent = carrier?.traceparent
  if (parent === undefined || parent.length > MAX_TRACEPARENT_LENGTH || !TRACEPARENT.test(parent)) return null
  const state = carrier?.tracestate
  if (state !== undefined && state !== null && state.length > MAX_TRACESTATE_LENGTH) return null
  return { traceparent: parent, tracestate: state === undefined || state === '' ? null : state }
}
