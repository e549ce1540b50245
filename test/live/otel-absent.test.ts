import { metrics, trace } from '@opentelemetry/api'
import { describe, expect, it } from 'vitest'
import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { createMessaging, type MessagingStorage } from '../../src/index.js'
import { principal, tenant } from '../support/fixtures.js'

// No SDK in this file's process: the API hands out its no-op tracer and meter.
describe.each([
  ['memory', () => createMemoryStorage()],
  ['sqlite', () => createSqliteStorage({ path: ':memory:' })],
] as [string, () => MessagingStorage][])('without an OpenTelemetry SDK: %s', (_name, makeStorage) => {
  it('stores no trace context, even inside a span the host started', async () => {
    expect(trace.getTracer('probe').startSpan('probe').isRecording()).toBe(false)
    expect(metrics.getMeter('probe').createCounter('probe')).toBeDefined()
    const storage = makeStorage()
    const messaging = createMessaging({ storage })
    const t = tenant()
    const admin = principal('infra_admin', [[t.infra, null]])
    const channel = await messaging.createChannel(admin, {
      infrastructureId: t.infra,
      channelKey: 'ops',
      type: 'in_app',
    })
    const { message } = await trace.getTracer('host').startActiveSpan('POST /orders', async (span) => {
      const r = await messaging.enqueue(admin, {
        infrastructureId: t.infra,
        channelId: channel.id,
        payload: {},
      })
      span.end()
      return r
    })
    expect(message.traceContext).toBeNull()
    const stored = await messaging.getMessage(admin, { infrastructureId: t.infra, messageId: message.id })
    expect(stored.traceContext).toBeNull()
    await storage.close()
  })
})
