import type { Command } from 'commander'
import type { Principal } from '../../domain/tenant-scope.js'
import type { Messaging } from '../../messaging.js'
import {
  CliError,
  type CliIo,
  collect,
  createLogger,
  describeStore,
  integer,
  openMessaging,
  principalOf,
  redactTarget,
  type StoreOptions,
} from '../context.js'
import { ms, parseDuration, table } from '../format.js'

export interface ActorOptions extends StoreOptions {
  principal?: string
  infra?: string[]
  json?: boolean
}

const storeOptions = (c: Command) =>
  c
    .option('--sqlite <file>', 'SQLite database file (default: DATABASE_URL when set, else ./messaging.db)')
    .option('--database-url <url>', 'PostgreSQL connection string (default: DATABASE_URL)')

export const actorOptions = (c: Command) =>
  storeOptions(c)
    .option('--infra <uuid>', 'act as a service principal of this infrastructure (repeatable)', collect)
    .option('--principal <json>', 'act as this principal instead (JSON or @file)')

/** Opens the store, runs `fn`, closes the store whatever happened. */
export async function withMessaging<T>(
  opts: StoreOptions,
  io: CliIo,
  fn: (m: Messaging) => Promise<T>,
  extra: { allowPrivilegedRole?: boolean } = {},
): Promise<T> {
  const messaging = await openMessaging(opts, io.env, extra)
  try {
    return await fn(messaging)
  } finally {
    await messaging.close()
  }
}

/** The one infrastructure a command is about: `--infra`, or the principal's only one. */
export function oneInfra(opts: ActorOptions, principal: Principal): string {
  if (opts.infra?.length === 1) return opts.infra[0]!
  const ids = [...new Set(principal.grants.map((g) => g.infrastructureId))]
  if (ids.length === 1) return ids[0]!
  throw new CliError('name the infrastructure with --infra <uuid>')
}

async function channelIdOf(
  m: Messaging,
  p: Principal,
  infrastructureId: string,
  ref: string,
): Promise<string> {
  if (/^[0-9a-f-]{36}$/i.test(ref)) return ref
  const channels = await m.listChannels(p, { infrastructureId })
  const hit = channels.find((c) => c.channelKey === ref)
  if (!hit) throw new CliError(`no channel ${ref} in infrastructure ${infrastructureId}`)
  return hit.id
}

