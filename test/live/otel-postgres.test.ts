import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { trace } from '@opentelemetry/api'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPostgresStorage, type PostgresStorage } from '../../src/adapters/postgres/index.js'
import { createMessaging } from '../../src/index.js'
import { principal, tenant } from '../support/fixtures.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { testChannelType } from '../support/transports.js'
import { named, type OtelSdk, registerOtelSdk } from './otel-sdk.js'

/** Start-up of a tsx child on a loaded 2-core machine: its own budget, apart from the test's. */
const STARTUP_BUDGET_MS = 60_000

let db: TestDatabase
let storage: PostgresStorage
let sdk: OtelSdk
let child: ChildProcess | undefined

beforeAll(async () => {
  sdk = registerOtelSdk()
  db = await createTestDatabase('otel')
  storage = await createPostgresStorage({ connectionString: db.appUrl, poolSize: 2 })
}, STARTUP_BUDGET_MS + 20_000)

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  await storage?.close()
  await db?.drop()
  await sdk?.shutdown()
})

interface ChildSpan {
  name: string
  traceId: string
  spanId: string
  parentSpanId: string | null
  parentIsRemote: boolean | null
  attributes: Record<string, unknown>
}

describe('OpenTelemetry across processes on PostgreSQL', () => {
  it(
    "joins the delivery span in a worker process to the enqueue span's trace",
    async () => {
      const proc = spawn(
        process.execPath,
        ['--import', 'tsx', join(import.meta.dirname, 'otel-worker.ts'), db.appUrl, db.workerUrl],
        { cwd: process.cwd(), stdio: ['pipe', 'pipe', 'inherit'] },
      )
      child = proc
      let out = ''
      const lines: string[] = []
      proc.stdout!.on('data', (b: Buffer) => {
        out += b.toString()
        const parts = out.split('\n')
        out = parts.pop()!
        lines.push(...parts)
      })
      const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)))
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error('the worker did not start in time')),
          STARTUP_BUDGET_MS,
        )
        const check = setInterval(() => {
          if (lines.includes('ready')) {
            clearTimeout(timer)
            clearInterval(check)
            resolve()
          }
        }, 20)
      })

      const messaging = createMessaging({ storage, channelTypes: [testChannelType] })
      const t = tenant()
      const admin = principal('infra_admin', [[t.infra, null]])
      const channel = await messaging.createChannel(admin, {
        infrastructureId: t.infra,
        channelKey: 'hooks',
        type: 'test',
      })
      const { message, hostTraceId } = await trace
        .getTracer('host')
        .startActiveSpan('POST /orders', async (span) => {
          const r = await messaging.enqueue(admin, {
            infrastructureId: t.infra,
            channelId: channel.id,
            payload: { behaviour: { do: 'deliver' } },
          })
          span.end()
          return { message: r.message, hostTraceId: span.spanContext().traceId }
        })
      proc.stdin!.write(`${message.id}\n`)
      expect(await exited).toBe(0)

      const enqueue = named(sdk.spans.getFinishedSpans(), 'messaging enqueue')[0]!
      expect(enqueue.spanContext().traceId).toBe(hostTraceId)
      const stored = await messaging.getMessage(admin, { infrastructureId: t.infra, messageId: message.id })
      expect(stored.traceContext?.traceparent).toBe(`00-${hostTraceId}-${enqueue.spanContext().spanId}-01`)

      const spans = JSON.parse(lines.find((l) => l.startsWith('['))!) as ChildSpan[]
      const deliver = spans.find(
        (s) => s.name === 'messaging deliver' && s.attributes['messaging.message.id'] === message.id,
      )!
      expect(deliver.traceId).toBe(enqueue.spanContext().traceId)
      expect(deliver.parentSpanId).toBe(enqueue.spanContext().spanId)
      expect(deliver.parentIsRemote).toBe(true)
      expect(deliver.attributes['messaging.delivery.outcome']).toBe('delivered')
      const settle = spans.find((s) => s.name === 'messaging settle' && s.parentSpanId === deliver.spanId)!
      expect(settle.traceId).toBe(hostTraceId)
      expect(spans.some((s) => s.name === 'messaging claim')).toBe(true)
    },
    STARTUP_BUDGET_MS + 40_000,
  )
})
