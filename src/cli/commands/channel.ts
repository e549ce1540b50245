import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { type ChannelView, configValueAt, REDACTED } from '../../domain/channel.js'
import type { Messaging } from '../../messaging.js'
import { asFlags, CliError, type CliIo, integer, principalOf, UsageError } from '../context.js'
import { table } from '../format.js'
import {
  type ActorOptions,
  actorOptions,
  channelIdOf,
  channelRef,
  oneInfra,
  withMessaging,
} from './shared.js'

interface ConfigOptions {
  config?: string
  configFile?: string
}

/** The flag each input field came from. */
const channelFlags = (opts: ConfigOptions) => ({
  channelKey: '--key',
  type: '--type',
  name: '--name',
  config: opts.configFile !== undefined ? '--config-file' : '--config',
  maxAttempts: '--max-attempts',
  channelId: '--channel',
})

/** Parses a config's JSON; an object or nothing. */
function parseConfig(text: string, flag: string): Record<string, unknown> {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    throw new UsageError(`${flag} must be a JSON object`)
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new UsageError(`${flag} must be a JSON object`)
  return raw as Record<string, unknown>
}

/**
 * The config from `--config <json>` or `--config-file <file|->`. Secrets come only from a file
 * or standard input: an argument is visible to every user of the machine (ps, /proc) and kept
 * in shell history, so `--config` with a value at one of the type's secret paths is refused.
 */
async function readConfig(
  opts: ConfigOptions,
  io: CliIo,
  secretPaths: readonly string[],
): Promise<Record<string, unknown> | undefined> {
  if (opts.config !== undefined && opts.configFile !== undefined)
    throw new UsageError('give --config or --config-file, not both')
  if (opts.config !== undefined) {
    const config = parseConfig(opts.config, '--config')
    const inline = secretPaths.filter((p) => {
      // The redaction marker (what a read showed) keeps the stored secret: not a secret itself.
      const v = configValueAt(config, p)
      const marker = v === REDACTED || (Array.isArray(v) && v.every((x) => x === REDACTED))
      return v !== undefined && v !== null && !marker
    })
    if (inline.length > 0) {
      throw new UsageError(
        `--config holds the secret ${inline.join(', ')}: secrets never go on the command line, where other users and the shell history see them; put the config in a file (--config-file <file>) or pipe it in (--config-file -)`,
      )
    }
    return config
  }
  if (opts.configFile === undefined) return undefined
  if (opts.configFile === '-') {
    if (!io.readStdin) throw new UsageError('--config-file -: no standard input to read')
    return parseConfig(await io.readStdin(), '--config-file (standard input)')
  }
  let text: string
  try {
    text = readFileSync(opts.configFile, 'utf8')
  } catch (e) {
    throw new CliError(`--config-file: cannot read ${opts.configFile}: ${(e as Error).message}`)
  }
  return parseConfig(text, `--config-file ${opts.configFile}`)
}

function secretPathsOf(m: Messaging, type: string): readonly string[] {
  if (!m.channelTypes.types().includes(type))
    throw new UsageError(`--type: unknown channel type ${type} (known: ${m.channelTypes.types().join(', ')})`)
  return m.channelTypes.get(type).secretPaths
}

function printChannel(io: CliIo, verb: string, c: ChannelView, json: boolean | undefined): void {
  if (json) io.out(`${JSON.stringify(c, null, 2)}\n`)
  else
    io.out(
      `${verb} channel ${c.channelKey} (${c.type}${c.enabled ? '' : ', disabled'}) ${c.id}\nconfig: ${JSON.stringify(c.config)}\n`,
    )
}

