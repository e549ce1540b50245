import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { createMessaging, type MessagingStorage, observeQueueMetrics } from '../../src/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { principal, tenant } from '../support/fixtures.js'
import { scriptedTransport, testChannelType, until } from '../support/transports.js'
import { named, type OtelSdk, registerOtelSdk } from './otel-sdk.js'

let sdk: OtelSdk
beforeAll(() => {
  sdk = registerOtelSdk()
})
afterAll(async () => {
  await sdk?.shutdown()
})

const stores: [string, () => MessagingStorage][] = [
  ['memory', () => createMemoryStorage()],
  ['sqlite', () => createSqliteStorage({ path: ':memory:' })],
]

describe.each(stores)('OpenTelemetry in one process: %s', (_name, makeStorage) => {
  it('traces an enqueue to its delivery and settle in one trace, and counts deliveries, attempts, dead letters and the queue', async () => {
    sdk.spans.reset()
    const storage = makeStorage()
    const transport = scriptedTransport()
    const messaging = createMessaging({ storage, channelTypes: [testChannelType] })
    const t = tenant()
    const admin = principal('infra_admin', [[t.infra, null]])
    const service = principal('service', [[t.infra, null]])
    const channel = await messaging.createChannel(admin, {
      infrastructureId: t.infra,
      channelKey: 'hooks',
      type: 'test',
      maxAttempts: 1,
    })
    const stopQueue = observeQueueMetrics(messaging, service)
    // The host's own span (an HTTP request, say): the enqueue is its child.
    const host = trace.getTracer('host')
    const { ok, bad, hostTraceId } = await host.startActiveSpan('POST /orders', async (span) => {
      const ok = await messaging.enqueue(admin, {
        infrastructureId: t.infra,
        channelId: channel.id,
        payload: { behaviour: { do: 'deliver' } },
      })
      const bad = await messaging.enqueue(admin, {
        infrastructureId: t.infra,
        channelId: channel.id,
        payload: { behaviour: { do: 'retry', error: 'provider busy' } },
      })
      span.end()
      return { ok: ok.message, bad: bad.message, hostTraceId: span.spanContext().traceId }
    })
    expect(ok.traceContext?.traceparent).toMatch(new RegExp(`^00-${hostTraceId}-[0-9a-f]{16}-01$`))

    const worker = createDeliveryWorker({
      messaging,
      principal: service,
      transports: [transport],
      pollIntervalMs: 10,
      retry: { baseMs: 5, maxMs: 10 },
    })
    const stop = new AbortController()
    const running = worker.run(stop.signal)
    const status = async (id: string) =>
      (await messaging.getMessage(admin, { infrastructureId: t.infra, messageId: id })).status
    try {
      await until(async () => (await status(ok.id)) === 'processed' && (await status(bad.id)) === 'dead')
    } finally {
      stop.abort()
      await running
    }

    const spans = sdk.spans.getFinishedSpans()
    const enqueues = named(spans, 'messaging enqueue')
    expect(enqueues).toHaveLength(2)
    for (const e of enqueues) {
      expect(e.kind).toBe(SpanKind.PRODUCER)
      expect(e.spanContext().traceId).toBe(hostTraceId)
    }
    const enqueueOf = (traceparent: string | undefined) =>
      enqueues.find((e) => traceparent?.includes(e.spanContext().spanId))!
    const deliveries = named(spans, 'messaging deliver')
    for (const m of [ok, bad]) {
      const parent = enqueueOf(m.traceContext?.traceparent)
      const deliver = deliveries.find((d) => d.attributes['messaging.message.id'] === m.id)!
      expect(deliver.kind).toBe(SpanKind.CONSUMER)
      expect(deliver.spanContext().traceId).toBe(hostTraceId)
      expect(deliver.parentSpanContext?.spanId).toBe(parent.spanContext().spanId)
      const settle = named(spans, 'messaging settle').find(
        (s) => s.parentSpanContext?.spanId === deliver.spanContext().spanId,
      )!
      expect(settle.spanContext().traceId).toBe(hostTraceId)
      expect(settle.attributes['messaging.settle.operation']).toBe('settle')
    }
    const delivered = deliveries.find((d) => d.attributes['messaging.message.id'] === ok.id)!
    expect(delivered.attributes['messaging.delivery.outcome']).toBe('delivered')
    expect(delivered.status.code).toBe(SpanStatusCode.UNSET)
    const dead = deliveries.find((d) => d.attributes['messaging.message.id'] === bad.id)!
    expect(dead.attributes['messaging.delivery.outcome']).toBe('dead')
    expect(dead.status).toEqual({ code: SpanStatusCode.ERROR, message: 'provider busy' })
    // Each claim that returned messages links to their enqueues' spans.
    const claims = named(spans, 'messaging claim')
    expect(claims.length).toBeGreaterThan(0)
    const linked = claims.flatMap((c) => c.links.map((l) => l.context.spanId))
    for (const e of enqueues) expect(linked).toContain(e.spanContext().spanId)

    const points = await sdk.collect()
    const tenantKey = 'messaging.infrastructure_id'
    const mine = (name: string) => (points.get(name) ?? []).filter((p) => p.attributes[tenantKey] === t.infra)
    expect(
      mine('messaging.deliveries').map((p) => [p.attributes['messaging.delivery.outcome'], p.value]),
    ).toEqual(
      expect.arrayContaining([
        ['delivered', 1],
        ['dead', 1],
      ]),
    )
    expect(mine('messaging.dead_letters').map((p) => p.value)).toEqual([1])
    const durations = mine('messaging.attempt.duration').map((p) => (p.value as { count: number }).count)
    expect(durations.reduce((a, b) => a + b, 0)).toBe(2)
    const depth = Object.fromEntries(
      mine('messaging.queue.depth').map((p) => [p.attributes['messaging.queue.state'], p.value]),
    )
    expect(depth).toMatchObject({ pending: 0, processing: 0, processed: 1, dead: 1 })
    expect(mine('messaging.queue.dead').map((p) => p.value)).toEqual([1])
    expect(mine('messaging.queue.oldest_pending_age').map((p) => p.value)).toEqual([0])
    stopQueue()
    await storage.close()
  })
})
