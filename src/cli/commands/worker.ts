import type { Command } from 'commander'
import { createDeliveryWorker, createEventDispatcher } from '../../worker/index.js'
import {
  type CliIo,
  collect,
  createLogger,
  describeStore,
  destinationsOf,
  integer,
  openMessaging,
  ports,
  principalOf,
  redactTarget,
  type StoreOptions,
} from '../context.js'
import { shutdownSignal } from '../signals.js'
import { builtinTransports, relayFromUrl } from '../transports.js'

interface WorkerOptions extends StoreOptions {
  principal?: string
  infra?: string[]
  concurrency: number
  pollMs: number
  leaseMs: number
  graceMs: number
  allowHttp?: boolean
  allowRange?: string[]
  allowPort?: number[]
  logLevel: string
  statusWebhooks: boolean
}

export function registerWorker(program: Command, io: CliIo): void {
  program
    .command('worker')
    .description(
      'Run a delivery worker with the built-in transports (in-app, webhook, email, SMS) until SIGTERM or SIGINT, then shut down cleanly',
    )
    .option('--sqlite <file>', 'SQLite database file (default: DATABASE_URL when set, else ./messaging.db)')
    .option('--database-url <url>', 'PostgreSQL connection string (default: DATABASE_URL)')
    .option(
      '--principal <json>',
      'serve the tenants of this service principal (JSON or @file); default: a fleet worker for every tenant',
    )
    .option('--infra <uuid>', 'serve this infrastructure as a service principal (repeatable)', collect)
    .option('--concurrency <n>', 'deliveries in flight at once', integer(1), 10)
    .option('--poll-ms <n>', 'idle poll interval', integer(10), 1000)
    .option('--lease-ms <n>', 'lease per claim (renewed while delivering)', integer(1000), 30_000)
    .option(
      '--grace-ms <n>',
      'on shutdown, in-flight deliveries get this long before they are released',
      integer(0),
      10_000,
    )
    .option('--allow-http', 'permit http:// webhook and SMS provider URLs')
    .option(
      '--allow-range <cidr>',
      'let channels reach this private range, any port (checked on save and by the SSRF guard; repeatable)',
      collect,
    )
    .option('--allow-port <n>', 'let channels use this port besides 80 and 443 (repeatable)', ports, [])
    .option('--log-level <level>', 'pino level', 'info')
    .option('--no-status-webhooks', "do not send the tenants' events to their status webhook endpoints")
    .addHelpText(
      'after',
      '\nEnvironment: DATABASE_URL, MESSAGING_SECRET_KEYS (opens sealed channel credentials), SMTP_URL (relay for email channels without their own).',
    )
    .action(async (opts: WorkerOptions) => {
      const log = createLogger(opts.logLevel, io)
      const store = describeStore(opts, io.env)
      const scoped = opts.principal !== undefined || (opts.infra?.length ?? 0) > 0
      const messaging = await openMessaging(opts, io.env, { destinations: destinationsOf(opts) })
      const relay = relayFromUrl(io.env.SMTP_URL)
      const worker = createDeliveryWorker({
        messaging,
        ...(scoped ? { principal: principalOf(opts) } : { fleet: true }),
        transports: builtinTransports(messaging, {
          ...(opts.allowHttp && { allowHttp: true }),
          ...(relay && { relay }),
        }),
        concurrency: opts.concurrency,
        pollIntervalMs: opts.pollMs,
        leaseMs: opts.leaseMs,
        shutdownGraceMs: opts.graceMs,
        logger: log,
      })
      // Status webhooks go out from the same process, for the same tenants, through the same
      // destination policy (docs/live.md, "Status webhooks").
      const dispatcher = opts.statusWebhooks
        ? createEventDispatcher({
            messaging,
            ...(scoped ? { principal: principalOf(opts) } : { fleet: true, workerId: worker.workerId }),
            ...(opts.allowHttp && { allowHttp: true }),
            pollIntervalMs: opts.pollMs,
            logger: log,
          })
        : null
      // Without keys nothing sealed opens: say so once at start (and per channel as its
      // messages are held), rather than let an operator find untouched messages later.
      if (!io.env.MESSAGING_SECRET_KEYS)
        log.warn(
          { setting: 'MESSAGING_SECRET_KEYS' },
          'MESSAGING_SECRET_KEYS is not set: messages of channels with sealed credentials (webhook secrets, SMTP passwords, SMS keys) are held, no attempt spent, until a worker with the key takes them',
        )
      const shutdown = shutdownSignal((name) => log.info({ signal: name }, 'shutting down'))
      log.info(
        { workerId: worker.workerId, store: store.kind, target: redactTarget(store.target), fleet: !scoped },
        'worker started',
      )
      dispatcher?.start()
      try {
        await worker.run(shutdown.signal)
      } finally {
        await dispatcher?.stop()
        shutdown.dispose()
        await messaging.close()
      }
      log.info({ workerId: worker.workerId }, 'worker stopped')
    })
}
