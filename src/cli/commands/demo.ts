import type { Command } from 'commander'
import { type CliIo, integer } from '../context.js'
import { runDemo } from '../demo/scenario.js'

export function registerDemo(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  program
    .command('demo')
    .description(
      'Run the module end to end on SQLite with loopback receivers: two tenants, every built-in channel type, a burst through HTTP, the worker, a redrive, and a delivery report (exit 0 when all went as planned)',
    )
    .option('--db <file>', 'use (and keep) this SQLite file instead of a temporary one')
    .option('--keep', 'keep the temporary directory with the SQLite file')
    .option('--memory', 'run on the memory store instead of SQLite')
    .option('--serve', 'after the report, keep serving HTTP and delivering until Ctrl-C')
    .option('--port <n>', 'HTTP port (0: any free one)', integer(0), 0)
    .option('--scale <n>', 'multiply the burst (1 to 7)', integer(1), 1)
    .option('--timeout-ms <n>', 'give up waiting for deliveries after this long', integer(1000), 45_000)
    .option('--log-level <level>', 'pino level of the logs on stderr', 'warn')
    .action(
      async (opts: {
        db?: string
        keep?: boolean
        memory?: boolean
        serve?: boolean
        port: number
        scale: number
        timeoutMs: number
        logLevel: string
      }) => {
        setExitCode(
          await runDemo(
            {
              ...(opts.db !== undefined && { db: opts.db }),
              keep: opts.keep === true,
              memory: opts.memory === true,
              serve: opts.serve === true,
              port: opts.port,
              scale: Math.min(7, opts.scale),
              timeoutMs: opts.timeoutMs,
              logLevel: opts.logLevel,
            },
            io,
          ),
        )
      },
    )
}
