import { describe, expect, it } from 'vitest'
import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { createMessaging } from '../../src/index.js'
import { principal, uuid } from '../support/fixtures.js'

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'

describe('getMessage redacts the channel secrets a payload echoes', () => {
  it('replaces every form of the secret, in values and keys, and leaves other payloads as they were', async () => {
    const messaging = createMessaging({ storage: createMemoryStorage() })
    const infra = uuid()
    const admin = principal('infra_admin', [[infra, null]])
    const channel = await messaging.createChannel(admin, {
      infrastructureId: infra,
      channelKey: 'hooks',
      type: 'webhook',
      config: { url: 'https://hooks.example.com/in', secrets: [SECRET] },
    })
    const plain = SECRET.slice(6)
    const payload = {
      text: `signed with ${SECRET}`,
      nested: [{ token: plain }, Buffer.from(plain).toString('base64')],
      [SECRET]: 1,
      n: 2,
    }
    const { message } = await messaging.enqueue(admin, {
      infrastructureId: infra,
      channelId: channel.id,
      payload,
    })
    const read = await messaging.getMessage(admin, { infrastructureId: infra, messageId: message.id })
    expect(JSON.stringify(read.payload)).not.toContain(plain)
    expect(read.payload).toEqual({
      text: 'signed with [redacted]',
      nested: [{ token: '[redacted]' }, '[redacted]'],
      '[redacted]': 1,
      n: 2,
    })
    const other = await messaging.enqueue(admin, {
      infrastructureId: infra,
      channelId: channel.id,
      payload: { text: 'nothing secret' },
    })
    expect(
      (await messaging.getMessage(admin, { infrastructureId: infra, messageId: other.message.id })).payload,
    ).toEqual({ text: 'nothing secret' })
  })
})
