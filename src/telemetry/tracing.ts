import {
  type Attributes,
  type Context,
  createTraceState,
  isSpanContextValid,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api'
import { storableTraceContext, type TraceContext } from '../domain/trace-context.js'

/**
 * The module's tracer, through `@opentelemetry/api` only. Until a host registers an SDK the
 * API hands out its no-op tracer: a span is a shared non-recording object, and no trace
 * context is stored with a message (no column written, no extra round trip).
 */
export const tracer = trace.getTracer('messaging')

/** `messaging.system` names this module on every span and metric; the rest follow OpenTelemetry's messaging conventions. */
export const SYSTEM = 'messaging'

/** The W3C trace context of a span, or null when it has none (the no-op tracer's spans). */
export function traceContextOf(span: Span): TraceContext | null {
  const sc = span.spanContext()
  if (!isSpanContextValid(sc)) return null
  return storableTraceContext({
    traceparent: `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}`,
    tracestate: sc.traceState?.serialize(),
  })
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})/

/** The remote span a stored trace context names, or null (none stored, or one no SDK could use). */
export function spanContextOf(stored: TraceContext | null): SpanContext | null {
  const m = stored === null ? null : TRACEPARENT.exec(stored.traceparent)
  if (!m || m[1] === 'ff') return null
  const sc: SpanContext = {
    traceId: m[2]!,
    spanId: m[3]!,
    traceFlags: Number.parseInt(m[4]!, 16),
    isRemote: true,
    ...(stored!.tracestate !== null && { traceState: createTraceState(stored!.tracestate) }),
  }
  return isSpanContextValid(sc) ? sc : null
}

/** The context a delivery span starts in: a child of the enqueue's span when one was stored, else a new trace. */
export function parentOf(stored: TraceContext | null): Context {
  const sc = spanContextOf(stored)
  return sc === null ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, sc)
}

/** Ends `span` when `work` settles, marking it failed (with the error's class and message) when it throws. */
export async function inSpan<T>(span: Span, work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (e) {
    failSpan(span, e)
    throw e
  } finally {
    span.end()
  }
}

/** Marks a span failed by a thrown error. The error texts of this module name no secret (they are redacted where they arise). */
export function failSpan(span: Span, e: unknown, attributes?: Attributes): void {
  if (!span.isRecording()) return
  const err = e instanceof Error ? e : new Error(String(e))
  span.recordException(err)
  span.setStatus({ code: SpanStatusCode.ERROR, message: err.message })
  if (attributes) span.setAttributes(attributes)
}
