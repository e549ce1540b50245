import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { createFetchHandler } from '../../src/http/index.js'
import { createMessaging } from '../../src/index.js'
import { BASE, bearerAuth, fixture, problem, world } from '../http/support.js'

interface ChannelTypeInfo {
  type: string
  secretPaths: string[]
  configSchema: { type?: string; properties?: Record<string, { format?: string }>; required?: string[] }
}

describe('GET /channel-types', () => {
  it('lists the built-in types with the JSON Schema of each config and its secret paths', async () => {
    const f = fixture()
    const res = await f.call('GET', '/channel-types', { who: 'memberA' })
    expect(res.status).toBe(200)
    const types = (await res.json()) as ChannelTypeInfo[]
    expect(types.map((t) => t.type)).toEqual(['in_app', 'email', 'sms', 'webhook'])
    const webhook = types.find((t) => t.type === 'webhook')!
    expect(webhook.secretPaths).toEqual(['secrets'])
    expect(webhook.configSchema.type).toBe('object')
    expect(webhook.configSchema.properties?.url?.format).toBe('uri')
    // Input side: a field with a default (timeoutMs) is not required.
    expect(webhook.configSchema.required).toEqual(['url', 'secrets'])
    expect(types.find((t) => t.type === 'email')!.secretPaths).toEqual([
      'smtp.auth.pass',
      'fallbacks.*.auth.pass',
      'receiptSecret',
    ])
  })

  it("includes a host's custom type, and refuses an anonymous caller", async () => {
    const w = world()
    const messaging = createMessaging({
      storage: createMemoryStorage(),
      channelTypes: [
        {
          type: 'slack',
          configSchema: z.strictObject({ webhookUrl: z.url(), channel: z.string().optional() }),
          secretPaths: ['webhookUrl'],
        },
      ],
    })
    const handler = createFetchHandler({ messaging, authenticate: bearerAuth(w.tokens) })
    const ok = await handler(
      new Request(`http://host.test${BASE}/channel-types`, {
        headers: { authorization: 'Bearer tok-adminB' },
      }),
    )
    const slack = ((await ok.json()) as ChannelTypeInfo[]).find((t) => t.type === 'slack')!
    expect(slack).toMatchObject({ secretPaths: ['webhookUrl'], configSchema: { required: ['webhookUrl'] } })
    const anon = await handler(new Request(`http://host.test${BASE}/channel-types`))
    expect(anon.status).toBe(401)
    expect((await problem(anon)).code).toBe('UNAUTHENTICATED')
  })

  it('refuses query parameters it does not know', async () => {
    const f = fixture()
    const res = await f.call('GET', '/channel-types?type=webhook', { who: 'memberA' })
    expect(res.status).toBe(400)
    expect((await problem(res)).code).toBe('VALIDATION_FAILED')
  })
})
