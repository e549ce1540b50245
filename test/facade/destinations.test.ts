import { beforeEach, describe, expect, it } from 'vitest'
import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import {
  createWebhookTransport,
  refusedRange as guardRefusedRange,
  type HostResolver,
} from '../../src/adapters/transports/webhook/index.js'
import { refusedRange } from '../../src/domain/destinations.js'
import { createFetchHandler } from '../../src/http/index.js'
import { createMessaging, type DestinationPolicy, type Messaging, type Principal } from '../../src/index.js'
import { principal, tenant } from '../support/fixtures.js'
import {
  deliverVia,
  type LoopbackServer,
  startHttpServer,
  testChannel,
  testMessage,
} from '../transports/support.js'

const SECRETS = ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw']

/**
 * Issue 13, item 7: a channel's URLs are checked when the channel is saved (create and
 * configure), against the same allow-list the SSRF guard reads at delivery.
 */
const REFUSED: ReadonlyArray<[kind: string, url: string, rule: string]> = [
  ['IPv4 loopback', 'http://127.0.0.1/hook', 'destination_refused'],
  ['IPv6 loopback', 'http://[::1]/hook', 'destination_refused'],
  ['the localhost name', 'http://localhost/hook', 'destination_refused'],
  ['a name under localhost', 'https://api.localhost/hook', 'destination_refused'],
  ['loopback spelt as a decimal number', 'http://2130706433/hook', 'destination_refused'],
  [
    'the link-local metadata service (AWS, GCP, Azure IMDS)',
    'http://169.254.169.254/latest/meta-data',
    'destination_refused',
  ],
  ["Azure's wire server", 'http://168.63.129.16/machine', 'destination_refused'],
  ["AWS's IPv6 metadata service", 'http://[fd00:ec2::254]/latest', 'destination_refused'],
  ["Alibaba's metadata service (CGNAT)", 'http://100.100.100.200/latest', 'destination_refused'],
  ['NAT64 of loopback', 'http://[64:ff9b::7f00:1]/hook', 'destination_refused'],
  ['6to4 of loopback', 'http://[2002:7f00:1::]/hook', 'destination_refused'],
  ['Teredo', 'http://[2001::5efe:7f00:1]/hook', 'destination_refused'],
  ['IPv6 link-local', 'http://[fe80::1]/hook', 'destination_refused'],
  ['IPv4-mapped private', 'http://[::ffff:10.0.0.1]/hook', 'destination_refused'],
  ['IPv6 unique local', 'https://[fd12:3456::1]/hook', 'destination_refused'],
  ['RFC 1918 10/8', 'http://10.0.0.5/hook', 'destination_refused'],
  ['RFC 1918 172.16/12', 'https://172.16.3.4/hook', 'destination_refused'],
  ['RFC 1918 192.168/16', 'https://192.168.1.10/hook', 'destination_refused'],
  ['CGNAT 100.64/10', 'http://100.64.0.1/hook', 'destination_refused'],
  ['the unspecified address', 'http://0.0.0.0/hook', 'destination_refused'],
  ['user:pass@ in the URL', 'https://user:pass@hooks.example.com/in', 'no_userinfo'],
  ['a user name alone', 'https://user@hooks.example.com/in', 'no_userinfo'],
  ['port 22', 'https://hooks.example.com:22/in', 'port_not_allowed'],
  ['port 6379 on a public address', 'http://93.184.215.14:6379/', 'port_not_allowed'],
]