export function registerOps(program: Command, io: CliIo): void {
  program
    .command('migrate')
    .description("Apply the PostgreSQL migrations in sql/ (run with the tables' owner rights)")
    .option('--database-url <url>', "the owner's connection string (default: DATABASE_URL)")
    .action(async (opts: { databaseUrl?: string }) => {
      const url = opts.databaseUrl ?? io.env.DATABASE_URL
      if (!url)
        throw new CliError('migrate needs --database-url or DATABASE_URL (SQLite migrates itself on open)')
      const log = createLogger('info', io)
      const { migrate } = await import('../../adapters/postgres/index.js')
      const { applied } = await migrate({ connectionString: url })
      log.info({ target: redactTarget(url), applied }, 'migrated')
      io.out(applied.length ? `applied ${applied.join(', ')}\n` : 'already up to date\n')
    })

  actorOptions(program.command('stats'))
    .description(
      'Queue health per tenant and channel: pending, in flight, processed, failed, dead, oldest pending age',
    )
    .option('--json', 'print JSON')
    .action(async (opts: ActorOptions) => {
      const principal = principalOf(opts)
      await withMessaging(opts, io, async (m) => {
        const stats = await m.stats(
          principal,
          opts.infra?.length === 1 ? { infrastructureId: opts.infra[0]! } : {},
        )
        if (opts.json) {
          io.out(`${JSON.stringify(stats, null, 2)}\n`)
          return
        }
        const keys = new Map<string, string>()
        for (const infrastructureId of new Set(stats.map((s) => s.infrastructureId))) {
          for (const c of await m.listChannels(principal, { infrastructureId })) keys.set(c.id, c.channelKey)
        }
        io.out(
          `${table(
            [
              'infrastructure',
              'channel',
              'pending',
              'in flight',
              'processed',
              'failed',
              'dead',
              'oldest pending',
            ],
            stats.map((s) => [
              s.infrastructureId,
              keys.get(s.channelId) ?? s.channelId,
              s.pending,
              s.inFlight,
              s.processed,
              s.failed,
              s.dead,
              s.oldestPendingAgeMs === null ? '-' : ms(s.oldestPendingAgeMs),
            ]),
          )}\n`,
        )
      })
    })

  actorOptions(program.command('redrive'))
    .description(
      'Send dead (or failed) messages round again: one message, or every dead message of a channel',
    )
    .option('--message <uuid>', 'one dead or failed message')
    .option('--channel <uuid|key>', 'every dead message of this channel')
    .action(async (opts: ActorOptions & { message?: string; channel?: string }) => {
      if ((opts.message === undefined) === (opts.channel === undefined))
        throw new CliError('give exactly one of --message or --channel')
      const principal = principalOf(opts)
      const infrastructureId = oneInfra(opts, principal)
      await withMessaging(opts, io, async (m) => {
        if (opts.message !== undefined) {
          const msg = await m.redrive(principal, { infrastructureId, messageId: opts.message })
          io.out(`redriven ${msg.id} (now ${msg.status})\n`)
        } else {
          const channelId = await channelIdOf(m, principal, infrastructureId, opts.channel!)
          const { redriven } = await m.redriveChannel(principal, { infrastructureId, channelId })
          io.out(`redriven ${redriven} dead message${redriven === 1 ? '' : 's'} of channel ${opts.channel}\n`)
        }
      })
    })

  actorOptions(program.command('enqueue'))
    .description('Append one message to the outbox')
    .requiredOption('--channel <uuid|key>', 'the channel')
    .requiredOption('--payload <json>', 'the payload, any JSON value')
    .option('--business <uuid>', 'the business inside the infrastructure')
    .option(
      '--recipient <address>',
      'a recipient (repeatable): user id, email address or E.164 number',
      collect,
    )
    .option('--idempotency-key <key>', 'a repeat returns the first message')
    .option('--delay <duration>', 'due after this long: 30s, 5m, 1h')
    .option('--json', 'print JSON')
    .action(
      async (
        opts: ActorOptions & {
          channel: string
          payload: string
          business?: string
          recipient?: string[]
          idempotencyKey?: string
          delay?: string
        },
      ) => {
        const principal = principalOf(opts)
        const infrastructureId = oneInfra(opts, principal)
        let payload: unknown
        try {
          payload = JSON.parse(opts.payload)
        } catch {
          throw new CliError('--payload must be JSON')
        }
        const delay = opts.delay === undefined ? 0 : parseDuration(opts.delay)
        if (delay === null) throw new CliError('--delay is a duration: 30s, 5m, 1h')
        await withMessaging(opts, io, async (m) => {
          const channel = /^[0-9a-f-]{36}$/i.test(opts.channel)
            ? { channelId: opts.channel }
            : { channelKey: opts.channel }
          const { message, created } = await m.enqueue(principal, {
            infrastructureId,
            ...channel,
            payload: payload as never,
            ...(opts.business && { businessId: opts.business }),
            ...(opts.recipient && { recipients: opts.recipient }),
            ...(opts.idempotencyKey && { idempotencyKey: opts.idempotencyKey }),
            ...(delay > 0 && { availableAt: new Date(Date.now() + delay) }),
          })
          io.out(
            opts.json
              ? `${JSON.stringify({ id: message.id, created, status: message.status })}\n`
              : `${created ? 'enqueued' : 'already enqueued (idempotency key)'} ${message.id}\n`,
          )
        })
      },
    )

  storeOptions(program.command('prune'))
    .description(
      'Retention: delete processed, failed and dead messages settled before a cut-off (host rights, no principal)',
    )
    .requiredOption('--older-than <duration|date>', 'a duration (30d, 12h) or an ISO date')
    .option('--batch-size <n>', 'rows per statement', integer(1), 1000)
    .action(async (opts: StoreOptions & { olderThan: string; batchSize: number }) => {
      // A duration is an age the store takes back from its own clock (the database's on
      // PostgreSQL), so a host with a fast clock prunes nothing early; a date is the host's.
      const duration = parseDuration(opts.olderThan)
      const date = duration === null ? new Date(opts.olderThan) : null
      if (date !== null && Number.isNaN(date.getTime()))
        throw new CliError('--older-than is a duration (30d) or an ISO date')
      const cutOff = date !== null ? { olderThan: date } : { olderThanMs: duration! }
      const store = describeStore(opts, io.env)
      // Retention deletes what the application's role may not: on PostgreSQL it runs as the owner.
      const removed = await withMessaging(
        opts,
        io,
        (m) => m.prune({ ...cutOff, batchSize: opts.batchSize }),
        { allowPrivilegedRole: store.kind === 'postgres' },
      )
      const when = date !== null ? date.toISOString() : `${opts.olderThan} ago by the store's clock`
      io.out(`pruned ${removed} message${removed === 1 ? '' : 's'} settled before ${when}\n`)
    })
}
