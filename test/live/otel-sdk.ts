/**
 * The real OpenTelemetry SDK 2.x, registered globally with in-memory exporters, as a host
 * would register its own: a tracer provider with an InMemorySpanExporter, the async-hooks
 * context manager, and a meter provider whose reader exports to an InMemoryMetricExporter.
 */
import { context, metrics, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'

export interface OtelSdk {
  readonly spans: InMemorySpanExporter
  /** Every metric point collected now, by instrument name. */
  collect(): Promise<Map<string, { attributes: Record<string, unknown>; value: unknown }[]>>
  shutdown(): Promise<void>
}

export function registerOtelSdk(): OtelSdk {
  const spans = new InMemorySpanExporter()
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] })
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  trace.setGlobalTracerProvider(tracerProvider)
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  // Exported on demand (forceFlush) only: an hour is longer than any test.
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
  const meterProvider = new MeterProvider({ readers: [reader] })
  metrics.setGlobalMeterProvider(meterProvider)
  return {
    spans,
    async collect() {
      exporter.reset()
      await reader.forceFlush()
      const out = new Map<string, { attributes: Record<string, unknown>; value: unknown }[]>()
      const all: ResourceMetrics[] = exporter.getMetrics()
      for (const rm of all.slice(-1))
        for (const sm of rm.scopeMetrics)
          for (const m of sm.metrics) {
            const points = out.get(m.descriptor.name) ?? []
            for (const p of m.dataPoints) points.push({ attributes: { ...p.attributes }, value: p.value })
            out.set(m.descriptor.name, points)
          }
      return out
    },
    async shutdown() {
      await tracerProvider.shutdown()
      await meterProvider.shutdown()
      trace.disable()
      metrics.disable()
      context.disable()
    },
  }
}

/** The finished spans named `name`. */
export const named = (spans: readonly ReadableSpan[], name: string) => spans.filter((s) => s.name === name)
