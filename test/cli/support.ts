import { main } from '../../src/cli/main.js'

/** Runs the command line in process with captured output and exactly the given environment. */
export async function runCli(
  env: Record<string, string>,
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
  })
  return { code, out, err }
}
