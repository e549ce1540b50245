import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { ChannelTypeRegistry, createMessaging, REDACTED, ValidationError } from '../../src/index.js'
import { principal, tenant } from '../support/fixtures.js'

describe('channel types', () => {
  it('validates each built-in config with its own schema, naming the field', () => {
    const types = new ChannelTypeRegistry()
    expect(types.types()).toEqual(['in_app', 'email', 'sms', 'webhook'])
    expect(types.parseConfig('email', { from: 'ops@example.com' })).toEqual({ from: 'ops@example.com' })
    expect(() =>
      types.parseConfig('sms', {
        from: '+4915112345678',
        provider: { url: 'https://sms.example', apiKey: '' },
      }),
    ).toThrow(/config.provider.apiKey/)
    expect(() => types.parseConfig('in_app', { colour: 'red' })).toThrow(ValidationError)
  })

  it('accepts a custom type a host registers, validating and redacting its config', async () => {
    const slack = {
      type: 'slack',
      configSchema: z.strictObject({ webhookUrl: z.url(), token: z.string().min(10) }),
      secretPaths: ['token'],
    }
    const messaging = createMessaging({ storage: createMemoryStorage(), channelTypes: [slack] })
    const t = tenant()
    const admin = principal('infra_admin', [[t.infra, null]])
    const c = await messaging.createChannel(admin, {
      infrastructureId: t.infra,
      channelKey: 'team-slack',
      type: 'slack',
      config: { webhookUrl: 'https://hooks.slack.example/T1', token: 'xoxb-1234567890' },
    })
    expect(c.config).toEqual({ webhookUrl: 'https://hooks.slack.example/T1', token: REDACTED })
    await expect(
      messaging.createChannel(admin, {
        infrastructureId: t.infra,
        channelKey: 'bad',
        type: 'slack',
        config: { webhookUrl: 'x' },
      }),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED', field: 'config.webhookUrl' })
  })

  it('refuses to let a custom type replace a built-in one', () => {
    expect(
      () => new ChannelTypeRegistry([{ type: 'email', configSchema: z.object({}), secretPaths: [] }]),
    ).toThrow(ValidationError)
  })
})
