import { type ChildProcess, execFileSync, type SpawnOptions, spawn } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'

/**
 * Hosts for one test: network namespaces joined by veth pairs to a bridge in the test's own
 * namespace, on a private /24 the test picks (one no route of the machine covers), and removed
 * with everything on them afterwards. Traffic between the "hosts" and the database stays on
 * this bridge. Needs root (CAP_NET_ADMIN) and iproute2; without them creation throws: a test
 * that asked for hosts fails, it is never skipped.
 */
export interface TestNetwork {
  /** `10.a.b.0/24`. */
  readonly subnet: string
  /** The bridge's address in the test's namespace (`10.a.b.1`): where a server for every host listens. */
  readonly gateway: string
  readonly hosts: readonly NetnsHost[]
  /** Kills what still runs in the namespaces, deletes them and the bridge. Idempotent. */
  remove(): Promise<void>
}

export interface NetnsHost {
  /** The namespace's name (unique to this run). */
  readonly name: string
  /** Its address on the test subnet. */
  readonly address: string
  /** Runs a command inside the namespace (`ip netns exec`: the child's pid is the command's own). */
  spawn(command: string, args: readonly string[], options?: SpawnOptions): ChildProcess
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString()

/** Runs iproute2 commands in one process (`ip -batch`): a command each is 20 process starts per host. */
function ipBatch(commands: readonly string[], namespace?: string): void {
  const args = [...(namespace ? ['-n', namespace] : []), '-batch', '-']
  try {
    execFileSync('ip', args, { input: `${commands.join('\n')}\n`, stdio: ['pipe', 'pipe', 'pipe'] })
  } catch (e) {
    const err = (e as { stderr?: Buffer }).stderr?.toString().trim() ?? String(e)
    throw new Error(
      `the multi-host test needs network namespaces (root, or CAP_NET_ADMIN, and iproute2; .ci/run ` +
        `installs iproute2): "ip ${args.join(' ')}" failed: ${err}`,
    )
  }
}

/** A /24 in 10.200.0.0-10.250.255.0 that no route of the machine overlaps. */
function pickSubnet(): { prefix: string } {
  const routes = ip('-4', 'route', 'show', 'table', 'all')
  for (let tries = 0; tries < 50; tries++) {
    const prefix = `10.${randomInt(200, 251)}.${randomInt(0, 256)}`
    if (!routes.includes(`${prefix}.`) && !routes.includes('10.0.0.0/8')) return { prefix }
  }
  throw new Error('no free /24 in 10.200.0.0/16-10.250.0.0/16 for the test network')
}

export async function createTestNetwork(options: { hosts: number }): Promise<TestNetwork> {
  if (options.hosts < 1 || options.hosts > 200) throw new Error('hosts: 1 to 200')
  const id = randomBytes(3).toString('hex')
  const bridge = `mbr${id}`
  const { prefix } = pickSubnet()
  const gateway = `${prefix}.1`
  const created: { namespaces: string[]; bridge: boolean } = { namespaces: [], bridge: false }
  const children = new Set<ChildProcess>()
  let removed = false

  async function remove(): Promise<void> {
    if (removed) return
    removed = true
    const live = [...children].filter((c) => c.exitCode === null && c.signalCode === null)
    await Promise.all(
      live.map(
        (c) =>
          new Promise<void>((resolve) => {
            c.once('exit', () => resolve())
            c.kill('SIGKILL')
          }),
      ),
    )
    for (const ns of created.namespaces) {
      // Whatever a child started in the namespace and left behind goes with it.
      try {
        for (const pid of ip('netns', 'pids', ns).split('\n').filter(Boolean)) {
          try {
            process.kill(Number(pid), 'SIGKILL')
          } catch {}
        }
      } catch {}
    }
    const commands = [
      ...created.namespaces.map((ns) => `netns delete ${ns}`),
      ...(created.bridge ? [`link delete ${bridge}`] : []),
    ]
    // -force: a namespace or bridge that was never made does not stop the rest going.
    if (commands.length > 0)
      try {
        execFileSync('ip', ['-force', '-batch', '-'], { input: `${commands.join('\n')}\n`, stdio: 'pipe' })
      } catch {}
  }

  try {
    const hosts = Array.from({ length: options.hosts }, (_, i) => ({
      name: `msg-${id}-h${i + 1}`,
      address: `${prefix}.${i + 11}`,
      outer: `mv${id}${i}h`,
      inner: `mv${id}${i}n`,
    }))
    created.namespaces.push(...hosts.map((h) => h.name))
    created.bridge = true
    ipBatch([
      // The hosts' traffic is bridged, not routed: a host firewall's FORWARD rules (a container
      // engine's DROP policy) must not see it, so the bridge hands nothing to iptables.
      `link add ${bridge} type bridge nf_call_iptables 0`,
      `addr add ${gateway}/24 dev ${bridge}`,
      `link set ${bridge} up`,
      ...hosts.flatMap((h) => [
        `netns add ${h.name}`,
        `link add ${h.outer} type veth peer name ${h.inner}`,
        `link set ${h.outer} master ${bridge}`,
        `link set ${h.outer} up`,
        `link set ${h.inner} netns ${h.name}`,
      ]),
    ])
    for (const h of hosts)
      ipBatch([`addr add ${h.address}/24 dev ${h.inner}`, `link set ${h.inner} up`, 'link set lo up'], h.name)
    const made: NetnsHost[] = hosts.map(({ name, address }) => ({
      name,
      address,
      spawn(command, args, spawnOptions = {}) {
        const child = spawn('ip', ['netns', 'exec', name, command, ...args], spawnOptions)
        children.add(child)
        child.once('exit', () => children.delete(child))
        return child
      },
    }))
    return { subnet: `${prefix}.0/24`, gateway, hosts: made, remove }
  } catch (e) {
    await remove()
    throw e
  }
}
