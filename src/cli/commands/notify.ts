import type { Command } from 'commander'
import type { NotifyInput } from '../../domain/notify-inputs.js'
import { CliError, type CliIo, collect, principalOf } from '../context.js'
import { parseDuration, table } from '../format.js'
import { type ActorOptions, actorOptions, oneInfra, withMessaging } from './shared.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** `messaging notify` and `messaging notification`: one event to people, and where it stands. */
export function registerNotify(program: Command, io: CliIo): void {
  actorOptions(program.command('notify'))
    .description(
      "Notify people of one event: one message per recipient and channel their preferences allow, in the category's channels",
    )
    .requiredOption('--category <key>', 'the category: invoice.paid')
    .option('--to <uuid>', 'a recipient user (repeatable)', collect)
    .option('--to-channel <uuid|key>', 'the channel whose opted-in members are the recipients (a topic)')
    .option(
      '--data <json>',
      'the event data, a JSON object (every message carries it; templates render it)',
      '{}',
    )
    .option('--business <uuid>', 'the business inside the infrastructure')
    .option('--idempotency-key <key>', 'a repeat returns the first notification and writes nothing')
    .option('--delay <duration>', 'due after this long: 30s, 5m, 1h')
    .option('--json', 'print JSON')
    .action(
      async (
        opts: ActorOptions & {
          category: string
          to?: string[]
          toChannel?: string
          data: string
          business?: string
          idempotencyKey?: string
          delay?: string
        },
      ) => {
        const principal = principalOf(opts)
        const infrastructureId = oneInfra(opts, principal)
        if ((opts.to === undefined) === (opts.toChannel === undefined))
          throw new CliError('name the recipients with --to <uuid> (repeatable) or --to-channel <key>')
        let data: unknown
        try {
          data = JSON.parse(opts.data)
        } catch {
          throw new CliError('--data must be a JSON object')
        }
        const delay = opts.delay === undefined ? 0 : parseDuration(opts.delay)
        if (delay === null) throw new CliError('--delay is a duration: 30s, 5m, 1h')
        const to = opts.to
          ? { users: opts.to }
          : UUID.test(opts.toChannel!)
            ? { channelId: opts.toChannel! }
            : { channelKey: opts.toChannel! }
        await withMessaging(opts, io, async (m) => {
          const input: NotifyInput = {
            infrastructureId,
            category: opts.category,
            to,
            data: data as NotifyInput['data'],
            ...(opts.business && { businessId: opts.business }),
            ...(opts.idempotencyKey && { idempotencyKey: opts.idempotencyKey }),
            ...(delay > 0 && { availableAt: new Date(Date.now() + delay) }),
          }
          const { notification: n, created } = await m.notify(principal, input)
          if (opts.json) {
            io.out(`${JSON.stringify({ created, notification: n })}\n`)
            return
          }
          io.out(
            `${created ? 'notified' : 'already notified (idempotency key)'} ${n.id}: ${n.recipientCount} recipient${
              n.recipientCount === 1 ? '' : 's'
            }, ${n.messageCount} message${n.messageCount === 1 ? '' : 's'}, ${n.skippedCount} skipped\n`,
          )
        })
      },
    )

  actorOptions(program.command('notification'))
    .description(
      'Where a notification stands: each recipient x channel with its state, attempts and last error',
    )
    .argument('<id>', 'the notification id')
    .option('--state <state>', 'only deliveries in this state: pending, delivered, failed, dead, skipped')
    .option('--limit <n>', 'deliveries per page (at most 1000)', '1000')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: ActorOptions & { state?: string; limit: string }) => {
      const principal = principalOf(opts)
      const infrastructureId = oneInfra(opts, principal)
      await withMessaging(opts, io, async (m) => {
        const status = await m.getNotification(principal, {
          infrastructureId,
          notificationId: id,
          limit: Number(opts.limit),
          ...(opts.state && { state: opts.state as never }),
        })
        if (opts.json) {
          io.out(`${JSON.stringify(status, null, 2)}\n`)
          return
        }
        const c = status.counts
        io.out(
          `notification ${status.notification.id} (${status.notification.categoryKey}): ${c.delivered} delivered, ${c.pending} pending, ${c.failed} failed, ${c.dead} dead, ${c.skipped} skipped\n`,
        )
        io.out(
          `${table(
            ['user', 'channel', 'state', 'reason', 'attempts', 'last error'],
            status.deliveries.map((d) => [
              d.userId,
              d.channelType,
              d.state,
              d.reason ?? '',
              d.attempts,
              d.lastError ?? '',
            ]),
          )}\n`,
        )
      })
    })
}
