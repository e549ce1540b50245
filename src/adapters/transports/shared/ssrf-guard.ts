import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import {
  compileDestinationPolicy,
  type DestinationPolicy,
  refusedRange,
} from '../../../domain/destinations.js'

export { refusedRange }

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

/**
 * The destination allow-list (`allowedRanges`, `allowedPorts`: the very option the channel
 * check on save reads, see DestinationPolicy) plus the resolver.
 */
export interface SsrfPolicy extends DestinationPolicy {
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

export interface SsrfGuard {
  /**
   * Resolves `hostname` (or takes an IP literal as it is) and returns every address,
   * all of them allowed; throws SsrfRefusedError if any one is refused, so a name with
   * one public and one private record is refused whichever a connect would pick.
   */
  check(hostname: string): Promise<readonly ResolvedAddress[]>
  /** Port 80, 443 or an allowed port; any port when every address lies in an allowed range. */
  portAllowed(port: number, addresses: readonly ResolvedAddress[]): boolean
}

/**
 * @example
 * const guard = createSsrfGuard({ allowedRanges: ['127.0.0.0/8'] })
 * const addresses = await guard.check('hooks.example.com') // connect to these, never re-resolve
 */
export function createSsrfGuard(policy: SsrfPolicy = {}): SsrfGuard {
  let compiled: ReturnType<typeof compileDestinationPolicy>
  try {
    compiled = compileDestinationPolicy(policy)
  } catch (e) {
    throw new Error(`ssrf policy: ${e instanceof Error ? e.message : String(e)}`)
  }
  const resolve = policy.resolve ?? systemResolver

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
        const range = compiled.refusal(address)
        if (range !== null) throw new SsrfRefusedError(hostname, address, range)
      }
      return addresses
    },
    portAllowed: (port, addresses) =>
      compiled.portAllowed(
        port,
        addresses.map((a) => a.address),
      ),
  }
}
