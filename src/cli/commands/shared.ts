import { type Command, InvalidArgumentError } from 'commander'
import { channelKeySchema } from '../../domain/channel.js'
import type { Principal } from '../../domain/tenant-scope.js'
import type { Messaging } from '../../messaging.js'
import {
  CliError,
  type CliIo,
  collectUuids,
  isUuid,
  openMessaging,
  type StoreOptions,
  UsageError,
} from '../context.js'

/** Flags of the commands that act as a principal on one store. */
export interface ActorOptions extends StoreOptions {
  principal?: string
  infra?: string[]
  json?: boolean
}

export const storeOptions = (c: Command): Command =>
  c
    .option('--sqlite <file>', 'SQLite database file (default: DATABASE_URL when set, else ./messaging.db)')
    .option('--database-url <url>', 'PostgreSQL connection string (default: DATABASE_URL)')

export const actorOptions = (c: Command, role = 'a service principal'): Command =>
  storeOptions(c)
    .option('--infra <uuid>', `act as ${role} of this infrastructure (repeatable)`, collectUuids)
    .option('--principal <json>', 'act as this principal instead (JSON or @file)')

/** A commander parser of `--channel <uuid|key>`: a UUID, or a key in the domain's format. */
export const channelRef = (value: string): string => {
  if (isUuid(value)) return value.toLowerCase()
  const parsed = channelKeySchema.safeParse(value)
  if (!parsed.success)
    throw new InvalidArgumentError(`must be a channel id (UUID) or key: ${parsed.error.issues[0]?.message}`)
  return value
}

/**
 * Opens an existing store, runs `fn`, closes the store whatever happened. `create: true`
 * lets a set-up command start a new SQLite file.
 */
export async function withMessaging<T>(
  opts: StoreOptions,
  io: CliIo,
  fn: (m: Messaging) => Promise<T>,
  extra: { allowPrivilegedRole?: boolean; existing?: boolean } = {},
): Promise<T> {
  const messaging = await openMessaging(opts, io.env, { existing: true, ...extra })
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
  throw new UsageError('name the infrastructure with --infra <uuid>')
}

/** A channel's id from `--channel <uuid|key>` (a key is looked up in the infrastructure). */
export async function channelIdOf(
  m: Messaging,
  p: Principal,
  infrastructureId: string,
  ref: string,
): Promise<string> {
  if (isUuid(ref)) return ref
  const channels = await m.listChannels(p, { infrastructureId })
  const hit = channels.find((c) => c.channelKey === ref)
  if (!hit) throw new CliError(`no channel ${ref} in infrastructure ${infrastructureId}`)
  return hit.id
}
