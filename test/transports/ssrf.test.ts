import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createSsrfGuard,
  createWebhookTransport,
  type HostResolver,
  refusedRange,
  SsrfRefusedError,
} from '../../src/adapters/transports/webhook/index.js'
import { deliverVia, type LoopbackServer, startHttpServer, testChannel, testMessage } from './support.js'

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'

/**
 * Answers from a table and counts the questions; never asks a real DNS server. A name
 * missing from the table fails like NXDOMAIN.
 */
function tableResolver(table: Record<string, string[]>): HostResolver & { calls: string[] } {
  const calls: string[] = []
  const resolve = async (hostname: string) => {
    calls.push(hostname)
    const addresses = table[hostname]
    if (!addresses) throw Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' })
    return addresses.map((address) => ({
      address,
      family: address.includes(':') ? (6 as const) : (4 as const),
    }))
  }
  return Object.assign(resolve, { calls })
}

describe('address classification', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['fe80::1', 'linkLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['100.100.100.200', 'carrierGradeNat'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['::ffff:127.0.0.1', 'ipv4Mapped'],
    ['::ffff:8.8.8.8', 'ipv4Mapped'],
    ['fd00::1', 'uniqueLocal'],
    ['fd00:ec2::254', 'cloudMetadata'],
    ['192.0.0.192', 'cloudMetadata'],
    ['64:ff9b::a00:1', 'rfc6052'],
    ['2002:a00:1::', '6to4'],
  ])('refuses %s (%s)', (address, range) => {
    expect(refusedRange(address)).toBe(range)
  })

  it.each(['93.184.215.14', '1.1.1.1', '2606:4700::1111', '2a00:1450:4001:80b::200e'])(
    'lets the public unicast address %s through',
    (address) => {
      expect(refusedRange(address)).toBeNull()
    },
  )
})

describe('SSRF guard', () => {
  it('refuses a name whose only record is private, without connecting', async () => {
    const resolve = tableResolver({ 'intranet.example': ['10.0.0.5'] })
    await expect(createSsrfGuard({ resolve }).check('intranet.example')).rejects.toMatchObject({
      code: 'SSRF_REFUSED',
      address: '10.0.0.5',
      range: 'private',
    })
  })

  it('refuses a name with one public and one private record, whichever would be dialled', async () => {
    const resolve = tableResolver({ 'mixed.example': ['93.184.215.14', '192.168.0.10'] })
    await expect(createSsrfGuard({ resolve }).check('mixed.example')).rejects.toBeInstanceOf(SsrfRefusedError)
    const v6 = tableResolver({ 'mixed6.example': ['2606:4700::1111', 'fd12::1'] })
    await expect(createSsrfGuard({ resolve: v6 }).check('mixed6.example')).rejects.toMatchObject({
      range: 'uniqueLocal',
    })
  })

  it('refuses IPv4-mapped IPv6 literals even where IPv4 loopback is allow-listed', async () => {
    const guard = createSsrfGuard({ allowedRanges: ['127.0.0.0/8'], resolve: tableResolver({}) })
    await expect(guard.check('[::ffff:127.0.0.1]')).rejects.toMatchObject({ range: 'ipv4Mapped' })
    await expect(guard.check('[::ffff:7f00:1]')).rejects.toMatchObject({ range: 'ipv4Mapped' })
  })

  it('refuses cloud metadata endpoints by name', async () => {
    const resolve = tableResolver({
      'metadata.google.internal': ['169.254.169.254'],
      imds: ['fd00:ec2::254'],
    })
    const guard = createSsrfGuard({ resolve })
    await expect(guard.check('metadata.google.internal')).rejects.toMatchObject({ range: 'linkLocal' })
    await expect(guard.check('imds')).rejects.toMatchObject({ range: 'cloudMetadata' })
  })

  it('returns every record of an all-public name, and a failed lookup as retryable resolution error', async () => {
    const resolve = tableResolver({ 'api.example': ['93.184.215.14', '2606:4700::1111'] })
    const guard = createSsrfGuard({ resolve })
    expect(await guard.check('api.example')).toEqual([
      { address: '93.184.215.14', family: 4 },
      { address: '2606:4700::1111', family: 6 },
    ])
    await expect(guard.check('nxdomain.example')).rejects.toMatchObject({ code: 'DNS_FAILED' })
  })

  it('allows exactly the allow-listed ranges and nothing next to them', async () => {
    const resolve = tableResolver({ relay: ['10.20.0.7'], other: ['10.21.0.7'] })
    const guard = createSsrfGuard({ allowedRanges: ['10.20.0.0/16'], resolve })
    expect(await guard.check('relay')).toEqual([{ address: '10.20.0.7', family: 4 }])
    await expect(guard.check('other')).rejects.toMatchObject({ range: 'private' })
  })

  it('rejects a malformed allow-list at construction', () => {
    expect(() => createSsrfGuard({ allowedRanges: ['10.0.0.0'] })).toThrow(/not a CIDR/)
  })
})