describe('channel URLs checked when saved', () => {
  let messaging: Messaging
  let admin: Principal
  let infra: string
  const make = (destinations?: DestinationPolicy) =>
    createMessaging({ storage: createMemoryStorage(), ...(destinations && { destinations }) })
  beforeEach(() => {
    messaging = make()
    infra = tenant().infra
    admin = principal('infra_admin', [[infra, null]])
  })

  it.each(REFUSED)('refuses %s at create and at configure, naming config.url', async (_kind, url, rule) => {
    await expect(
      messaging.createChannel(admin, {
        infrastructureId: infra,
        channelKey: 'hook',
        type: 'webhook',
        config: { url, secrets: SECRETS },
      }),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED', field: 'config.url', rule })
    const ok = await messaging.createChannel(admin, {
      infrastructureId: infra,
      channelKey: 'ok',
      type: 'webhook',
      config: { url: 'https://hooks.example.com/in', secrets: SECRETS },
    })
    await expect(
      messaging.configureChannel(admin, {
        infrastructureId: infra,
        channelId: ok.id,
        config: { url, secrets: SECRETS },
      }),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED', field: 'config.url', rule })
    // Nothing was written: the one channel keeps its URL, and no other exists.
    const channels = await messaging.listChannels(admin, { infrastructureId: infra })
    expect(channels.map((c) => [c.channelKey, c.config.url])).toEqual([
      ['ok', 'https://hooks.example.com/in'],
    ])
  })

  it('checks the SMS provider URLs too, naming their paths', async () => {
    await expect(
      messaging.createChannel(admin, {
        infrastructureId: infra,
        channelKey: 'sms',
        type: 'sms',
        config: { from: '+15551230000', provider: { url: 'http://10.1.2.3:8080/send', apiKey: 'k' } },
      }),
    ).rejects.toMatchObject({ field: 'config.provider.url', rule: 'destination_refused' })
    await expect(
      messaging.createChannel(admin, {
        infrastructureId: infra,
        channelKey: 'sms',
        type: 'sms',
        config: {
          from: '+15551230000',
          twilio: {
            accountSid: `AC${'0'.repeat(32)}`,
            authToken: 't',
            baseUrl: 'https://api.twilio.com:8443',
          },
        },
      }),
    ).rejects.toMatchObject({ field: 'config.twilio.baseUrl', rule: 'port_not_allowed' })
  })

  it('answers 400 naming config.url over HTTP', async () => {
    const handle = createFetchHandler({ messaging, authenticate: () => admin })
    const res = await handle(
      new Request('http://localhost/functions/v1/messaging/channel', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          infrastructureId: infra,
          channelKey: 'hook',
          type: 'webhook',
          config: { url: 'http://169.254.169.254/latest/meta-data', secrets: SECRETS },
        }),
      }),
    )
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({
      code: 'VALIDATION_FAILED',
      errors: [{ path: 'config.url', rule: 'destination_refused' }],
    })
  })

  it('accepts public destinations on 80 and 443, and what the allow-list lets through', async () => {
    const create = (m: Messaging, key: string, url: string) =>
      m.createChannel(admin, {
        infrastructureId: infra,
        channelKey: key,
        type: 'webhook',
        config: { url, secrets: SECRETS },
      })
    await create(messaging, 'a', 'https://hooks.example.com/in')
    await create(messaging, 'b', 'http://hooks.example.com:80/in')
    await create(messaging, 'c', 'https://93.184.215.14:443/in')
    await create(messaging, 'd', 'https://[2606:4700::1111]/in')
    const open = make({ allowedRanges: ['127.0.0.0/8', '10.20.0.0/16'], allowedPorts: [8443] })
    await create(open, 'e', 'http://127.0.0.1:54321/hook') // an allowed range: any port
    await create(open, 'f', 'http://localhost:54321/hook')
    await create(open, 'g', 'https://10.20.3.4:9000/in')
    await create(open, 'h', 'https://hooks.example.com:8443/in') // an allowed port
    await expect(create(open, 'i', 'https://10.21.0.1/in')).rejects.toMatchObject({
      rule: 'destination_refused',
    })
    await expect(create(open, 'j', 'https://hooks.example.com:9000/in')).rejects.toMatchObject({
      rule: 'port_not_allowed',
    })
  })

  it('refuses a malformed allow-list when the facade is made', () => {
    expect(() => make({ allowedRanges: ['10.0.0.0'] })).toThrow(/allowedRanges\.0/)
    expect(() => make({ allowedPorts: [70000] })).toThrow(/allowedPorts\.0/)
  })
})

describe('one classification and one allow-list for save and delivery', () => {
  let server: LoopbackServer
  beforeEach(async () => {
    server = await startHttpServer('127.0.0.1')
    return () => server.close()
  })

  it('the SSRF guard classifies addresses with the very function the save check uses', () => {
    expect(guardRefusedRange).toBe(refusedRange)
  })

  it('refuses at delivery what the same allow-list refuses on save: a port, then userinfo', async () => {
    // A name that resolves to a public address, served (in this test) by the loopback server.
    const resolve: HostResolver = async () => [{ address: '127.0.0.1', family: 4 }]
    const policy = { allowedPorts: [server.port] }
    const send = (url: string, ssrf: object) => {
      const ch = testChannel('webhook', { url, secrets: SECRETS })
      return deliverVia(
        createWebhookTransport({ allowHttp: true, ssrf: { ...ssrf, resolve } }),
        testMessage(ch),
        ch,
      )
    }
    // The loopback address is allowed by range for delivery, the port by the allow-list.
    const open = { ...policy, allowedRanges: ['127.0.0.0/8'] }
    expect(await send(`http://hooks.example.com:${server.port}/in`, open)).toEqual({ status: 'delivered' })
    // Without the port in the list, a public-resolving name may not use it.
    const publicResolve: HostResolver = async () => [{ address: '93.184.215.14', family: 4 }]
    const port22 = testChannel('webhook', { url: 'http://hooks.example.com:22/in', secrets: SECRETS })
    const refused = await deliverVia(
      createWebhookTransport({ allowHttp: true, ssrf: { resolve: publicResolve } }),
      testMessage(port22),
      port22,
    )
    expect(refused).toMatchObject({ status: 'permanent', code: 'PORT_REFUSED' })
    expect(await send(`http://u:p@hooks.example.com:${server.port}/in`, open)).toMatchObject({
      status: 'permanent',
      code: 'USERINFO_URL',
    })
    expect(server.received).toHaveLength(1)
  })
})
