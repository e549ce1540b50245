import { describe, expect, it } from 'vitest'
import { ROUTES } from '../../src/http/index.js'
import { BASE, fixture } from './support.js'

type Doc = {
  openapi: string
  paths: Record<
    string,
    Record<string, { operationId: string; parameters?: Array<{ name: string; in: string }> }>
  >
  components: {
    schemas: Record<string, Record<string, unknown>>
    requestBodies: Record<string, { content: { 'application/json': { schema: Record<string, unknown> } } }>
  }
}

async function doc(): Promise<Doc> {
  const f = fixture({ openapi: { title: 'Acme messaging', servers: [{ url: 'https://api.acme.test' }] } })
  return (await (await f.call('GET', '/openapi.json', { who: null })).json()) as Doc
}

describe('OpenAPI document', () => {
  it('documents every route of the table under the base path, with its operation id', async () => {
    const d = await doc()
    expect(d.openapi).toBe('3.1.0')
    for (const r of ROUTES) {
      const op = d.paths[`${BASE}${r.path.replace(/:(\w+)/g, '{$1}')}`]?.[r.method.toLowerCase()]
      expect(op?.operationId, `${r.method} ${r.path}`).toBe(r.operationId)
    }
  })

  it('resolves every $ref inside the document', async () => {
    const d = await doc()
    const refs = JSON.stringify(d).match(/"\$ref":"[^"]+"/g) ?? []
    expect(refs.length).toBeGreaterThan(20)
    for (const ref of new Set(refs)) {
      const pointer = ref.slice(8, -1)
      expect(pointer.startsWith('#/')).toBe(true)
      const target = pointer
        .slice(2)
        .split('/')
        .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], d)
      expect(target, pointer).toBeDefined()
    }
  })

  it('takes its request schemas from the domain zod schemas (strictness, enums, paths, headers)', async () => {
    const d = await doc()
    const enqueue = d.components.requestBodies.EnqueueMessage!.content['application/json'].schema as {
      required: string[]
      additionalProperties: boolean
      properties: Record<string, unknown>
    }
    expect(enqueue.required).toEqual(['infrastructureId', 'payload'])
    expect(enqueue.additionalProperties).toBe(false)
    expect(enqueue.properties.payload).toEqual({ $ref: '#/components/schemas/JsonValue' })
    // A path parameter is filled by the path: the body does not ask for it.
    const addMember = d.components.requestBodies.AddMember!.content['application/json'].schema as {
      required: string[]
      properties: Record<string, unknown>
    }
    expect(Object.keys(addMember.properties)).not.toContain('channelId')
    expect(addMember.required).toEqual(['infrastructureId', 'userId'])
    const list = d.paths[`${BASE}/messages`]!.get!
    expect(list.parameters!.map((p) => `${p.in}:${p.name}`)).toEqual(
      expect.arrayContaining(['query:infrastructureId', 'query:status', 'query:limit']),
    )
    const members = d.paths[`${BASE}/channels/{channelId}/members`]!.get!
    expect(members.parameters!.map((p) => `${p.in}:${p.name}`)).toEqual([
      'path:channelId',
      'query:infrastructureId',
    ])
    const queue = d.paths[`${BASE}/queue`]!.post!
    expect(queue.parameters).toEqual([expect.objectContaining({ name: 'Idempotency-Key', in: 'header' })])
    expect(d.components.schemas.Problem).toBeDefined()
  })

  it('carries the host options and can be switched off', async () => {
    const d = (await doc()) as Doc & { info: { title: string }; servers: unknown[] }
    expect(d.info.title).toBe('Acme messaging')
    expect(d.servers).toEqual([{ url: 'https://api.acme.test' }])
    const off = fixture({ openapi: false })
    expect((await off.call('GET', '/openapi.json', { who: null })).status).toBe(404)
  })
})
