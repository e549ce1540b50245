/**
 * A delivery-worker OS process for the digest crash test, run with `node --import tsx`:
 *
 *   digest-crash-worker.ts sqlite <file> <name> [latch]
 *   digest-crash-worker.ts postgres <connectionString> <name> [latch]
 *
 * The crash worker of crash-worker.ts (real webhook transport, a 2 s lease), over the real
 * store. With `latch`, the store's digest close is wrapped: once the close statement ran,
 * inside its still-open transaction, the process prints "closing <digest id>" and waits
 * forever, so the test can kill it right there. Prints "ready", starts on "go".
 */
import { createWebhookTransport } from '../../src/adapters/transports/webhook/index.js'
import { createMessaging } from '../../src/index.js'
import type { DigestRepository } from '../../src/ports/digest-repository.js'
import type { MessagingStorage, Repositories } from '../../src/ports/unit-of-work.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { waitForGo } from '../support/start-gate.js'

const [kind, target, name, latch] = process.argv.slice(2) as ['sqlite' | 'postgres', string, string, string?]

async function storageFor(): Promise<MessagingStorage> {
  if (kind === 'sqlite') {
    const { createSqliteStorage } = await import('../../src/adapters/sqlite/index.js')
    return createSqliteStorage({ path: target, busyTimeoutMs: 20_000 })
  }
  const { createPostgresStorage } = await import('../../src/adapters/postgres/index.js')
  return createPostgresStorage({ connectionString: target }) as unknown as MessagingStorage
}

/** The store, its digest close stopping inside the transaction (the latch). */
function latched(storage: MessagingStorage): MessagingStorage {
  const digests = (inner: DigestRepository): DigestRepository =>
    new Proxy(inner, {
      get(t, key) {
        if (key !== 'close') {
          const v = Reflect.get(t, key, t)
          return typeof v === 'function' ? v.bind(t) : v
        }
        return async (...args: Parameters<DigestRepository['close']>) => {
          const closed = await t.close(...args)
          process.stdout.write(`closing ${args[2]}\n`)
          return new Promise<never>(() => closed)
        }
      },
    })
  const unitOfWork = {
    run: <T>(
      scope: Parameters<MessagingStorage['unitOfWork']['run']>[0],
      work: (r: Repositories) => Promise<T>,
    ) => storage.unitOfWork.run(scope, (r) => work({ ...r, digests: digests(r.digests) })),
  }
  return new Proxy(storage, {
    get(t, key) {
      if (key === 'unitOfWork') return unitOfWork
      const v = Reflect.get(t, key, t)
      return typeof v === 'function' ? v.bind(t) : v
    },
  })
}

const plain = await storageFor()
const storage = latch === 'latch' ? latched(plain) : plain
const messaging = createMessaging({ storage })
const worker = createDeliveryWorker({
  messaging,
  fleet: true,
  transports: [
    createWebhookTransport({
      allowHttp: true,
      ssrf: { allowedRanges: ['127.0.0.0/8'] },
      userAgent: `crash-test/${name}`,
    }),
  ],
  concurrency: 4,
  leaseMs: 2_000,
  renewEveryMs: 500,
  pollIntervalMs: 50,
  shutdownGraceMs: 5_000,
})
const stop = new AbortController()
process.once('SIGTERM', () => stop.abort())
process.stdout.write('ready\n')
await waitForGo(stop.signal)
await worker.run(stop.signal)
await messaging.close()
process.exit(0)
