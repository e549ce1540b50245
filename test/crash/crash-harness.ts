import { type ChildProcess, spawn } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { Webhook } from 'standardwebhooks'

const root = fileURLToPath(new URL('../..', import.meta.url))
const script = fileURLToPath(new URL('./crash-worker.ts', import.meta.url))

/** A webhook receiver on loopback that verifies every signature and counts deliveries per message and worker. */
export interface Receiver {
  readonly url: string
  /** message id -> the workers that delivered it, in arrival order. */
  readonly deliveries: Map<string, string[]>
  total(): number
  close(): Promise<void>
}

export async function startReceiver(secret: string, delayMs: number): Promise<Receiver> {
  const verifier = new Webhook(secret)
  const deliveries = new Map<string, string[]>()
  let total = 0
  let bad = 0
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      try {
        verifier.verify(body, req.headers as Record<string, string>)
      } catch {
        bad++
        res.writeHead(401).end()
        return
      }
      const id = String(req.headers['webhook-id'])
      const by = String(req.headers['user-agent']).replace('crash-test/', '')
      deliveries.set(id, [...(deliveries.get(id) ?? []), by])
      total++
      setTimeout(() => res.writeHead(204).end(), delayMs)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/hook`,
    deliveries,
    total: () => {
      if (bad > 0) throw new Error(`${bad} deliveries failed signature verification`)
      return total
    },
    close: () => new Promise((r) => server.close(() => r())),
  }
}

export interface WorkerProcess {
  readonly name: string
  readonly proc: ChildProcess
  /** The worker printed its ready line: built, connected, waiting for `go`. */
  readonly ready: Promise<void>
  /** Lets the worker start delivering. */
  go(): void
  readonly exited: Promise<number | null>
  /** The messages whose lease this worker reported lost ("lost <id>" lines). */
  readonly lost: ReadonlySet<string>
  /** Everything it printed so far. */
  output(): string
}

export function startWorker(
  kind: 'sqlite' | 'postgres',
  target: string,
  name: string,
  env: NodeJS.ProcessEnv,
  /** Another worker script of this directory, and its extra arguments. */
  options: { readonly script?: string; readonly args?: readonly string[] } = {},
): WorkerProcess {
  const file = options.script ? fileURLToPath(new URL(options.script, import.meta.url)) : script
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', file, kind, target, name, ...(options.args ?? [])],
    {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  )
  let err = ''
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString()
  })
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)))
  let out = ''
  const lost = new Set<string>()
  const ready = new Promise<void>((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('ready\n')) resolve()
      for (const m of out.matchAll(/^lost (\S+)$/gm)) lost.add(m[1]!)
    })
    void exited.then((code) => reject(new Error(`worker ${name} exited ${code} before ready: ${err}`)))
  })
  return { name, proc, ready, go: () => proc.stdin!.write('go\n'), exited, lost, output: () => out }
}

/**
 * Start-up of a worker process (tsx compiling, opening the store) takes seconds on an idle
 * machine and far more on a loaded 2-core one: it gets this budget of its own, spent before
 * a test's clock starts.
 */
export const STARTUP_BUDGET_MS = 100_000

/** Waits for every worker's ready line within the start-up budget; kills them all if one misses it. */
export async function allReady(workers: readonly WorkerProcess[]): Promise<void> {
  const timer = setTimeout(() => {
    for (const w of workers) w.proc.kill('SIGKILL')
  }, STARTUP_BUDGET_MS)
  try {
    await Promise.all(workers.map((w) => w.ready))
  } finally {
    clearTimeout(timer)
  }
}
/** What the receiver saw, summarised for the test's assertions and its printed counts. */
export function tally(receiver: Receiver, ids: readonly string[], killed: string) {
  let duplicates = 0
  let duplicatesFirstByKilled = 0
  let missing = 0
  const duplicateIds: string[] = []
  for (const id of ids) {
    const by = receiver.deliveries.get(id)
    if (!by) {
      missing++
      continue
    }
    if (by.length > 1) {
      duplicates += by.length - 1
      duplicateIds.push(id)
      if (by[0] === killed) duplicatesFirstByKilled += by.length - 1
    }
  }
  const byKilled = [...receiver.deliveries.values()].filter((by) => by.includes(killed)).length
  return {
    messages: ids.length,
    received: receiver.total(),
    missing,
    duplicates,
    duplicatesFirstByKilled,
    duplicateIds,
    byKilled,
  }
}
