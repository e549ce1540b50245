import { main } from '../../src/cli/main.js'

/** Runs the command line in process with captured output and exactly the given environment. */
export function runCli(
  env: Record<string, string>,
  ...argv: string[]
): Promise<{ code: number; out: string; err: string }> {
  return runCliWithInput(env, null, ...argv)
}

/** As `runCli`, with `stdin` as the whole of standard input (null: none to read). */
export async function runCliWithInput(
  env: Record<string, string>,
  stdin: string | null,
  ...argv: string[]
): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  const code = await main(argv, {
    out: (t) => {
      out += t
    },
    err: (t) => {
      err += t
    },
    tty: false,
    env,
    ...(stdin !== null && { readStdin: async () => stdin }),
  })
  return { code, out, err }
}
