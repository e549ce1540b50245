import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { InvalidArgumentError } from 'commander'
import { type Logger, pino } from 'pino'
import { createMessaging, type MessagingOptions } from '../container.js'
import type { DestinationPolicy } from '../domain/destinations.js'
import { ValidationError } from '../domain/errors.js'
import { type Principal, principalSchema } from '../domain/tenant-scope.js'
import type { Messaging } from '../messaging.js'
import type { MessagingStorage } from '../ports/unit-of-work.js'

/** Where a command writes: the process streams, or a test's buffers. */
export interface CliIo {
  readonly out: (text: string) => void
  readonly err: (text: string) => void
  /** True when `err` is a terminal (progress redraws in place). */
  readonly tty: boolean
  readonly env: Readonly<Record<string, string | undefined>>
}

export const processIo = (): CliIo => ({
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  tty: process.stderr.isTTY === true,
  env: process.env,
})

/** A command's failure with an exit code and a one-line message (no stack for the operator). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message)
  }
}

export interface StoreOptions {
  readonly sqlite?: string
  readonly databaseUrl?: string
}

/** The default SQLite file of the commands that touch a store, relative to the working directory. */
export const DEFAULT_SQLITE_FILE = 'messaging.db'

/** The store a command runs on: `--database-url`/DATABASE_URL (PostgreSQL) unless `--sqlite` is given; else SQLite. */
export function describeStore(
  opts: StoreOptions,
  env: CliIo['env'],
): { kind: 'postgres' | 'sqlite'; target: string } {
  if (opts.sqlite !== undefined) return { kind: 'sqlite', target: opts.sqlite }
  const url = opts.databaseUrl ?? env.DATABASE_URL
  if (url) return { kind: 'postgres', target: url }
  return { kind: 'sqlite', target: env.MESSAGING_SQLITE ?? DEFAULT_SQLITE_FILE }
}

/** Opens the facade on the chosen store (PostgreSQL's driver is loaded only when used). */
export async function openMessaging(
  opts: StoreOptions,
  env: CliIo['env'],
  extra: Omit<MessagingOptions, 'storage' | 'sqlitePath'> & { allowPrivilegedRole?: boolean } = {},
): Promise<Messaging> {
  const store = describeStore(opts, env)
  const { allowPrivilegedRole, ...options } = extra
  if (store.kind === 'sqlite') return createMessaging({ ...options, sqlitePath: store.target })
  const { createPostgresStorage } = await import('../adapters/postgres/index.js')
  const storage: MessagingStorage = await createPostgresStorage({
    connectionString: store.target,
    ...(allowPrivilegedRole && { allowPrivilegedRole }),
  })
  return createMessaging({ ...options, storage })
}

/** A store address fit for a log line: a connection string loses its password. */
export function redactTarget(target: string): string {
  return target.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@')
}

/** The operator's fixed actor id in audit entries written by the CLI, unless `--principal` names another. */
export const CLI_ACTOR_ID = '00000000-0000-4000-8000-00000000c11e'

/**
 * The principal a command acts as: `--principal` (JSON, or `@file`), else a `service`
 * principal with an infrastructure-wide grant for each `--infra`.
 */
export function principalOf(opts: { principal?: string; infra?: string[] }): Principal {
  if (opts.principal !== undefined) {
    const text = opts.principal.startsWith('@')
      ? readFileSync(opts.principal.slice(1), 'utf8')
      : opts.principal
    let raw: unknown
    try {
      raw = JSON.parse(text)
    } catch {
      throw new CliError(
        '--principal must be JSON: {"userId","role","grants":[{"infrastructureId","businessId"}]}',
      )
    }
    const parsed = principalSchema.safeParse(raw)
    if (!parsed.success)
      throw new CliError(
        `--principal: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      )
    return parsed.data
  }
  const infra = opts.infra ?? []
  if (infra.length === 0) throw new CliError('give --infra <uuid> (repeatable) or --principal <json>')
  return {
    userId: CLI_ACTOR_ID,
    role: 'service',
    grants: infra.map((infrastructureId) => ({ infrastructureId, businessId: null })),
  }
}

export const collect = (value: string, previous: string[] = []): string[] => [...previous, value]

/** A repeatable port option: `--allow-port 8443 --allow-port 9000`. */
export const ports = (value: string, previous: number[] = []): number[] => {
  if (!/^\d{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535)
    throw new InvalidArgumentError('must be a port number, 1 to 65535')
  return [...previous, Number(value)]
}

/** The destination allow-list of `--allow-range` and `--allow-port`: channels are checked against it on save, deliveries by the SSRF guard. */
export function destinationsOf(opts: { allowRange?: string[]; allowPort?: number[] }): DestinationPolicy {
  return {
    ...(opts.allowRange?.length && { allowedRanges: opts.allowRange }),
    ...(opts.allowPort?.length && { allowedPorts: opts.allowPort }),
  }
}

/** A commander parser of whole numbers not below `min`: `--concurrency abc` is refused before anything runs. */
export const integer =
  (min: number) =>
  (value: string): number => {
    if (!/^\d{1,9}$/.test(value) || Number(value) < min)
      throw new InvalidArgumentError(`must be a whole number, at least ${min}`)
    return Number(value)
  }

/** A pino logger on stderr (JSON lines; pipe through pino-pretty to read them). */
export function createLogger(level: string, io: CliIo): Logger {
  return pino(
    { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    { write: (line: string) => io.err(line) },
  )
}

/** A one-line text for an error: the module's code and message, or a generic one. */
export function describeError(e: unknown): string {
  if (e instanceof CliError) return e.message
  if (e instanceof ValidationError) return `VALIDATION_FAILED: ${e.message}`
  if (e instanceof Error && typeof (e as { code?: unknown }).code === 'string')
    return `${(e as unknown as { code: string }).code}: ${e.message}`
  return e instanceof Error ? e.message : String(e)
}

export const newId = (): string => randomUUID()
