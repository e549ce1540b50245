import type { Command } from 'commander'
import { createDeliveryWorker, createEventDispatcher } from '../../worker/index.js'
import {
  CliError,
  type CliIo,
  collect,
  createLogger,
  describeStore,
  destinationsOf,
  integer,
  openMessaging,
  ports,
  redactTarget,
  type StoreOptions,
} from '../context.js'
import { demoTokens, identitiesOf, readTokensFile, startServer, type TokenMap } from '../server.js'
import { shutdownSignal } from '../signals.js'
import { storeStateLog } from '../store-state.js'
import { builtinTransports, relayFromUrl } from '../transports.js'

interface ServeOptions extends StoreOptions {
  port: number
  host: string
  basePath?: string
  tokens?: string
  worker: boolean
  quota?: string
  allowHttp?: boolean
  allowRange?: string[]
  allowPort?: number[]
  logLevel: string
}

/** `100/10`: a burst of 100 enqueue calls per tenant, refilled at 10 per second. */
function parseQuota(text: string): { capacity: number; refillPerSecond: number } {
  const m = /^(\d+)\/(\d+(?:\.\d+)?)$/.exec(text)
  if (!m) throw new CliError('--quota is <burst>/<per second>, e.g. 100/10')
  return { capacity: Number(m[1]), refillPerSecond: Number(m[2]) }
}

export function registerServe(program: Command, io: CliIo): void {
  program
    .command('serve')
    .description('Serve the HTTP surface (and a delivery worker in the same process) until SIGTERM or SIGINT')
    .option('--sqlite <file>', 'SQLite database file (default: DATABASE_URL when set, else ./messaging.db)')
    .option('--database-url <url>', 'PostgreSQL connection string (default: DATABASE_URL)')
    .option('--port <n>', 'port (0: any free one)', integer(0), 8787)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--base-path <path>', 'route prefix (default /functions/v1/messaging)')
    .option(
      '--tokens <file>',
      'JSON file of bearer token -> principal; without it, demo tokens for a fresh tenant are printed',
    )
    .option('--no-worker', 'serve HTTP only (run `messaging worker` elsewhere)')
    .option('--quota <burst/perSecond>', 'per-tenant enqueue quota on POST /queue, e.g. 100/10')
    .option('--allow-http', 'permit http:// webhook and SMS provider URLs')
    .option(
      '--allow-range <cidr>',
      'let channels reach this private range, any port (checked on save and by the SSRF guard; repeatable)',
      collect,
    )
    .option('--allow-port <n>', 'let channels use this port besides 80 and 443 (repeatable)', ports, [])
    .option('--log-level <level>', 'pino level', 'info')
    .action(async (opts: ServeOptions) => {
      const log = createLogger(opts.logLevel, io)
      const store = describeStore(opts, io.env)
      let tokens: TokenMap
      let demo: ReturnType<typeof demoTokens> | null = null
      if (opts.tokens) tokens = readTokensFile(opts.tokens)
      else {
        demo = demoTokens()
        tokens = demo.tokens
      }
      // A PostgreSQL server that is down does not stop the start: requests answer 503 with
      // Retry-After and the worker retries with capped backoff until it is back.
      const messaging = await openMessaging(opts, io.env, { destinations: destinationsOf(opts) })
      const storeState = storeStateLog(log)
      const server = await startServer({
        messaging,
        tokens,
        host: opts.host,
        port: opts.port,
        ...(opts.basePath !== undefined && { basePath: opts.basePath }),
        ...(opts.quota && { enqueueQuota: parseQuota(opts.quota) }),
        onError: (e) => storeState.failed(e),
        onAnswer: (status) => storeState.answered(status),
        // Demo tokens are offered in the page's picker; real ones never are.
        ui: demo ? { identities: identitiesOf(demo.tokens) } : {},
      })
      const relay = relayFromUrl(io.env.SMTP_URL)
      const worker = opts.worker
        ? createDeliveryWorker({
            messaging,
            fleet: true,
            transports: builtinTransports(messaging, {
              ...(opts.allowHttp && { allowHttp: true }),
              ...(relay && { relay }),
            }),
            logger: log,
          })
        : null
      // The worker's process also sends the tenants' status webhooks (docs/live.md).
      const dispatcher = worker
        ? createEventDispatcher({
            messaging,
            fleet: true,
            workerId: worker.workerId,
            ...(opts.allowHttp && { allowHttp: true }),
            logger: log,
          })
        : null
      const shutdown = shutdownSignal((name) => log.info({ signal: name }, 'shutting down'))
      log.info(
        {
          url: server.url,
          store: store.kind,
          target: redactTarget(store.target),
          worker: worker?.workerId ?? null,
        },
        'listening',
      )
      io.out(`messaging listening on ${server.url}\n`)
      if (server.uiUrl) io.out(`web components: ${server.uiUrl}\n`)
      if (demo) {
        io.out(`demo tenant ${demo.infrastructureId}; tokens (role: token):\n`)
        for (const [token, p] of demo.tokens) io.out(`  ${p.role.padEnd(11)} ${token}\n`)
        const admin = [...demo.tokens].find(([, p]) => p.role === 'infra_admin')![0]
        io.out(
          `try:\n  curl -s -H 'authorization: Bearer ${admin}' '${server.url}/channels?infrastructureId=${demo.infrastructureId}'\n`,
        )
      }
      dispatcher?.start()
      const running = worker ? worker.run(shutdown.signal) : Promise.resolve()
      await new Promise<void>((resolve) =>
        shutdown.signal.addEventListener('abort', () => resolve(), { once: true }),
      )
      await server.close()
      await running
      await dispatcher?.stop()
      shutdown.dispose()
      await messaging.close()
      log.info({}, 'stopped')
    })
}
