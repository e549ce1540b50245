import { type Command, InvalidArgumentError } from 'commander'
import { EVENT_TYPES, type EventType } from '../../domain/events.js'
import { asFlags, type CliIo, principalOf, uuid } from '../context.js'
import { table } from '../format.js'
import { type ActorOptions, actorOptions, oneInfra, withMessaging } from './shared.js'

const FLAGS = { url: '--url', eventTypes: '--type', endpointId: '--endpoint', enabled: '--disabled' }

/** `--type <event type>`, repeatable: one of EVENT_TYPES. */
const eventType = (value: string, previous: EventType[] = []): EventType[] => {
  if (!(EVENT_TYPES as readonly string[]).includes(value))
    throw new InvalidArgumentError(`must be one of ${EVENT_TYPES.join(', ')}`)
  return [...previous, value as EventType]
}

export function registerEventEndpoint(program: Command, io: CliIo): void {
  const cmd = program
    .command('event-endpoint')
    .description("Register, list and remove a tenant's status webhook endpoints (as its infra_admin)")

  actorOptions(cmd.command('add'), 'an infra_admin')
    .description(
      "POST the tenant's delivery events to a URL, signed per Standard Webhooks; prints the secret once",
    )
    .requiredOption('--url <url>', 'the receiver (https; http where the worker runs with --allow-http)')
    .option(
      '--type <event type>',
      'send only events of this type (repeatable; default every type)',
      eventType,
    )
    .option('--disabled', 'register it disabled')
    .option('--json', 'print { endpoint, secret } as JSON')
    .action(async (opts: ActorOptions & { url: string; type?: EventType[]; disabled?: boolean }) => {
      const principal = principalOf(opts, 'infra_admin')
      const infrastructureId = oneInfra(opts, principal)
      await withMessaging(opts, io, async (m) => {
        const made = await asFlags(FLAGS, () =>
          m.createEventEndpoint(principal, {
            infrastructureId,
            url: opts.url,
            ...(opts.type && { eventTypes: opts.type }),
            ...(opts.disabled && { enabled: false }),
          }),
        )
        io.out(
          opts.json
            ? `${JSON.stringify(made, null, 2)}\n`
            : `endpoint ${made.endpoint.id} (${made.endpoint.status})\nsigning secret (shown once): ${made.secret}\n`,
        )
      })
    })

  actorOptions(cmd.command('list'), 'an infra_admin')
    .description("The tenant's endpoints with their state (never a secret)")
    .option('--json', 'print JSON')
    .action(async (opts: ActorOptions) => {
      const principal = principalOf(opts, 'infra_admin')
      const infrastructureId = oneInfra(opts, principal)
      await withMessaging(opts, io, async (m) => {
        const rows = await m.listEventEndpoints(principal, { infrastructureId })
        io.out(
          opts.json
            ? `${JSON.stringify(rows, null, 2)}\n`
            : `${table(
                ['id', 'url', 'types', 'status', 'attempts', 'last error'],
                rows.map((e) => [
                  e.id,
                  e.url,
                  e.eventTypes?.join(',') ?? '(all)',
                  e.status,
                  e.attempts,
                  e.lastError ?? '-',
                ]),
              )}\n`,
        )
      })
    })

  actorOptions(cmd.command('remove'), 'an infra_admin')
    .description('Remove an endpoint')
    .requiredOption('--endpoint <uuid>', 'the endpoint id', uuid)
    .action(async (opts: ActorOptions & { endpoint: string }) => {
      const principal = principalOf(opts, 'infra_admin')
      const infrastructureId = oneInfra(opts, principal)
      await withMessaging(opts, io, async (m) => {
        await m.deleteEventEndpoint(principal, { infrastructureId, endpointId: opts.endpoint })
        io.out(`removed endpoint ${opts.endpoint}\n`)
      })
    })
}
