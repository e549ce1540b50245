import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPostgresStorage } from '../../src/adapters/postgres/index.js'
import { createMessaging, type MessagingStorage } from '../../src/index.js'
import { createDeliveryWorker, WorkerConfigurationError } from '../../src/worker/index.js'
import { principal, tenant } from '../support/fixtures.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { scriptedTransport, testChannelType } from '../support/transports.js'

let database: TestDatabase
let storage: MessagingStorage
beforeAll(async () => {
  database = await createTestDatabase('worker_config')
  // A messaging_app login only: no workerConnectionString, so the fleet has no login to run on.
  storage = await createPostgresStorage({ connectionString: database.appUrl })
})
afterAll(async () => {
  await storage?.close()
  await database?.drop()
})

describe('a fleet worker on PostgreSQL without its messaging_worker login', () => {
  it('rejects run() at once with a typed error that names the fix, instead of failing every claim', async () => {
    const messaging = createMessaging({ storage, channelTypes: [testChannelType] })
    const t = tenant()
    const admin = principal('infra_admin', [[t.infra, null]])
    await messaging.createChannel(admin, { infrastructureId: t.infra, channelKey: 'test', type: 'test' })
    const { message } = await messaging.enqueue(admin, {
      infrastructureId: t.infra,
      channelKey: 'test',
      payload: 1,
    })
    const transport = scriptedTransport()
    const worker = createDeliveryWorker({
      messaging,
      fleet: true,
      transports: [transport],
      pollIntervalMs: 10,
    })
    const errors: unknown[] = []
    worker.events.on('error', (e) => errors.push(e))
    const run = worker.run()
    await expect(run).rejects.toBeInstanceOf(WorkerConfigurationError)
    await expect(run).rejects.toThrow(/workerConnectionString or workerPool/)
    expect(errors).toEqual([])
    await expect(worker.drain()).rejects.toMatchObject({ code: 'WORKER_MISCONFIGURED' })
    // Nothing was claimed or sent; a worker scoped by a service principal still serves the tenant.
    expect(transport.calls).toEqual([])
    const scoped = createDeliveryWorker({
      messaging,
      principal: principal('service', [[t.infra, null]]),
      transports: [transport],
    })
    expect(await scoped.drain()).toBe(1)
    expect([...transport.delivered.keys()]).toEqual([message.id])
  })
})
