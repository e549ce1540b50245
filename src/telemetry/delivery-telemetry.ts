import {
  type Attributes,
  type Counter,
  type Histogram,
  isSpanContextValid,
  type Link,
  metrics,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api'
import type { AttemptReport, SettleResult } from '../application/settle.js'
import type { ClaimedMessage } from '../domain/outbox-message.js'
import { TenantLabels } from './tenant-labels.js'
import { failSpan, inSpan, parentOf, SYSTEM, spanContextOf, tracer } from './tracing.js'

/** The outcome a settled message is counted under. */
const OUTCOMES = { processed: 'delivered', pending: 'retried', failed: 'failed', dead: 'dead' } as const

/** OpenTelemetry's advice for durations in seconds, from 5 ms (a webhook on a LAN) to 60 s (a slow provider's timeout). */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

/** A claim span links at most this many messages' traces (OpenTelemetry's default span link limit is 128). */
const MAX_CLAIM_LINKS = 128

const now = () => performance.timeOrigin + performance.now()

/**
 * A delivery worker's spans and metrics, through `@opentelemetry/api` only. With no SDK
 * registered every call lands on the API's no-op tracer and meter: nothing is recorded and
 * no work is done beyond a few property reads per message.
 *
 * Spans: `messaging claim` (one per claim that returned messages, linked to each message's
 * enqueue), `messaging deliver` (one per attempt, a child of the enqueue's span when its
 * trace context was stored, so it joins that trace across processes) and its child
 * `messaging settle`. Metrics: `messaging.deliveries` (by outcome), `messaging.attempt.duration`
 * and `messaging.dead_letters`, each by tenant (bounded: tenant-labels.ts).
 */
export class DeliveryTelemetry {
  private readonly deliveries: Counter
  private readonly duration: Histogram
  private readonly deadLetters: Counter
  private readonly tenants: TenantLabels
  /** The claim span of each held message, for its delivery span's link. */
  private readonly claimedBy = new WeakMap<ClaimedMessage, SpanContext>()

  /** Instruments are made here, not at import: the API's meter is no proxy, an SDK registered later would miss them. */
  constructor(maxTenantLabels?: number) {
    const meter = metrics.getMeter('messaging')
    this.deliveries = meter.createCounter('messaging.deliveries', {
      description: 'Messages settled by this worker, by outcome: delivered, retried, failed, dead.',
      unit: '{message}',
    })
    this.duration = meter.createHistogram('messaging.attempt.duration', {
      description: 'How long one delivery attempt took, from its channel lookup to its transport reply.',
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    })
    this.deadLetters = meter.createCounter('messaging.dead_letters', {
      description: 'Messages this worker moved to dead (out of attempts).',
      unit: '{message}',
    })
    this.tenants = new TenantLabels(maxTenantLabels)
  }

  /** Runs a claim; records its span only when it returned messages (idle polls would flood a trace backend). */
  async claim(work: () => Promise<ClaimedMessage[]>): Promise<ClaimedMessage[]> {
    const startTime = now()
    let claimed: ClaimedMessage[]
    try {
      claimed = await work()
    } catch (e) {
      const span = tracer.startSpan('messaging claim', {
        kind: SpanKind.CONSUMER,
        startTime,
        attributes: base('receive'),
      })
      failSpan(span, e)
      span.end()
      throw e
    }
    if (claimed.length === 0) return claimed
    const links: Link[] = []
    for (const held of claimed.slice(0, MAX_CLAIM_LINKS)) {
      const sc = spanContextOf(held.traceContext)
      if (sc) links.push({ context: sc })
    }
    const span = tracer.startSpan('messaging claim', {
      kind: SpanKind.CONSUMER,
      startTime,
      links,
      attributes: { ...base('receive'), 'messaging.batch.message_count': claimed.length },
    })
    span.end()
    const context = span.spanContext()
    if (isSpanContextValid(context)) for (const held of claimed) this.claimedBy.set(held, context)
    return claimed
  }

  /**
   * Runs one held message's delivery in its span: a child of the enqueue's span (a remote
   * parent from the stored trace context), linked to the claim that took it.
   */
  deliver(held: ClaimedMessage, work: (span: Span) => Promise<void>): Promise<void> {
    const claim = this.claimedBy.get(held)
    return tracer.startActiveSpan(
      'messaging deliver',
      {
        kind: SpanKind.CONSUMER,
        ...(claim && { links: [{ context: claim }] }),
        attributes: {
          ...base('process'),
          'messaging.message.id': held.id,
          'messaging.destination.name': held.channelId,
          'messaging.infrastructure_id': held.infrastructureId,
          'messaging.delivery.attempt': held.attempts,
        },
      },
      parentOf(held.traceContext),
      (span) => inSpan(span, () => work(span)),
    )
  }

  /** Runs a settle (or a release, or a hand-off) of the message `deliver` span holds, in a child span. */
  settle<T>(deliver: Span, operation: 'settle' | 'release' | 'hand-off', work: () => Promise<T>): Promise<T> {
    const span = tracer.startSpan(
      'messaging settle',
      { kind: SpanKind.INTERNAL, attributes: { ...base('settle'), 'messaging.settle.operation': operation } },
      trace.setSpan(ROOT_CONTEXT, deliver),
    )
    return inSpan(span, work)
  }

  /** One settled attempt: its outcome on the delivery span, and the counters. */
  settled(deliver: Span, held: ClaimedMessage, report: AttemptReport, result: SettleResult): void {
    if (!result.acked) {
      deliver.setAttribute('messaging.delivery.outcome', 'lease_lost')
      return
    }
    const outcome = OUTCOMES[result.status as keyof typeof OUTCOMES] ?? result.status
    if (deliver.isRecording()) {
      deliver.setAttributes({
        'messaging.delivery.outcome': outcome,
        ...(report.errorCode !== null && { 'error.type': report.errorCode }),
      })
      // The error text is redacted of the channel's secrets where it arose (deliver-one.ts).
      if (outcome !== 'delivered')
        deliver.setStatus({ code: SpanStatusCode.ERROR, message: report.error ?? outcome })
    }
    const tenant = this.tenants.label(held.infrastructureId)
    const attributes: Attributes = {
      'messaging.infrastructure_id': tenant,
      'messaging.delivery.outcome': outcome,
    }
    this.deliveries.add(1, attributes)
    this.duration.record(
      Math.max(0, report.finishedAt.getTime() - report.startedAt.getTime()) / 1000,
      attributes,
    )
    if (outcome === 'dead') this.deadLetters.add(1, { 'messaging.infrastructure_id': tenant })
  }
}

const base = (operation: string): Attributes => ({
  'messaging.system': SYSTEM,
  'messaging.operation.type': operation,
})
