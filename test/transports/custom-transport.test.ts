import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import {
  createOutboundHttp,
  createRedactor,
  loadChannelConfig,
  type OutboundHttpOptions,
  outcomeForError,
  outcomeForStatus,
} from '../../src/adapters/transports/http/index.js'
import {
  type ChannelTypeDefinition,
  createMessaging,
  REDACTED,
  TenantScope,
  type Transport,
  ValidationError,
} from '../../src/index.js'
import { principal, tenant } from '../support/fixtures.js'
import { LOOPBACK, type LoopbackServer, startHttpServer } from './support.js'

// The example of docs/transports.md, verbatim but for the loopback options.
const chatConfigSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  token: z.string().min(20),
  room: z.string().min(1).max(80),
})

const chatChannelType: ChannelTypeDefinition = {
  type: 'chat',
  configSchema: chatConfigSchema,
  secretPaths: ['token'],
}

function createChatTransport(options: OutboundHttpOptions = {}): Transport {
  const http = createOutboundHttp(options)
  return {
    channelType: chatChannelType,
    async send(message, channel, context) {
      const loaded = loadChannelConfig(chatChannelType, chatConfigSchema, channel, undefined)
      if (!loaded.ok) return loaded.outcome
      const { url, token, room } = loaded.config
      const redact = createRedactor(loaded.secrets)
      try {
        const res = await http.post({
          url,
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            'idempotency-key': context.idempotencyKey,
          },
          body: JSON.stringify({ room, message: message.payload }),
          timeoutMs: 10_000,
          signal: context.signal,
        })
        return outcomeForStatus(
          res.status,
          res.headers['retry-after'],
          redact(res.body.slice(0, 200)),
          new Date(),
        )
      } catch (e) {
        return outcomeForError(e, redact)
      }
    },
  }
}

describe('a custom transport, end to end through the facade', () => {
  let chatServer: LoopbackServer
  beforeAll(async () => {
    chatServer = await startHttpServer('127.0.0.1', (_r, res) => res.writeHead(201).end('{"ok":true}'))
  })
  afterAll(async () => {
    await chatServer.close()
  })

  it('registers its channel type, validates and redacts its config, and delivers a claimed message', async () => {
    const chat = createChatTransport({ allowHttp: true, ssrf: LOOPBACK })
    const messaging = createMessaging({ storage: createMemoryStorage(), transports: [chat] })
    const t = tenant()
    const admin = principal('infra_admin', [[t.infra, null]])
    const service = principal('service', [[t.infra, null]])
    const token = 'chat-bot-token-0123456789abcdef'

    // The facade validates the channel with the transport's own schema.
    await expect(
      messaging.createChannel(admin, {
        infrastructureId: t.infra,
        channelKey: 'team-chat',
        type: 'chat',
        config: { url: `${chatServer.url}/post`, token: 'short', room: 'ops' },
      }),
    ).rejects.toThrow(ValidationError)

    const config = { url: `${chatServer.url}/post`, token, room: 'ops' }
    const channel = await messaging.createChannel(admin, {
      infrastructureId: t.infra,
      channelKey: 'team-chat',
      type: 'chat',
      config,
    })
    expect(channel.config).toEqual({ ...config, token: REDACTED })

    const { message } = await messaging.enqueue(admin, {
      infrastructureId: t.infra,
      channelKey: 'team-chat',
      payload: { text: 'deploy finished' },
    })
    const [held] = await messaging.claim(service, { limit: 1 })
    expect(held!.id).toBe(message.id)

    // What a delivery worker does with it: the stored (unredacted) channel, then an ack.
    const outcome = await chat.send(
      held!,
      { ...channel, config },
      {
        idempotencyKey: held!.id,
        attempt: held!.attempts,
        signal: AbortSignal.timeout(10_000),
        scope: TenantScope.of(service),
      },
    )
    expect(outcome).toEqual({ status: 'delivered' })
    const req = chatServer.received[chatServer.received.length - 1]!
    expect(req.headers.authorization).toBe(`Bearer ${token}`)
    expect(req.headers['idempotency-key']).toBe(message.id)
    expect(JSON.parse(req.body.toString())).toEqual({ room: 'ops', message: { text: 'deploy finished' } })

    await messaging.ack(service, {
      infrastructureId: t.infra,
      messageId: held!.id,
      leaseToken: held!.leaseToken,
      outcome: 'processed',
    })
    expect(
      await messaging.getMessage(admin, { infrastructureId: t.infra, messageId: message.id }),
    ).toMatchObject({
      status: 'processed',
    })
  })
})