export function registerChannel(program: Command, io: CliIo): void {
  const channel = program
    .command('channel')
    .description('Create, configure and list the channels of an infrastructure (as its infra_admin)')

  actorOptions(channel.command('create'), 'an infra_admin')
    .description(
      'Create a channel. Its config comes from --config <json> (no secrets) or --config-file <file|-> (secrets allowed; - reads standard input); secrets are sealed with MESSAGING_SECRET_KEYS',
    )
    .requiredOption('--key <key>', 'the channel key, unique in the infrastructure (a lower-case slug)')
    .requiredOption('--type <type>', 'in_app, email, sms, webhook or a custom type')
    .option('--name <text>', 'a display name')
    .option('--config <json>', 'the config as JSON, without secrets')
    .option('--config-file <file|->', 'the config from a JSON file, or - for standard input')
    .option(
      '--max-attempts <n>',
      'attempts before a message is dead (default: the module default)',
      integer(1),
    )
    .option('--disabled', 'create it disabled (nothing is delivered until it is enabled)')
    .option('--json', 'print the channel as JSON')
    .action(
      async (
        opts: ActorOptions &
          ConfigOptions & {
            key: string
            type: string
            name?: string
            maxAttempts?: number
            disabled?: boolean
          },
      ) => {
        const principal = principalOf(opts, 'infra_admin')
        const infrastructureId = oneInfra(opts, principal)
        // Creating a channel is how a store is set up: it may start a new SQLite file.
        await withMessaging(
          opts,
          io,
          async (m) => {
            const config = await readConfig(opts, io, secretPathsOf(m, opts.type))
            const created = await asFlags(channelFlags(opts), () =>
              m.createChannel(principal, {
                infrastructureId,
                channelKey: opts.key,
                type: opts.type,
                ...(opts.name !== undefined && { name: opts.name }),
                ...(config && { config }),
                ...(opts.maxAttempts !== undefined && { maxAttempts: opts.maxAttempts }),
                ...(opts.disabled && { enabled: false }),
              }),
            )
            printChannel(io, 'created', created, opts.json)
          },
          { existing: false },
        )
      },
    )

  actorOptions(channel.command('configure'), 'an infra_admin')
    .description(
      'Change a channel: name, config (replaced whole; "[redacted]" at a secret path keeps the stored secret), enabled, attempts',
    )
    .requiredOption('--channel <uuid|key>', 'the channel', channelRef)
    .option('--name <text>', 'a display name')
    .option('--config <json>', 'the new config as JSON, without secrets')
    .option('--config-file <file|->', 'the new config from a JSON file, or - for standard input')
    .option('--enable', 'deliver its messages')
    .option('--disable', 'hold its messages (they wait, their attempts untouched)')
    .option('--max-attempts <n>', 'attempts before a message is dead', integer(1))
    .option('--json', 'print the channel as JSON')
    .action(
      async (
        opts: ActorOptions &
          ConfigOptions & {
            channel: string
            name?: string
            enable?: boolean
            disable?: boolean
            maxAttempts?: number
          },
      ) => {
        if (opts.enable && opts.disable) throw new UsageError('give --enable or --disable, not both')
        const principal = principalOf(opts, 'infra_admin')
        const infrastructureId = oneInfra(opts, principal)
        await withMessaging(opts, io, async (m) => {
          const channelId = await channelIdOf(m, principal, infrastructureId, opts.channel)
          const current = await m.getChannel(principal, { infrastructureId, channelId })
          const config = await readConfig(opts, io, secretPathsOf(m, current.type))
          if (
            config === undefined &&
            opts.name === undefined &&
            !opts.enable &&
            !opts.disable &&
            opts.maxAttempts === undefined
          )
            throw new UsageError(
              'nothing to change: give --name, --config, --config-file, --enable, --disable or --max-attempts',
            )
          const changed = await asFlags(channelFlags(opts), () =>
            m.configureChannel(principal, {
              infrastructureId,
              channelId,
              ...(opts.name !== undefined && { name: opts.name }),
              ...(config && { config }),
              ...((opts.enable || opts.disable) && { enabled: opts.enable === true }),
              ...(opts.maxAttempts !== undefined && { maxAttempts: opts.maxAttempts }),
            }),
          )
          printChannel(io, 'configured', changed, opts.json)
        })
      },
    )

  actorOptions(channel.command('list'), 'an infra_admin')
    .description('The channels of the infrastructure (secrets redacted)')
    .option('--json', 'print JSON')
    .action(async (opts: ActorOptions) => {
      const principal = principalOf(opts, 'infra_admin')
      const infrastructureId = oneInfra(opts, principal)
      await withMessaging(opts, io, async (m) => {
        const channels = await m.listChannels(principal, { infrastructureId })
        if (opts.json) {
          io.out(`${JSON.stringify(channels, null, 2)}\n`)
          return
        }
        io.out(
          `${table(
            ['key', 'type', 'enabled', 'max attempts', 'id', 'name'],
            channels.map((c) => [
              c.channelKey,
              c.type,
              c.enabled ? 'yes' : 'no',
              c.maxAttempts === null ? '-' : String(c.maxAttempts),
              c.id,
              c.name ?? '',
            ]),
          )}\n`,
        )
      })
    })
}
