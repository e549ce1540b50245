import { describe, expect, it } from 'vitest'
import {
  createSsrfGuard,
  type HostResolver,
  refusedRange,
} from '../../src/adapters/transports/webhook/index.js'

/**
 * Every cloud metadata endpoint and every special-purpose range (the IANA IPv4 and IPv6
 * Special-Purpose Address Registries, plus what tunnels to IPv4) the guard refuses, with the
 * range it names. Dropping any address from the guard's list, or a range from its rules,
 * fails a row here.
 */
const REFUSED: ReadonlyArray<readonly [address: string, range: string, what: string]> = [
  // Cloud instance metadata and platform endpoints.
  ['169.254.169.254', 'linkLocal', 'AWS, GCP, Azure, OpenStack, DigitalOcean, Hetzner instance metadata'],
  ['169.254.170.2', 'linkLocal', 'AWS ECS task metadata and credentials'],
  ['169.254.169.123', 'linkLocal', 'AWS time sync'],
  ['169.254.0.23', 'linkLocal', 'Tencent Cloud metadata'],
  ['fd00:ec2::254', 'cloudMetadata', 'AWS instance metadata over IPv6'],
  ['fd00:ec2::23', 'cloudMetadata', 'AWS DNS/time over IPv6'],
  ['168.63.129.16', 'cloudMetadata', 'Azure wire server (a public address by its number)'],
  ['192.0.0.192', 'cloudMetadata', 'Oracle Cloud metadata'],
  ['100.100.100.200', 'carrierGradeNat', 'Alibaba Cloud metadata'],
  ['64:ff9b::a9fe:a9fe', 'rfc6052', 'the metadata address through NAT64'],
  ['2002:a9fe:a9fe::', '6to4', 'the metadata address through 6to4'],
  ['::ffff:169.254.169.254', 'ipv4Mapped', 'the metadata address, IPv4-mapped'],
  // WHATWG URL parsing writes http://[::169.254.169.254]/ as [::a9fe:a9fe].
  ['::a9fe:a9fe', 'ipv4Compatible', 'the metadata address, IPv4-compatible'],
  ['::7f00:1', 'ipv4Compatible', 'loopback, IPv4-compatible'],
  // IPv4 special-purpose registry.
  ['0.0.0.0', 'unspecified', '"this host"'],
  ['0.1.2.3', 'unspecified', '"this network" 0.0.0.0/8'],
  ['10.0.0.1', 'private', 'RFC 1918'],
  ['100.64.0.1', 'carrierGradeNat', 'shared address space (CGNAT) 100.64.0.0/10'],
  ['127.0.0.1', 'loopback', 'loopback'],
  ['127.53.0.1', 'loopback', 'loopback, anywhere in 127/8'],
  ['169.254.1.1', 'linkLocal', 'link local'],
  ['172.16.0.1', 'private', 'RFC 1918'],
  ['172.31.255.255', 'private', 'RFC 1918, the range end'],
  ['192.0.0.1', 'reserved', 'IETF protocol assignments 192.0.0.0/24'],
  ['192.0.0.9', 'reserved', 'port control protocol anycast'],
  ['192.0.0.170', 'reserved', 'NAT64/DNS64 discovery'],
  ['192.0.2.1', 'reserved', 'documentation TEST-NET-1'],
  ['192.31.196.1', 'as112', 'AS112-v4'],
  ['192.52.193.1', 'amt', 'AMT'],
  ['192.88.99.1', 'reserved', 'deprecated 6to4 relay anycast'],
  ['192.168.0.1', 'private', 'RFC 1918'],
  ['192.175.48.1', 'as112', 'direct delegation AS112'],
  ['198.18.0.1', 'reserved', 'benchmarking 198.18.0.0/15'],
  ['198.51.100.1', 'reserved', 'documentation TEST-NET-2'],
  ['203.0.113.1', 'reserved', 'documentation TEST-NET-3'],
  ['224.0.0.1', 'multicast', 'multicast'],
  ['239.255.255.250', 'multicast', 'multicast (SSDP)'],
  ['240.0.0.1', 'reserved', 'reserved 240.0.0.0/4'],
  ['255.255.255.255', 'broadcast', 'limited broadcast'],
  // IPv6 special-purpose registry.
  ['::', 'unspecified', 'unspecified'],
  ['::1', 'loopback', 'loopback'],
  ['::ffff:10.0.0.1', 'ipv4Mapped', 'IPv4-mapped'],
  ['64:ff9b::a00:1', 'rfc6052', 'NAT64 well-known prefix'],
  ['64:ff9b:1::1', 'rfc6052', 'NAT64 local-use prefix'],
  ['100::1', 'discard', 'discard-only 100::/64'],
  ['2001::1', 'teredo', 'Teredo'],
  ['2001:1::1', 'reserved', 'IETF protocol assignments 2001::/23'],
  ['2001:2::1', 'benchmarking', 'benchmarking'],
  ['2001:3::1', 'amt', 'AMT'],
  ['2001:4:112::1', 'as112v6', 'AS112-v6'],
  ['2001:10::1', 'deprecatedOrchid', 'ORCHID'],
  ['2001:20::1', 'orchid2', 'ORCHIDv2'],
  ['2001:db8::1', 'reserved', 'documentation'],
  ['2002:a00:1::', '6to4', '6to4 (to 10.0.0.1)'],
  ['2620:4f:8000::1', 'as112v6', 'direct delegation AS112'],
  ['3fff::1', 'reserved', 'documentation 3fff::/20'],
  ['5f00::1', 'segmentRouting', 'segment routing SIDs'],
  ['fc00::1', 'uniqueLocal', 'unique local'],
  ['fd12:3456::1', 'uniqueLocal', 'unique local'],
  ['fe80::1', 'linkLocal', 'link local'],
  ['ff02::1', 'multicast', 'multicast'],
]

const PUBLIC = ['93.184.215.14', '1.1.1.1', '8.8.8.8', '2606:4700::1111', '2a00:1450:4001:80b::200e']

const resolveTo =
  (address: string): HostResolver =>
  async () => [{ address, family: address.includes(':') ? 6 : 4 }]

describe('the SSRF guard refuses every metadata and special-purpose address', () => {
  it.each(REFUSED)('%s is %s (%s)', async (address, range) => {
    expect(refusedRange(address)).toBe(range)
    // As a literal in a URL, and as the answer for a public-looking name.
    const literal = address.includes(':') ? `[${address}]` : address
    await expect(createSsrfGuard().check(literal)).rejects.toMatchObject({ code: 'SSRF_REFUSED', range })
    await expect(
      createSsrfGuard({ resolve: resolveTo(address) }).check('hooks.example.com'),
    ).rejects.toMatchObject({ code: 'SSRF_REFUSED', address, range })
  })

  it.each(PUBLIC)('and lets the public unicast address %s through', async (address) => {
    expect(refusedRange(address)).toBeNull()
    await expect(
      createSsrfGuard({ resolve: resolveTo(address) }).check('hooks.example.com'),
    ).resolves.toEqual([{ address, family: address.includes(':') ? 6 : 4 }])
  })
})
