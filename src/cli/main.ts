import { Command, CommanderError } from 'commander'
import { registerChannel } from './commands/channel.js'
import { registerDemo } from './commands/demo.js'
import { registerEventEndpoint } from './commands/event-endpoint.js'
import { registerMember } from './commands/member.js'
import { registerNotify } from './commands/notify.js'
import { registerOps } from './commands/ops.js'
import { registerServe } from './commands/serve.js'
import { registerWorker } from './commands/worker.js'
import { CliError, type CliIo, describeError, processIo } from './context.js'

/** The `messaging` command line, its commands wired to `io`. */
export function buildProgram(io: CliIo, setExitCode: (code: number) => void = () => {}): Command {
  const program = new Command('messaging')
    .description(
      'Multi-tenant messaging: run the delivery worker, serve the HTTP surface, migrate PostgreSQL, inspect and redrive queues, or run the demo.\nStores: --sqlite <file> (the default, ./messaging.db) or PostgreSQL through DATABASE_URL.',
    )
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError('(add --help for usage)')
  registerDemo(program, io, setExitCode)
  registerWorker(program, io)
  registerServe(program, io)
  registerOps(program, io)
  registerChannel(program, io)
  registerMember(program, io)
  registerEventEndpoint(program, io)
  registerNotify(program, io)
  const configure = (c: Command): void => {
    c.exitOverride().configureOutput({ writeOut: io.out, writeErr: io.err })
    for (const sub of c.commands) configure(sub)
  }
  for (const c of program.commands) configure(c)
  return program
}

/**
 * Runs the command line and resolves to its exit code (the caller exits).
 *
 * @example
 * process.exitCode = await main(process.argv.slice(2))
 */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  let code = 0
  const program = buildProgram(io, (c) => {
    code = c
  })
  try {
    await program.parseAsync([...argv], { from: 'user' })
    return code
  } catch (e) {
    // Help and --version exit 0; every other commander error is a usage error.
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2
    io.err(`messaging: ${describeError(e)}\n`)
    return e instanceof CliError ? e.exitCode : 1
  }
}
