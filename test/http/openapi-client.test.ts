import { randomUUID } from 'node:crypto'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import openapiTS, { astToString } from 'openapi-typescript'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { createInAppTransport } from '../../src/adapters/transports/in-app/index.js'
import { createFetchHandler } from '../../src/http/index.js'
import { createNodeListener } from '../../src/http/mounts/node.js'
import { createMessaging, type Principal, type Role } from '../../src/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { ROOT, resultOf, run } from '../package/support.js'

/**
 * The document as a user meets it: fetched from a running handler, turned into types by
 * openapi-typescript, compiled with a program of openapi-fetch calls under `tsc --strict`,
 * and run against the handler; and linted by Redocly's recommended rules.
 */
const infraA = randomUUID()
const infraB = randomUUID()
const principal = (role: Role, infrastructureId: string): Principal => ({
  userId: randomUUID(),
  role,
  grants: [{ infrastructureId, businessId: null }],
})
const people = {
  ADMIN_A: principal('infra_admin', infraA),
  MEMBER_A: principal('member', infraA),
  SERVICE_A: principal('service', infraA),
  ADMIN_B: principal('infra_admin', infraB),
  MEMBER_B: principal('member', infraB),
}
const tokens = new Map(Object.entries(people).map(([name, p]) => [`token-${name}-${randomUUID()}`, p]))
const tokenOf = (p: Principal) => [...tokens].find(([, q]) => q === p)![0]

const messaging = createMessaging({ storage: createMemoryStorage() })
const handler = createFetchHandler({
  messaging,
  authenticate: (r) => tokens.get((r.headers.get('authorization') ?? '').replace(/^Bearer /, '')) ?? null,
})
// Tenant B's in-app alerts are delivered by a worker of its own; tenant A's outbox is left to the client.
const worker = createDeliveryWorker({
  messaging,
  principal: principal('service', infraB),
  transports: [createInAppTransport({ messaging })],
  pollIntervalMs: 20,
})
const stop = new AbortController()
let running: Promise<void>
let server: Server
let origin: string
let dir: string
let doc: Record<string, unknown>

beforeAll(async () => {
  running = worker.run(stop.signal)
  server = createServer(createNodeListener(handler))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  doc = (await (await fetch(`${origin}${handler.basePath}/openapi.json`)).json()) as Record<string, unknown>
  // Under the checkout, so the program resolves openapi-fetch and TypeScript from its node_modules.
  mkdirSync(join(ROOT, '.tmp'), { recursive: true })
  dir = mkdtempSync(join(ROOT, '.tmp', 'openapi-client-'))
  writeFileSync(join(dir, 'openapi.json'), JSON.stringify(doc, null, 2))
})

afterAll(async () => {
  stop.abort()
  await running
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  await messaging.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('a client generated from /openapi.json', () => {
  it('compiles under tsc --strict (openapi-typescript + openapi-fetch) and calls every operation against the handler', async () => {
    writeFileSync(join(dir, 'schema.d.ts'), astToString(await openapiTS(doc as never)))
    copyFileSync(join(ROOT, 'test/http/openapi-client/calls.ts'), join(dir, 'calls.ts'))
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }))
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2023', 'DOM'],
          types: ['node'],
          strict: true,
          noUncheckedIndexedAccess: true,
          exactOptionalPropertyTypes: true,
          skipLibCheck: false,
          outDir: 'dist',
        },
        files: ['calls.ts', 'schema.d.ts'],
      }),
    )
    const tsc = await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', dir], {
      cwd: dir,
      timeoutMs: 120_000,
    })
    expect(tsc.stdout + tsc.stderr).toBe('')
    expect(tsc.code).toBe(0)

    const env: Record<string, string> = { ORIGIN: origin, INFRA_A: infraA, INFRA_B: infraB }
    for (const [name, p] of Object.entries(people)) {
      env[name] = tokenOf(p)
      env[`${name}_USER`] = p.userId
    }
    const result = resultOf<{
      statuses: Record<string, number[]>
      inbox: { entries: number; unread: number; marked: number }
      preview: unknown
    }>(await run(process.execPath, [join(dir, 'dist/calls.js')], { cwd: dir, env, timeoutMs: 60_000 }))

    const operations = Object.values(doc.paths as Record<string, Record<string, { operationId: string }>>)
      .flatMap((p) => Object.values(p).map((o) => o.operationId))
      .sort()
    expect(Object.keys(result.statuses).sort()).toEqual(operations)
    expect(result.statuses).toMatchObject({
      upsertChannel: [201, 200, 201],
      enqueueMessage: [201, 201, 201, 201],
      enqueueMessages: [201],
      addMember: [201, 201],
      removeMember: [204],
      ackMessage: [200, 200],
    })
    // Every answer is a success the document lists for its operation.
    const documented = new Map(
      Object.values(doc.paths as Record<string, Record<string, { operationId: string; responses: object }>>)
        .flatMap((p) => Object.values(p))
        .map((o) => [o.operationId, Object.keys(o.responses).map(Number)]),
    )
    for (const [op, codes] of Object.entries(result.statuses)) {
      expect(
        codes.every((c) => c >= 200 && c < 300),
        `${op}: ${codes}`,
      ).toBe(true)
      expect(documented.get(op), `${op} answered ${codes}`).toEqual(expect.arrayContaining(codes))
    }
    expect(result.inbox).toEqual({ entries: 1, unread: 1, marked: 1 })
    expect(JSON.stringify(result.preview)).toContain('Invoice INV-7 paid')
  }, 180_000)

  it('passes @redocly/cli lint (recommended rules) without an error or a warning', async () => {
    const lint = await run(
      process.execPath,
      [
        join(ROOT, 'node_modules/@redocly/cli/bin/cli.js'),
        'lint',
        '--format',
        'json',
        join(dir, 'openapi.json'),
      ],
      {
        cwd: dir,
        timeoutMs: 120_000,
        env: { REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
      },
    )
    const report = JSON.parse(lint.stdout) as {
      totals: { errors: number; warnings: number }
      problems: unknown[]
    }
    expect(report.problems).toEqual([])
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 })
    expect(lint.code).toBe(0)
  }, 150_000)
})
