import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import ipaddr from 'ipaddr.js'

export interface ResolvedAddress {
  readonly address: string
  readonly family: 4 | 6
}

/** Every A and AAAA record of a name. Tests inject one that answers from a table. */
export type HostResolver = (hostname: string) => Promise<readonly ResolvedAddress[]>

/** getaddrinfo with `all`: every record the system resolver returns (hosts file included). */
export const systemResolver: HostResolver = async (hostname) => {
  const records = await lookup(hostname, { all: true, verbatim: true })
  return records.map((r) => ({ address: r.address, family: r.family === 6 ? 6 : 4 }))
}

export interface SsrfPolicy {
  /**
   * CIDR ranges reachable although the guard would refuse them: `['127.0.0.0/8', '::1/128']`
   * for a loopback test server, `['10.20.0.0/16']` for an internal relay.
   */
  readonly allowedRanges?: readonly string[]
  readonly resolve?: HostResolver
}

/** Raised when a destination resolves to an address the policy refuses; names host and address, nothing else. */
export class SsrfRefusedError extends Error {
  readonly code = 'SSRF_REFUSED'
  constructor(
    readonly hostname: string,
    readonly address: string,
    readonly range: string,
  ) {
    super(`${hostname} resolves to ${address} (${range}), which is not a public address`)
  }
  override get name(): string {
    return 'SsrfRefusedError'
  }
}

/** Resolution itself failed (NXDOMAIN, timeout): worth another try later. */
export class HostResolutionError extends Error {
  readonly code = 'DNS_FAILED'
  constructor(
    readonly hostname: string,
    reason: string,
  ) {
    super(`cannot resolve ${hostname}: ${reason}`)
  }
  override get name(): string {
    return 'HostResolutionError'
  }
}

// Instance metadata services that sit outside the ranges ipaddr.js already flags
// (169.254.169.254 is link-local, fd00:ec2::254 unique-local, 100.100.100.200 CGNAT).
const METADATA_ADDRESSES = ['192.0.0.192', '168.63.129.16', 'fd00:ec2::254', 'fd00:ec2::23'].map((a) =>
  ipaddr.parse(a).toNormalizedString(),
)

/**
 * The range an address belongs to when the guard refuses it, or null when it is a public
 * unicast address. Only ipaddr.js's `unicast` passes: loopback, private, link-local,
 * CGNAT, multicast, broadcast, unspecified, documentation/reserved, IPv4-mapped,
 * NAT64, 6to4 and Teredo are all refused (the last three can tunnel to a private IPv4).
 */
export function refusedRange(address: string): string | null {
  let ip: ipaddr.IPv4 | ipaddr.IPv6
  try {
    ip = ipaddr.parse(address)
  } catch {
    return 'unparseable'
  }
  if (METADATA_ADDRESSES.includes(ip.toNormalizedString())) return 'cloudMetadata'
  const range = ip.range()
  return range === 'unicast' ? null : range
}

function parseRanges(ranges: readonly string[]): [ipaddr.IPv4 | ipaddr.IPv6, number][] {
  return ranges.map((r) => {
    try {
      return ipaddr.parseCIDR(r)
    } catch {
      throw new Error(`allowedRanges: ${JSON.stringify(r)} is not a CIDR range`)
    }
  })
}

export interface SsrfGuard {
  /**
   * Resolves `hostname` (or takes an IP literal as it is) and returns every address,
   * all of them allowed; throws SsrfRefusedError if any one is refused, so a name with
   * one public and one private record is refused whichever a connect would pick.
   */
  check(hostname: string): Promise<readonly ResolvedAddress[]>
}

/**
 * @example
 * const guard = createSsrfGuard({ allowedRanges: ['127.0.0.0/8'] })
 * const addresses = await guard.check('hooks.example.com') // connect to these, never re-resolve
 */
export function createSsrfGuard(policy: SsrfPolicy = {}): SsrfGuard {
  const allowed = parseRanges(policy.allowedRanges ?? [])
  const resolve = policy.resolve ?? systemResolver
  const isAllowListed = (address: string): boolean => {
    const ip = ipaddr.parse(address)
    return allowed.some(([net, bits]) => net.kind() === ip.kind() && ip.match(net, bits))
  }

  return {
    async check(rawHostname) {
      // URL.hostname keeps IPv6 brackets; WHATWG URL parsing has already turned decimal,
      // octal and hex IPv4 forms (http://2130706433/, http://0177.0.0.1/) into dotted quads.
      const hostname = rawHostname.startsWith('[') ? rawHostname.slice(1, -1) : rawHostname
      let addresses: readonly ResolvedAddress[]
      const literal = isIP(hostname)
      if (literal !== 0) {
        addresses = [{ address: hostname, family: literal === 6 ? 6 : 4 }]
      } else {
        try {
          addresses = await resolve(hostname)
        } catch (e) {
          throw new HostResolutionError(hostname, (e as { code?: string }).code ?? 'lookup failed')
        }
        if (addresses.length === 0) throw new HostResolutionError(hostname, 'no A or AAAA record')
      }
      for (const { address } of addresses) {
        const range = refusedRange(address)
        if (range !== null && !(range !== 'unparseable' && isAllowListed(address))) {
          throw new SsrfRefusedError(hostname, address, range)
        }
      }
      return addresses
    },
  }
}
