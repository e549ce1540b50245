import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { join } from 'node:path'
import { createPostgresStorage } from '../../src/adapters/postgres/index.js'
import { createMessaging, type Messaging, type Principal } from '../../src/index.js'
import { payloadOf } from '../common.js'
import { BENCH_ROLES, type BenchServer } from '../postgres.js'

/** Tenants with a channel `bench` each, and one member principal (and bearer token) per tenant. */
export interface HttpTenants {
  readonly ids: readonly string[]
  readonly principals: readonly Principal[]
  readonly tokens: readonly string[]
  /** The tokens file `messaging serve --tokens` reads. */
  readonly tokensFile: string
}

export function httpTenants(dir: string, count: number): HttpTenants {
  const ids = Array.from({ length: count }, () => randomUUID())
  const principals = ids.map<Principal>((infrastructureId) => ({
    userId: randomUUID(),
    role: 'member',
    grants: [{ infrastructureId, businessId: null }],
  }))
  const tokens = ids.map(() => `bench_${randomBytes(16).toString('hex')}`)
  const tokensFile = join(dir, 'tokens.json')
  writeFileSync(tokensFile, JSON.stringify(Object.fromEntries(tokens.map((t, i) => [t, principals[i]]))))
  return { ids, principals, tokens, tokensFile }
}

/** Creates the tenants' `bench` channels (in-app, a built-in type) through a facade. */
export async function createChannels(messaging: Messaging, tenants: HttpTenants): Promise<void> {
  const admin: Principal = {
    userId: randomUUID(),
    role: 'infra_admin',
    grants: tenants.ids.map((infrastructureId) => ({ infrastructureId, businessId: null })),
  }
  for (const infrastructureId of tenants.ids)
    await messaging.createChannel(admin, {
      infrastructureId,
      channelKey: 'bench',
      type: 'in_app',
      config: {},
    })
}

/** A fresh module database (from the template) and its app login's URL. */
export async function moduleDatabase(
  server: BenchServer,
  database: string,
  template: string,
): Promise<string> {
  await server.createDatabase(database, template)
  return server.urlFor(database, BENCH_ROLES.app, BENCH_ROLES.password)
}

/** The facade in this process on the same store `messaging serve` uses (the CLI's defaults). */
export async function facadeOn(store: { postgres: string } | { sqlite: string }): Promise<Messaging> {
  if ('sqlite' in store) return createMessaging({ sqlitePath: store.sqlite })
  return createMessaging({ storage: await createPostgresStorage({ connectionString: store.postgres }) })
}

export interface ServeProcess {
  readonly url: string
  readonly pid: number
  stop(): Promise<void>
}

/**
 * `messaging serve` as an operator runs it (HTTP only, no worker), in its own process, on
 * a free port; resolves once it prints where it listens.
 */
export async function startServe(
  store: { postgres: string } | { sqlite: string },
  tokensFile: string,
  /** Node options for the child (e.g. `--cpu-prof` to profile it). */
  nodeArgs: readonly string[] = [],
): Promise<ServeProcess> {
  const args = [
    ...nodeArgs,
    join('bin', 'messaging.mjs'),
    'serve',
    ...('sqlite' in store ? ['--sqlite', store.sqlite] : ['--database-url', store.postgres]),
    '--tokens',
    tokensFile,
    '--port',
    '0',
    '--no-worker',
    '--log-level',
    'warn',
  ]
  const child: ChildProcess = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DATABASE_URL: '' },
  })
  let out = ''
  let err = ''
  child.stderr!.on('data', (d) => {
    err = (err + d).slice(-4000)
  })
  const url = await new Promise<string>((resolve, reject) => {
    // Start-up compiles the TypeScript sources: its own budget, apart from any measurement.
    const timer = setTimeout(() => reject(new Error(`messaging serve did not start in 60 s: ${err}`)), 60_000)
    child.stdout!.on('data', (d) => {
      out += d
      const m = /messaging listening on (\S+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`messaging serve exited with ${code}: ${err}`))
    })
  })
  return {
    url,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}

/** POST /queue over keep-alive connections, `sockets` at most. */
export function httpEnqueuer(url: string, sockets: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: sockets })
  const target = new URL(`${url}/queue`)
  return {
    enqueue(token: string, infrastructureId: string, t: number, s: number): Promise<void> {
      const body = JSON.stringify({ infrastructureId, channelKey: 'bench', payload: payloadOf(t, s) })
      return post(body, token, true)
    },
    close() {
      agent.destroy()
    },
  }
  /**
   * One POST. A kept-alive socket that sat idle about as long as the server's keep-alive
   * timeout (5 s) can be closed by the server just as a request goes out on it: the slices
   * of other lanes run meanwhile, so that request is sent again once, on a fresh socket
   * (the server never read it, so nothing was enqueued twice).
   */
  function post(body: string, token: string, retry: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = request(
        target,
        {
          method: 'POST',
          agent,
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          let text = ''
          res.setEncoding('utf8')
          res.on('data', (c) => {
            text += c
          })
          res.on('end', () =>
            res.statusCode === 201
              ? resolve()
              : reject(new Error(`POST /queue: ${res.statusCode} ${text.slice(0, 300)}`)),
          )
        },
      )
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (retry && req.reusedSocket && e.code === 'ECONNRESET')
          post(body, token, false).then(resolve, reject)
        else reject(e)
      })
      req.end(body)
    })
  }
}
