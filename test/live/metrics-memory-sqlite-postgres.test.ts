import { afterAll, describe, expect, it } from 'vitest'
import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { createPostgresStorage } from '../../src/adapters/postgres/index.js'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import type { MessagingStorage } from '../../src/index.js'
import { fixture } from '../http/support.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'

let database: TestDatabase | undefined
afterAll(async () => {
  await database?.drop()
})

const stores: [string, () => Promise<MessagingStorage>][] = [
  ['memory', async () => createMemoryStorage()],
  ['sqlite', async () => createSqliteStorage({ path: ':memory:' })],
  [
    'postgres',
    async () => {
      database ??= await createTestDatabase('metrics_route')
      return createPostgresStorage({ connectionString: database.appUrl, poolSize: 2 })
    },
  ],
]

/** The samples of a Prometheus text body: `name{labels}` -> value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    out.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return out
}

describe.each(stores)('GET /metrics: %s', (_name, makeStorage) => {
  it("answers Prometheus text of the caller's tenants to service and admin principals, and refuses the others", async () => {
    const storage = await makeStorage()
    const f = fixture({}, { storage })
    const hooks = async (infrastructureId: string, who: 'adminA' | 'adminB') =>
      f.messaging.createChannel(f.principals[who], { infrastructureId, channelKey: 'ops', type: 'in_app' })
    const a = await hooks(f.infraA, 'adminA')
    const b = await hooks(f.infraB, 'adminB')
    for (let i = 0; i < 3; i++) {
      await f.messaging.enqueue(f.principals.adminA, {
        infrastructureId: f.infraA,
        channelId: a.id,
        payload: { i },
      })
    }
    await f.messaging.enqueue(f.principals.adminB, {
      infrastructureId: f.infraB,
      channelId: b.id,
      payload: {},
    })

    for (const who of ['serviceA', 'adminA'] as const) {
      const res = await f.call('GET', '/metrics', { who })
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
      const text = await res.text()
      expect(text).toContain('# TYPE messaging_queue_messages gauge\n')
      expect(text).toContain('# TYPE messaging_queue_oldest_pending_age_seconds gauge\n')
      expect(text).toContain('# TYPE messaging_dead_letters gauge\n')
      const s = samples(text)
      const tenantA = `infrastructure_id="${f.infraA}"`
      expect(s.get(`messaging_queue_messages{${tenantA},state="pending"}`)).toBe(3)
      expect(s.get(`messaging_queue_messages{${tenantA},state="processed"}`)).toBe(0)
      expect(s.get(`messaging_dead_letters{${tenantA}}`)).toBe(0)
      expect(s.get(`messaging_queue_oldest_pending_age_seconds{${tenantA}}`)).toBeGreaterThanOrEqual(0)
      // A tenant-scoped principal sees its own tenant's series only.
      expect(text).not.toContain(f.infraB)
    }
    const other = samples(await (await f.call('GET', '/metrics', { who: 'adminB' })).text())
    expect(other.get(`messaging_queue_messages{infrastructure_id="${f.infraB}",state="pending"}`)).toBe(1)
    expect([...other.keys()].some((k) => k.includes(f.infraA))).toBe(false)

    const member = await f.call('GET', '/metrics', { who: 'memberA' })
    expect(member.status).toBe(403)
    expect(member.headers.get('content-type')).toContain('application/problem+json')
    expect((await member.json()).code).toBe('FORBIDDEN_ROLE')
    expect((await f.call('GET', '/metrics', { who: null })).status).toBe(401)
    expect((await f.call('POST', '/metrics', { who: 'serviceA', body: {} })).status).toBe(405)
    expect(f.errors).toEqual([])
    await storage.close()
  })
})

describe('GET /metrics in the OpenAPI document', () => {
  it('is listed with its Prometheus text response', async () => {
    const f = fixture()
    const doc = (await (await f.call('GET', '/openapi.json', { who: null })).json()) as {
      paths: Record<
        string,
        Record<string, { operationId: string; responses: Record<string, { content?: object }> }>
      >
    }
    const op = doc.paths['/functions/v1/messaging/metrics']?.get
    expect(op?.operationId).toBe('metrics')
    expect(Object.keys(op?.responses['200']?.content ?? {})).toEqual([
      'text/plain; version=0.0.4; charset=utf-8',
    ])
    expect(Object.keys(op?.responses ?? {})).toEqual(expect.arrayContaining(['200', '401', '403']))
  })
})
