import { afterAll } from 'vitest'

// Test files share one module graph per worker (vitest.config.ts), and some set
// process.env (a secret key for the worker processes they start). Each file gets back the
// environment it started with, so a key one file set is not in the next file's process.
const before = { ...process.env }

afterAll(() => {
  for (const name of Object.keys(process.env)) if (!(name in before)) delete process.env[name]
  Object.assign(process.env, before)
})
