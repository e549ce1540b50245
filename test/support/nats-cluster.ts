import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './postgres-server.js'

/**
 * A JetStream cluster of Debian's `nats-server` on loopback for one test file: free ports,
 * store directories in one temporary directory, full-mesh routes. Started and removed by the
 * test; a missing `nats-server` is an error (in CI `.ci/run` installs it), never a skip.
 */
export interface NatsCluster {
  /** Client URLs of every node, for `connect({ servers })`. */
  readonly servers: readonly string[]
  readonly nodes: readonly NatsNode[]
  /** Waits until every running node reports JetStream healthy and agrees on one meta leader. */
  ready(timeoutMs?: number): Promise<void>
  /** SIGKILLs every node and removes the directory. */
  stop(): Promise<void>
}

export interface NatsNode {
  readonly name: string
  readonly url: string
  readonly running: boolean
  /** SIGKILL: no goodbye to the routes, no flush of the store beyond what it already wrote. */
  kill(): Promise<void>
  /** Starts the node again on the same ports and store directory. */
  restart(): Promise<void>
  /** The node's log so far (for a failing test's message). */
  log(): string
}

export interface NatsClusterOptions {
  /** Default 3. One node runs JetStream without a cluster block. */
  readonly nodes?: number
  /** Appended to every node's configuration (accounts, authorization). */
  readonly extraConfig?: string
}

/** The server binary: NATS_SERVER wins, then Debian's path, then PATH. */
export function findNatsServer(): string {
  const env = process.env.NATS_SERVER
  if (env && existsSync(env)) return env
  if (existsSync('/usr/sbin/nats-server')) return '/usr/sbin/nats-server'
  const which = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' })
  const path = which.stdout.trim()
  if (which.status === 0 && path) return path
  throw new Error(
    'the NATS tests need nats-server (Debian: apt-get install -y nats-server; .ci/run installs it; ' +
      'NATS_SERVER overrides where)',
  )
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface NodeSpec {
  readonly name: string
  readonly clientPort: number
  readonly httpPort: number
  readonly routePort: number
}

function nodeConfig(spec: NodeSpec, dir: string, all: readonly NodeSpec[], extra: string): string {
  const cluster =
    all.length > 1
      ? `cluster {
  name: messaging-test
  listen: 127.0.0.1:${spec.routePort}
  routes: [${all.map((n) => `nats-route://127.0.0.1:${n.routePort}`).join(', ')}]
}`
      : ''
  return `server_name: ${spec.name}
listen: 127.0.0.1:${spec.clientPort}
http: 127.0.0.1:${spec.httpPort}
jetstream {
  store_dir: "${join(dir, spec.name)}"
  max_memory_store: 64MB
  max_file_store: 2GB
}
${cluster}
${extra}
`
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(1000) })
  if (!res.ok) throw new Error(`${url}: ${res.status}`)
  return res.json()
}

export async function startNatsCluster(options: NatsClusterOptions = {}): Promise<NatsCluster> {
  const binary = findNatsServer()
  const count = options.nodes ?? 3
  const dir = mkdtempSync(join(tmpdir(), 'messaging-nats-'))
  const specs: NodeSpec[] = []
  for (let i = 1; i <= count; i++)
    specs.push({
      name: `n${i}`,
      clientPort: await freePort(),
      httpPort: await freePort(),
      routePort: await freePort(),
    })
  for (const s of specs) {
    mkdirSync(join(dir, s.name), { recursive: true })
    writeFileSync(join(dir, `${s.name}.conf`), nodeConfig(s, dir, specs, options.extraConfig ?? ''))
  }

  const procs = new Map<string, ChildProcess>()
  const launch = (s: NodeSpec) => {
    const child = spawn(binary, ['-c', join(dir, `${s.name}.conf`), '-l', join(dir, `${s.name}.log`)], {
      stdio: 'ignore',
    })
    procs.set(s.name, child)
  }
  const logOf = (s: NodeSpec) => {
    const file = join(dir, `${s.name}.log`)
    return existsSync(file) ? readFileSync(file, 'utf8') : ''
  }
  const isRunning = (s: NodeSpec) => {
    const p = procs.get(s.name)
    return p !== undefined && p.exitCode === null && p.signalCode === null
  }

  async function ready(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    let last = ''
    for (;;) {
      const live = specs.filter(isRunning)
      try {
        const leaders = new Set<string>()
        for (const s of live) {
          await getJson(`http://127.0.0.1:${s.httpPort}/healthz?js-enabled-only=true`)
          const jsz = (await getJson(`http://127.0.0.1:${s.httpPort}/jsz`)) as {
            meta_cluster?: { leader?: string }
          }
          if (count > 1) {
            const leader = jsz.meta_cluster?.leader
            if (!leader) throw new Error(`${s.name}: no meta leader yet`)
            leaders.add(leader)
          }
        }
        if (leaders.size <= 1) return
        last = `nodes disagree on the meta leader: ${[...leaders].join(', ')}`
      } catch (e) {
        last = e instanceof Error ? e.message : String(e)
      }
      for (const s of specs) {
        const p = procs.get(s.name)
        if (p && p.exitCode !== null && p.exitCode !== 0)
          throw new Error(`nats-server ${s.name} exited ${p.exitCode}: ${logOf(s).slice(-2000)}`)
      }
      if (Date.now() > deadline) throw new Error(`the NATS cluster did not become ready: ${last}`)
      await sleep(100)
    }
  }

  async function killNode(s: NodeSpec): Promise<void> {
    const p = procs.get(s.name)
    if (!p || !isRunning(s)) return
    const exited = new Promise((r) => p.once('exit', r))
    p.kill('SIGKILL')
    await exited
  }

  for (const s of specs) launch(s)
  const cluster: NatsCluster = {
    servers: specs.map((s) => `nats://127.0.0.1:${s.clientPort}`),
    nodes: specs.map((s) => ({
      name: s.name,
      url: `nats://127.0.0.1:${s.clientPort}`,
      get running() {
        return isRunning(s)
      },
      kill: () => killNode(s),
      async restart() {
        await killNode(s)
        launch(s)
      },
      log: () => logOf(s),
    })),
    ready,
    async stop() {
      await Promise.all(specs.map(killNode))
      rmSync(dir, { recursive: true, force: true })
    },
  }
  try {
    await ready()
  } catch (e) {
    await cluster.stop()
    throw e
  }
  return cluster
}
