import type { Command } from 'commander'
import {
  asFlags,
  type CliIo,
  collect,
  createLogger,
  describeStore,
  integer,
  isUuid,
  principalOf,
  redactTarget,
  type StoreOptions,
  UsageError,
  uuid,
} from '../context.js'
import { ms, parseDuration, table } from '../format.js'
import {
  type ActorOptions,
  actorOptions,
  channelIdOf,
  channelRef,
  oneInfra,
  storeOptions,
  withMessaging,
} from './shared.js'

export function registerOps(program: Command, io: CliIo): void {
  program
    .command('migrate')
    .description("Apply the PostgreSQL migrations in sql/ (run with the tables' owner rights)")
    .option('--database-url <url>', "the owner's connection string (default: DATABASE_URL)")
    .action(async (opts: { databaseUrl?: string }) => {
      const url = opts.databaseUrl ?? io.env.DATABASE_URL
      if (!url)
        throw new UsageError('migrate needs --database-url or DATABASE_URL (SQLite migrates itself on open)')
      const log = createLogger('info', io)
      const { migrate } = await import('../../adapters/postgres/index.js')
      const { applied } = await migrate({ connectionString: url })
      log.info({ target: redactTarget(url), applied }, 'migrated')
      io.out(applied.length ? `applied ${applied.join(', ')}\n` : 'already up to date\n')
    })

  actorOptions(program.command('stats'))
    .description(
      'Queue health per tenant and channel: pending, in flight, processed, failed, dead, cancelled, oldest pending age, held in digests',
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
              'cancelled',
              'confirmed',
              'bounced',
              'oldest pending',
              'in digests',
            ],
            stats.map((s) => [
              s.infrastructureId,
              keys.get(s.channelId) ?? s.channelId,
              s.pending,
              s.inFlight,
              s.processed,
              s.failed,
              s.dead,
              s.cancelled,
              s.confirmed,
              s.bounced,
              s.oldestPendingAgeMs === null ? '-' : ms(s.oldestPendingAgeMs),
              s.digested,
            ]),
          )}\n`,
        )
      })
    })

  actorOptions(program.command('redrive'))
    .description(
      'Send dead (or failed) messages round again: one message, or every dead message of a channel',
    )
    .option('--message <uuid>', 'one dead or failed message', uuid)
    .option(
      '--channel <uuid|key>',
      'every dead message of this channel (failed ones are not moved: give each with --message)',
      channelRef,
    )
    .action(async (opts: ActorOptions & { message?: string; channel?: string }) => {
      if ((opts.message === undefined) === (opts.channel === undefined))
        throw new UsageError('give exactly one of --message or --channel')
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
          // A channel redrive moves dead messages only (their attempts ran out); failed ones
          // failed for good (a permanent error, a channel's secrets that did not open on an
          // older worker ...) and are redriven one by one, on purpose: say so, with the count.
          const failed = (await m.stats(principal, { infrastructureId }))
            .filter((x) => x.channelId === channelId)
            .reduce((n, x) => n + x.failed, 0)
          if (failed > 0)
            io.out(
              `${failed} failed message${failed === 1 ? '' : 's'} of channel ${opts.channel} not moved: a channel redrive moves dead messages only; redrive a failed one with --message <uuid> (list them: GET /messages?status=failed)\n`,
            )
        }
      })
    })

  actorOptions(program.command('cancel'))
    .description(
      'Cancel messages nobody holds yet: one message, a notification, or what an idempotency key produced (a message a worker holds is left to it)',
    )
    .option('--message <uuid>', 'one message', uuid)
    .option('--notification <uuid>', 'every message of a notification', uuid)
    .option('--idempotency-key <key>', 'what this key produced (with --business when it was used in one)')
    .option('--business <uuid>', 'the business the idempotency key was used in', uuid)
    .option('--json', 'print JSON')
    .action(
      async (
        opts: ActorOptions & {
          message?: string
          notification?: string
          idempotencyKey?: string
          business?: string
        },
      ) => {
        if (
          [opts.message, opts.notification, opts.idempotencyKey].filter((x) => x !== undefined).length !== 1
        )
          throw new UsageError('give exactly one of --message, --notification or --idempotency-key')
        const principal = principalOf(opts)
        const infrastructureId = oneInfra(opts, principal)
        await withMessaging(opts, io, async (m) => {
          const flags = {
            messageId: '--message',
            notificationId: '--notification',
            idempotencyKey: '--idempotency-key',
            businessId: '--business',
          }
          const r = await asFlags(flags, () =>
            m.cancel(principal, {
              infrastructureId,
              ...(opts.message !== undefined && { messageId: opts.message }),
              ...(opts.notification !== undefined && { notificationId: opts.notification }),
              ...(opts.idempotencyKey !== undefined && { idempotencyKey: opts.idempotencyKey }),
              ...(opts.business !== undefined && { businessId: opts.business }),
            }),
          )
          if (opts.json) {
            const brief = (x: { id: string; status: string }) => ({ id: x.id, status: x.status })
            io.out(`${JSON.stringify({ cancelled: r.cancelled.map(brief), kept: r.kept.map(brief) })}\n`)
            return
          }
          for (const x of r.cancelled) io.out(`cancelled ${x.id}\n`)
          // Kept: held by a worker right now (its delivery settles it), or settled before.
          for (const x of r.kept) io.out(`kept ${x.id} (${x.status})\n`)
        })
      },
    )

  actorOptions(program.command('reschedule'))
    .description("Move a pending message's due time")
    .requiredOption('--message <uuid>', 'the pending message', uuid)
    .option('--delay <duration>', 'due this long from now: 30s, 5m, 1h (0s: at once)')
    .option('--at <date>', 'due at this ISO date')
    .action(async (opts: ActorOptions & { message: string; delay?: string; at?: string }) => {
      if ((opts.delay === undefined) === (opts.at === undefined))
        throw new UsageError('give exactly one of --delay or --at')
      let availableAt: Date
      if (opts.delay !== undefined) {
        const delay = parseDuration(opts.delay)
        if (delay === null) throw new UsageError('--delay is a duration: 30s, 5m, 1h')
        availableAt = new Date(Date.now() + delay)
      } else {
        availableAt = new Date(opts.at!)
        if (Number.isNaN(availableAt.getTime()))
          throw new UsageError('--at is an ISO date: 2026-12-24T18:00:00Z')
      }
      const principal = principalOf(opts)
      const infrastructureId = oneInfra(opts, principal)
      await withMessaging(opts, io, async (m) => {
        const msg = await asFlags({ messageId: '--message', availableAt: '--at' }, () =>
          m.reschedule(principal, { infrastructureId, messageId: opts.message, availableAt }),
        )
        io.out(`rescheduled ${msg.id} (due ${msg.availableAt.toISOString()})\n`)
      })
    })

  actorOptions(program.command('audit'))
    .description(
      "The tenant's audit trail, newest first; --target <id> finds who queued a message (its own entry or its batch's)",
    )
    .option(
      '--target <id>',
      "entries about this target: a message's id also finds the batch entry that lists it",
    )
    .option('--action <action>', 'one action only: outbox.enqueue, channel.create, ...')
    .option('--limit <n>', 'at most this many entries (1 to 1000)', integer(1), 100)
    .option('--json', 'print JSON')
    .action(async (opts: ActorOptions & { target?: string; action?: string; limit: number }) => {
      const principal = principalOf(opts)
      const infrastructureId = oneInfra(opts, principal)
      await withMessaging(opts, io, async (m) => {
        const entries = await asFlags({ targetId: '--target', action: '--action', limit: '--limit' }, () =>
          m.listAudit(principal, {
            infrastructureId,
            limit: opts.limit,
            ...(opts.target !== undefined && { targetId: opts.target }),
            ...(opts.action !== undefined && { action: opts.action }),
          }),
        )
        if (opts.json) {
          io.out(`${JSON.stringify(entries, null, 2)}\n`)
          return
        }
        if (entries.length === 0) {
          io.out('no audit entries\n')
          return
        }
        io.out(
          `${table(
            ['at', 'actor', 'role', 'action', 'target', 'outcome', 'messages'],
            entries.map((e) => {
              const ids = e.details?.messageIds
              return [
                e.at.toISOString(),
                e.actorId,
                e.actorRole,
                e.action,
                e.targetId ?? '-',
                e.errorCode ? `${e.outcome} (${e.errorCode})` : e.outcome,
                Array.isArray(ids) ? ids.length : '-',
              ]
            }),
          )}\n`,
        )
      })
    })

  actorOptions(program.command('events'))
    .description(
      "The tenant's delivery events, oldest first; --after <cursor> pages on from the last one shown",
    )
    .option('--after <cursor>', "events after this one's cursor (the last column)")
    .option('--type <type>', 'one type only: message.delivered, message.dead, ...')
    .option('--limit <n>', 'at most this many events (1 to 1000)', integer(1), 100)
    .option('--json', 'print JSON')
    .action(async (opts: ActorOptions & { after?: string; type?: string; limit: number }) => {
      const principal = principalOf(opts)
      const infrastructureId = oneInfra(opts, principal)
      await withMessaging(opts, io, async (m) => {
        const events = await asFlags({ after: '--after', type: '--type', limit: '--limit' }, () =>
          m.listEvents(principal, {
            infrastructureId,
            limit: opts.limit,
            ...(opts.after !== undefined && { after: opts.after }),
            ...(opts.type !== undefined && { type: opts.type as never }),
          }),
        )
        if (opts.json) {
          io.out(`${JSON.stringify(events, null, 2)}\n`)
          return
        }
        if (events.length === 0) {
          io.out('no events\n')
          return
        }
        io.out(
          `${table(
            ['at', 'type', 'message', 'notification', 'cursor'],
            events.map((e) => [
              e.occurredAt.toISOString(),
              e.type,
              e.messageId ?? '-',
              e.notificationId ?? '-',
              e.cursor,
            ]),
          )}\n`,
        )
      })
    })

  actorOptions(program.command('enqueue'))
    .description('Append one message to the outbox')
    .requiredOption('--channel <uuid|key>', 'the channel', channelRef)
    .requiredOption('--payload <json>', 'the payload, any JSON value')
    .option('--business <uuid>', 'the business inside the infrastructure', uuid)
    .option(
      '--recipient <address>',
      'a recipient (repeatable): user id, email address or E.164 number',
      collect,
    )
    .option('--idempotency-key <key>', 'a repeat returns the first message')
    .option('--delay <duration>', 'due after this long: 30s, 5m, 1h')
    .option('--priority <priority>', "high, normal or low: its place in the tenant's queue")
    .option(
      '--ordering-key <key>',
      "delivered after the tenant's earlier messages with this key, one at a time",
    )
    .option('--json', 'print JSON')
    .action(
      async (
        opts: ActorOptions & {
          priority?: string
          orderingKey?: string
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
          throw new UsageError('--payload must be JSON')
        }
        const delay = opts.delay === undefined ? 0 : parseDuration(opts.delay)
        if (delay === null) throw new UsageError('--delay is a duration: 30s, 5m, 1h')
        await withMessaging(opts, io, async (m) => {
          const channel = isUuid(opts.channel) ? { channelId: opts.channel } : { channelKey: opts.channel }
          const flags = {
            channelId: '--channel',
            channelKey: '--channel',
            payload: '--payload',
            businessId: '--business',
            recipients: '--recipient',
            idempotencyKey: '--idempotency-key',
            availableAt: '--delay',
            priority: '--priority',
            orderingKey: '--ordering-key',
          }
          const { message, created } = await asFlags(flags, () =>
            m.enqueue(principal, {
              infrastructureId,
              ...channel,
              payload: payload as never,
              ...(opts.business && { businessId: opts.business }),
              ...(opts.recipient && { recipients: opts.recipient }),
              ...(opts.idempotencyKey && { idempotencyKey: opts.idempotencyKey }),
              ...(delay > 0 && { availableAt: new Date(Date.now() + delay) }),
              ...(opts.priority !== undefined && { priority: opts.priority as never }),
              ...(opts.orderingKey !== undefined && { orderingKey: opts.orderingKey }),
            }),
          )
          io.out(
            opts.json
              ? `${JSON.stringify({ id: message.id, created, status: message.status })}\n`
              : `${created ? 'enqueued' : 'already enqueued (idempotency key)'} ${message.id}\n`,
          )
        })
      },
    )

  storeOptions(program.command('security-log'))
    .description(
      "Refusals outside each caller's scope (a tenant it holds no grant on), counted per caller, action, code and hour, newest first (host rights, no principal; on PostgreSQL the owner's connection)",
    )
    .option(
      '--since <duration|date>',
      'rows with a refusal at or after: a duration back (24h, 7d) or an ISO date',
    )
    .option('--actor <uuid>', "one caller's rows")
    .option('--limit <n>', 'at most this many rows (1 to 1000)', integer(1), 100)
    .option('--json', 'print JSON')
    .action(
      async (opts: StoreOptions & { since?: string; actor?: string; limit: number; json?: boolean }) => {
        let since: Date | undefined
        if (opts.since !== undefined) {
          const duration = parseDuration(opts.since)
          since = duration !== null ? new Date(Date.now() - duration) : new Date(opts.since)
          if (Number.isNaN(since.getTime()))
            throw new UsageError('--since is a duration (24h) or an ISO date')
        }
        const store = describeStore(opts, io.env)
        // No app role may read the log: on PostgreSQL it is read as the tables' owner.
        const events = await withMessaging(
          opts,
          io,
          (m) =>
            m.listSecurityEvents({
              limit: opts.limit,
              ...(since && { since }),
              ...(opts.actor !== undefined && { actorId: opts.actor }),
            }),
          { allowPrivilegedRole: store.kind === 'postgres' },
        )
        if (opts.json) {
          io.out(`${JSON.stringify(events, null, 2)}\n`)
          return
        }
        if (events.length === 0) {
          io.out("no refusals outside a caller's scope\n")
          return
        }
        io.out(
          `${table(
            ['hour (UTC)', 'caller', 'role', 'action', 'code', 'refusals', 'last at', 'last tenant named'],
            events.map((e) => [
              e.windowStart.toISOString().slice(0, 13),
              e.actorId,
              e.actorRole,
              e.action,
              e.errorCode,
              e.refusals,
              e.lastAt.toISOString(),
              e.lastInfrastructureId,
            ]),
          )}\n`,
        )
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
        throw new UsageError('--older-than is a duration (30d) or an ISO date')
      const cutOff = date !== null ? { olderThan: date } : { olderThanMs: duration! }
      const store = describeStore(opts, io.env)
      // Retention deletes what the application's role may not: on PostgreSQL it runs as the owner.
      const removed = await withMessaging(
        opts,
        io,
        (m) => m.prune({ ...cutOff, batchSize: opts.batchSize }),
        { allowPrivilegedRole: store.kind === 'postgres', existing: true },
      )
      const when = date !== null ? date.toISOString() : `${opts.olderThan} ago by the store's clock`
      io.out(`pruned ${removed} message${removed === 1 ? '' : 's'} settled before ${when}\n`)
    })
}
