import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createMessagingClient } from '../../src/client/index.js'
import { ForbiddenRoleError } from '../../src/index.js'
import { createSecretBox } from '../../src/secrets/index.js'
import { fixture, serveOnLoopback } from '../http/support.js'

describe('typed client: key rotation over loopback', () => {
  const k1 = randomBytes(32).toString('base64')
  const k2 = randomBytes(32).toString('base64')
  const f = fixture({}, { secrets: createSecretBox({ keys: { k2, k1 }, activeKeyId: 'k1' }) })
  const baseUrl = serveOnLoopback(f.handler)
  const client = (who: string) =>
    createMessagingClient({ baseUrl: baseUrl(), getToken: () => `tok-${who}`, infrastructureId: f.infraA })

  it('reseals a tenant’s secrets for its infra_admin only; reads name the key, never the value', async () => {
    const admin = client('adminA')
    const secret = `whsec_${randomBytes(24).toString('base64')}`
    const c = await admin.createChannel({
      channelKey: 'hooks',
      type: 'webhook',
      config: { url: 'https://hooks.example.com/in', secrets: [secret] },
    })
    expect(c.secrets).toEqual([{ path: 'secrets', set: true, keyIds: ['k1'] }])
    await expect(client('memberA').resealSecrets()).rejects.toBeInstanceOf(ForbiddenRoleError)
    // Rotation itself (k1 -> k2 on one store) is the facade's test; here the route and its refusal.
    expect(await admin.resealSecrets()).toEqual({ resealed: 1 })
    const read = await admin.getChannel(c.id)
    expect(read.secrets).toEqual([{ path: 'secrets', set: true, keyIds: ['k1'] }])
    expect(JSON.stringify(read)).not.toContain(secret)
  })
})
