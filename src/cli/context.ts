import { randomUUID } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { InvalidArgumentError } from 'commander'
import { type Logger, pino } from 'pino'
import { createMessaging, type MessagingOptions } from '../container.js'
import type { DestinationPolicy } from '../domain/destinations.js'
import { ValidationError } from '../domain/errors.js'
import { type Principal, principalSchema } from '../domain/tenant-scope.js'
import type { Messaging } from '../messaging.js'
import type { MessagingStorage } from '../ports/unit-of-work.js'
import { createSecretBox, secretKeysFromEnv } from '../secrets/secret-box.js'
import { humanLogLine, terminalOf } from './terminal.js'

/** Where a command writes: the process streams, or a test's buffers. */
export interface CliIo {
  readonly out: (text: string) => void
  readonly err: (text: string) => void
  /** True when `err` is a terminal (progress redraws in place). */
  readonly tty: boolean
  readonly env: Readonly<Record<string, string | undefined>>
  /** All of standard input as text (a config with secrets piped in: `--config-file -`). */
  readonly readStdin?: () => Promise<string>
}

export const processIo = (): CliIo => ({
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  tty: process.stderr.isTTY === true,
  env: process.env,
  readStdin: async () => {
    const chunks: Buffer[] = []
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks).toString('utf8')
  },
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

/**
 * The command line itself was wrong (a flag's value, a missing or conflicting flag): exit 2,
 * as commander's own usage errors, so scripts tell a typo from a failure of the store.
 */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 2)
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

/**
 * Opens the facade on the chosen store (PostgreSQL's driver is loaded only when used). With
 * `existing`, a SQLite file must be there already: a command that reads or operates a queue
 * never creates a database at a mistyped path and reports it empty.
 */
export async function openMessaging(
  opts: StoreOptions,
  env: CliIo['env'],
  extra: Omit<MessagingOptions, 'storage' | 'sqlitePath'> & {
    allowPrivilegedRole?: boolean
    existing?: boolean
  } = {},
): Promise<Messaging> {
  const store = describeStore(opts, env)
  const { allowPrivilegedRole, existing, ...rest } = extra
  // The command's environment (a test's, or the process's) holds the sealing keys.
  const options =
    rest.secrets === undefined && env.MESSAGING_SECRET_KEYS
      ? { ...rest, secrets: createSecretBox(secretKeysFromEnv(env)) }
      : rest
  if (store.kind === 'sqlite') {
    if (existing && store.target !== ':memory:' && !existsSync(store.target)) {
      throw new CliError(
        `no SQLite database at ${store.target}: this command opens an existing one only (\`messaging channel create\` or \`messaging serve\` starts one)`,
      )
    }
    return createMessaging({ ...options, sqlitePath: store.target })
  }
  const { createPostgresStorage } = await import('../adapters/postgres/index.js')
  const storage: MessagingStorage = await createPostgresStorage({
    connectionString: store.target,
    // The owner's commands (retention, the security log) run their statements as the owner too.
    ...(allowPrivilegedRole && { allowPrivilegedRole, ownerConnectionString: store.target }),
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
 * The principal a command acts as: `--principal` (JSON, or `@file`), else a principal of
 * `role` (a `service` for queue operations, an `infra_admin` for set-up) with an
 * infrastructure-wide grant for each `--infra`.
 */
export function principalOf(
  opts: { principal?: string; infra?: string[] },
  role: Principal['role'] = 'service',
): Principal {
  if (opts.principal !== undefined) {
    let text = opts.principal
    if (text.startsWith('@')) {
      try {
        text = readFileSync(text.slice(1), 'utf8')
      } catch (e) {
        throw new CliError(`--principal: cannot read ${text.slice(1)}: ${(e as Error).message}`)
      }
    }
    let raw: unknown
    try {
      raw = JSON.parse(text)
    } catch {
      throw new UsageError(
        '--principal must be JSON: {"userId","role","grants":[{"infrastructureId","businessId"}]}',
      )
    }
    const parsed = principalSchema.safeParse(raw)
    if (!parsed.success)
      throw new UsageError(
        `--principal: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      )
    return parsed.data
  }
  const infra = opts.infra ?? []
  if (infra.length === 0) throw new UsageError('give --infra <uuid> (repeatable) or --principal <json>')
  return {
    userId: CLI_ACTOR_ID,
    role,
    grants: infra.map((infrastructureId) => ({ infrastructureId, businessId: null })),
  }
}

export const collect = (value: string, previous: string[] = []): string[] => [...previous, value]

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** A commander parser of a UUID flag: `--infra not-a-uuid` is refused naming the flag, exit 2. */
export const uuid = (value: string): string => {
  if (!UUID.test(value)) throw new InvalidArgumentError('must be a UUID')
  return value.toLowerCase()
}

/** `uuid`, repeatable. */
export const collectUuids = (value: string, previous: string[] = []): string[] => [...previous, uuid(value)]

export const isUuid = (value: string): boolean => UUID.test(value)

/**
 * Runs `fn`; a validation error of the facade whose fields all came from flags is reported as
 * a usage error naming the flags (`--channel: must be a lower-case slug`), not the input's
 * field names.
 */
export async function asFlags<T>(flags: Readonly<Record<string, string>>, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (e) {
    if (!(e instanceof ValidationError)) throw e
    const named = e.issues.map((i) => {
      // No sealing key configured is the environment's fault, not the flag's.
      if (i.rule === 'secret_key_required') return null
      const flag = flags[i.path.split('.')[0] ?? '']
      return flag === undefined ? null : `${flag}${i.path.includes('.') ? ` (${i.path})` : ''}: ${i.message}`
    })
    if (named.some((n) => n === null)) throw e
    throw new UsageError(named.join('; '))
  }
}

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

/**
 * A pino logger on stderr. JSON lines for pipes and files (what log shippers read); on a
 * terminal, readable lines that leave the status line intact (`MESSAGING_LOG_FORMAT=json`
 * keeps JSON there too).
 */
export function createLogger(level: string, io: CliIo): Logger {
  const terminal = terminalOf(io)
  const human = io.tty && io.env.MESSAGING_LOG_FORMAT !== 'json'
  const color = human && io.env.NO_COLOR === undefined
  return pino(
    { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    { write: (line: string) => terminal.line(human ? humanLogLine(line, color) : line) },
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
