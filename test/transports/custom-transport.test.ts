import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import {
  createOutboundHttp,
  type OutboundHttpOptions,
  outcomeForError,
  outcomeForStatus,
} from '../../src/adapters/transports/http/index.js'
import {
  type ChannelTypeDefinition,
  createMessaging,
  REDACTED,
  type Transport,
  ValidationError,
} from '../../src/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
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

function createChatTransport(
  options: OutboundHttpOptions = {},
): Transport<z.output<typeof chatConfigSchema>> {
  const http = createOutboundHttp(options)
  return {
    channelType: chatChannelType,
    async send(message, channel, context) {
      // The module opened the token and parsed the config with chatConfigSchema before this call.
      const { url, token, room } = channel.config
      const { redact } = context
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
    // A delivery worker hands the channel over opened and parsed, and settles the outcome.
    const worker = createDeliveryWorker({ messaging, principal: service, transports: [chat] })
    const seen: unknown[] = []
    worker.events.on('delivered', (_m, attempt) => seen.push(attempt.outcome))
    expect(await worker.drain()).toBe(1)
    expect(seen).toEqual(['delivered'])
    const req = chatServer.received[chatServer.received.length - 1]!
    expect(req.headers.authorization).toBe(`Bearer ${token}`)
    expect(req.headers['idempotency-key']).toBe(message.id)
    expect(JSON.parse(req.body.toString())).toEqual({ room: 'ops', message: { text: 'deploy finished' } })
    expect(
      await messaging.getMessage(admin, { infrastructureId: t.infra, messageId: message.id }),
    ).toMatchObject({
      status: 'processed',
    })
    // A receiver that quotes the token back finds it redacted in the attempt.
    chatServer.handle((_r, res) => res.writeHead(400).end(`bad token ${token}`))
    const { message: refused } = await messaging.enqueue(admin, {
      infrastructureId: t.infra,
      channelKey: 'team-chat',
      payload: { text: 'again' },
    })
    await worker.drain()
    const [attempt] = await messaging.listAttempts(admin, {
      infrastructureId: t.infra,
      messageId: refused.id,
    })
    expect(attempt).toMatchObject({ outcome: 'permanent', errorCode: 'HTTP_400' })
    expect(attempt!.error).toContain(REDACTED)
    expect(attempt!.error).not.toContain(token)
  })
})