describe('SSRF guard in the webhook transport, against a loopback receiver', () => {
  let server: LoopbackServer
  let server2: LoopbackServer
  beforeAll(async () => {
    server = await startHttpServer('127.0.0.1', (_r, res) => res.writeHead(200).end())
    // A second loopback address: proves the socket goes where the guard looked.
    server2 = await startHttpServer('127.0.0.2', (_r, res) => res.writeHead(200).end())
  })
  afterAll(async () => {
    await server.close()
    await server2.close()
  })

  const send = async (transport: ReturnType<typeof createWebhookTransport>, url: string) => {
    const ch = testChannel('webhook', { url, secrets: [SECRET] })
    const msg = testMessage(ch)
    return deliverVia(transport, msg, ch)
  }

  it('refuses loopback unless the host allow-lists it', async () => {
    const before = server.received.length
    const guarded = createWebhookTransport({ allowHttp: true, ssrf: { resolve: tableResolver({}) } })
    expect(await send(guarded, `${server.url}/x`)).toMatchObject({
      status: 'permanent',
      code: 'SSRF_REFUSED',
    })
    expect(server.received.length).toBe(before)

    const allowing = createWebhookTransport({ allowHttp: true, ssrf: { allowedRanges: ['127.0.0.0/8'] } })
    expect(await send(allowing, `${server.url}/x`)).toEqual({ status: 'delivered' })
    expect(server.received.length).toBe(before + 1)
  })

  it('reads decimal and octal IPv4 literals as the loopback they are', async () => {
    const before = server.received.length
    const guarded = createWebhookTransport({ allowHttp: true, ssrf: { resolve: tableResolver({}) } })
    for (const host of ['2130706433', '0177.0.0.1', '0x7f.1', '127.1']) {
      expect(await send(guarded, `http://${host}:${server.port}/lit`)).toMatchObject({
        status: 'permanent',
        code: 'SSRF_REFUSED',
      })
    }
    expect(server.received.length).toBe(before)
    // With loopback allowed the same literal reaches the server: it really was 127.0.0.1.
    const allowing = createWebhookTransport({ allowHttp: true, ssrf: { allowedRanges: ['127.0.0.0/8'] } })
    expect(await send(allowing, `http://2130706433:${server.port}/lit`)).toEqual({ status: 'delivered' })
    expect(server.received.length).toBe(before + 1)
  })

  it('refuses an IPv4-mapped IPv6 literal URL pointing at loopback', async () => {
    const allowing = createWebhookTransport({ allowHttp: true, ssrf: { allowedRanges: ['127.0.0.0/8'] } })
    const before = server.received.length
    expect(await send(allowing, `http://[::ffff:127.0.0.1]:${server.port}/m`)).toMatchObject({
      status: 'permanent',
      code: 'SSRF_REFUSED',
    })
    expect(server.received.length).toBe(before)
  })

  it('refuses a name resolving to a private address, and a public+private name, as permanent', async () => {
    const resolve = tableResolver({
      'evil.example': ['192.168.1.1'],
      'split.example': ['93.184.215.14', '10.0.0.1'],
    })
    const transport = createWebhookTransport({ allowHttp: true, ssrf: { resolve } })
    expect(await send(transport, 'http://evil.example/x')).toMatchObject({
      status: 'permanent',
      code: 'SSRF_REFUSED',
    })
    expect(await send(transport, 'https://split.example/x')).toMatchObject({
      status: 'permanent',
      code: 'SSRF_REFUSED',
    })
  })

  it('connects to the very address it checked: one lookup, no second resolution', async () => {
    // The injected table says localhost is 127.0.0.2; the system would say 127.0.0.1 or ::1,
    // where nothing listens on server2's port. Arriving at server2 proves the pin.
    const resolve = tableResolver({ localhost: ['127.0.0.2'] })
    const transport = createWebhookTransport({
      allowHttp: true,
      ssrf: { allowedRanges: ['127.0.0.0/8'], resolve },
    })
    const before = server2.received.length
    expect(await send(transport, `http://localhost:${server2.port}/pinned`)).toEqual({ status: 'delivered' })
    expect(resolve.calls).toEqual(['localhost'])
    const req = server2.received[before]!
    expect(req.localAddress).toBe('127.0.0.2')
    expect(req.headers.host).toBe(`localhost:${server2.port}`)
  })

  it('does not wait out a resolver that never answers: retryable at the deadline', async () => {
    const resolve: HostResolver = () => new Promise(() => {})
    const transport = createWebhookTransport({ ssrf: { resolve } })
    const ch = testChannel('webhook', { url: 'https://stuck.example/x', secrets: [SECRET], timeoutMs: 200 })
    const msg = testMessage(ch)
    const started = Date.now()
    expect(await deliverVia(transport, msg, ch)).toMatchObject({ status: 'retryable', code: 'TIMEOUT' })
    expect(Date.now() - started).toBeLessThan(2_000)
  })

  it('treats a failed lookup as retryable', async () => {
    const transport = createWebhookTransport({ allowHttp: true, ssrf: { resolve: tableResolver({}) } })
    expect(await send(transport, 'https://unknown.example/x')).toMatchObject({
      status: 'retryable',
      code: 'DNS_FAILED',
    })
  })
})
