import ipaddr from 'ipaddr.js'
import { ValidationError } from './errors.js'

/**
 * Where tenants' channels may send: the one allow-list that both the check when a channel
 * is saved and the SSRF guard at delivery read, so a URL saved is a URL the worker may call.
 *
 * @example
 * const destinations = { allowedRanges: ['10.20.0.0/16'], allowedPorts: [8443] }
 * const messaging = createMessaging({ storage, destinations })
 * createWebhookTransport({ ssrf: destinations }) // builtinTransports(messaging) reads messaging.destinations
 */
export interface DestinationPolicy {
  /**
   * CIDR ranges reachable although they are not public: `['127.0.0.0/8', '::1/128']` for a
   * loopback test receiver, `['10.20.0.0/16']` for an internal relay. The operator vouches
   * for such a network, so any port in it is allowed.
   */
  readonly allowedRanges?: readonly string[]
  /** Ports besides 80 and 443 a public destination may use. */
  readonly allowedPorts?: readonly number[]
}

/** The ports every destination may use: HTTP's and HTTPS's. */
export const DEFAULT_PORTS: readonly number[] = [80, 443]

// Instance metadata services that sit outside the ranges ipaddr.js already flags
// (169.254.169.254 is link-local, fd00:ec2::254 unique-local, 100.100.100.200 CGNAT).
const METADATA_ADDRESSES = ['192.0.0.192', '168.63.129.16', 'fd00:ec2::254', 'fd00:ec2::23'].map((a) =>
  ipaddr.parse(a).toNormalizedString(),
)

/**
 * The range an address belongs to when it is refused, or null when it is a public unicast
 * address. Only ipaddr.js's `unicast` passes: loopback, private (RFC 1918), link-local,
 * CGNAT, multicast, broadcast, unspecified, documentation/reserved, IPv4-mapped, NAT64
 * (rfc6052), 6to4 and Teredo are all refused (the last three can tunnel to a private IPv4).
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
  // ::a.b.c.d (IPv4-compatible, deprecated by RFC 4291 2.5.5.1) passes ipaddr.js as unicast,
  // yet spells an IPv4 address, ::169.254.169.254 among them: nothing public lives in ::/96.
  if (
    range === 'unicast' &&
    ip.kind() === 'ipv6' &&
    (ip as ipaddr.IPv6).parts.slice(0, 6).every((p) => p === 0)
  )
    return 'ipv4Compatible'
  return range === 'unicast' ? null : range
}

/** A policy with its ranges parsed once: what both checks ask of it. */
export interface CompiledDestinationPolicy {
  /** The address lies in one of `allowedRanges`. */
  isAllowListed(address: string): boolean
  /** Why the address may not be reached (its range), or null. */
  refusal(address: string): string | null
  /** The port may be used by a destination whose addresses are `addresses`. */
  portAllowed(port: number, addresses: readonly string[]): boolean
  readonly ports: readonly number[]
}

/** Parses the ranges; a malformed one is a ValidationError naming `allowedRanges.<i>`. */
export function compileDestinationPolicy(policy: DestinationPolicy = {}): CompiledDestinationPolicy {
  const ranges = (policy.allowedRanges ?? []).map((r, i) => {
    try {
      return ipaddr.parseCIDR(r)
    } catch {
      throw ValidationError.single(`allowedRanges.${i}`, 'cidr', `${JSON.stringify(r)} is not a CIDR range`)
    }
  })
  const ports = [...new Set([...DEFAULT_PORTS, ...(policy.allowedPorts ?? [])])]
  for (const [i, p] of (policy.allowedPorts ?? []).entries()) {
    if (!Number.isInteger(p) || p < 1 || p > 65535)
      throw ValidationError.single(`allowedPorts.${i}`, 'port', 'must be a port number, 1 to 65535')
  }
  const isAllowListed = (address: string): boolean => {
    let ip: ipaddr.IPv4 | ipaddr.IPv6
    try {
      ip = ipaddr.parse(address)
    } catch {
      return false
    }
    return ranges.some(([net, bits]) => net.kind() === ip.kind() && ip.match(net, bits))
  }
  return {
    ports,
    isAllowListed,
    refusal(address) {
      const range = refusedRange(address)
      return range !== null && !(range !== 'unparseable' && isAllowListed(address)) ? range : null
    },
    portAllowed: (port, addresses) =>
      ports.includes(port) || (addresses.length > 0 && addresses.every(isAllowListed)),
  }
}

/** `URL.hostname` without IPv6 brackets. */
const bare = (hostname: string) => (hostname.startsWith('[') ? hostname.slice(1, -1) : hostname)

const isIpLiteral = (host: string) => ipaddr.isValid(host) && (host.includes(':') || /^[\d.]+$/.test(host))

// RFC 6761: every name under localhost. is loopback, whatever a resolver says.
const LOCALHOST = /^(?:.+\.)?localhost\.?$/i

/**
 * What a URL of a channel config breaks, checked when the channel is saved: credentials in
 * the URL, a literal address (or a localhost name) in a refused range, a port outside 80,
 * 443 and the allowed ports. Names are not resolved here: DNS answers change, so the SSRF
 * guard checks every answer again at each delivery.
 */
export function destinationIssue(
  url: string,
  policy: CompiledDestinationPolicy,
): { rule: string; message: string } | null {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return { rule: 'url', message: 'must be a URL' }
  }
  if (u.username !== '' || u.password !== '') {
    return {
      rule: 'no_userinfo',
      message: "must not carry user:password@ (credentials belong in the channel's secret fields)",
    }
  }
  const host = bare(u.hostname)
  const refused = (range: string) => ({
    rule: 'destination_refused',
    message: `${host} is a ${range} address, not a public one (allow its range to reach it)`,
  })
  let addresses: string[] = []
  if (isIpLiteral(host)) {
    const range = policy.refusal(host)
    if (range !== null) return refused(range)
    addresses = [host]
  } else if (LOCALHOST.test(host)) {
    // Loopback either way; reachable when the operator allowed one of its two addresses.
    addresses = ['127.0.0.1', '::1'].filter((a) => policy.isAllowListed(a))
    if (addresses.length === 0) return refused('loopback')
  }
  const port = u.port !== '' ? Number(u.port) : u.protocol === 'http:' ? 80 : 443
  if (!policy.portAllowed(port, addresses)) {
    return {
      rule: 'port_not_allowed',
      message: `port ${port} is not allowed: use ${policy.ports.join(', ')} (or allow the port)`,
    }
  }
  return null
}
