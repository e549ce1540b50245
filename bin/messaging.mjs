#!/usr/bin/env node
// The `messaging` command. In a checkout (src/ present) it runs the TypeScript sources
// through tsx, so it never runs a stale build; an installed package (dist/ only) runs the
// compiled JavaScript.
import { existsSync } from 'node:fs'

const source = new URL('../src/cli/main.ts', import.meta.url)
const compiled = new URL('../dist/esm/cli/main.js', import.meta.url)

let entry = compiled
if (existsSync(source)) {
  try {
    const { register } = await import('tsx/esm/api')
    register()
    entry = source
  } catch {
    // No tsx (installed without dev dependencies): fall back to the build.
  }
}
if (!existsSync(entry)) {
  process.stderr.write(
    'messaging: no build found; run `npm run build` (or install dev dependencies for tsx)\n',
  )
  process.exit(1)
}
const { main } = await import(entry.href)
const code = await main(process.argv.slice(2))
// A failed command has said why and has nothing left to do: whatever it had opened before
// failing (a pool's idle socket, a half-started listener) must not keep the process alive.
if (code !== 0) process.exit(code)
process.exitCode = code
