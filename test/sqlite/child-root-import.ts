/**
 * Run with `node --import tsx`: reports whether better-sqlite3 (a native module) was
 * loaded after importing the root entry, after wiring a host's own store, and after
 * wiring the default store. Prints one JSON line.
 */
import { createRequire } from 'node:module'

const loaded = () =>
  Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('better-sqlite3'))

const { createMessaging } = await import('../../src/index.js')
const { createMemoryStorage } = await import('../../src/adapters/memory/index.js')
const afterImport = loaded()
await createMessaging({ storage: createMemoryStorage() }).close()
const withOwnStorage = loaded()
await createMessaging().close()
const withDefault = loaded()
process.stdout.write(`${JSON.stringify({ afterImport, withOwnStorage, withDefault })}\n`)
