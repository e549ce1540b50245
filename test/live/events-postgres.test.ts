import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPostgresStorage, EVENT_FEED_APPLICATION_NAME } from '../../src/adapters/postgres/index.js'
import { createMessaging, type DeliveryEvent, type MessagingStorage } from '../../src/index.js'
import { principal, tenant } from '../support/fixtures.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { testChannelType, until } from '../support/transports.js'

/** A child process's start-up (tsx compiling the sources) on a loaded 2-core machine. */
const STARTUP_BUDGET_MS = 60_000

describe('delivery events on PostgreSQL across processes', () => {
  let db: TestDatabase
  let storage: MessagingStorage
  let child: ChildProcess | undefined
  beforeAll(async () => {
    db = await createTestDatabase('events_live')
    storage = await createPostgresStorage({ connectionString: db.appUrl, poolSize: 3 })
  })
  afterAll(async () => {
    child?.kill()
    await storage?.close()
    await db?.drop()
  })

  it(
    "an event a worker in a child process writes arrives on the parent's stream, and only its own tenant's",
    async () => {
      const proc = spawn(
        process.execPath,
        ['--import', 'tsx', join(import.meta.dirname, 'events-child.ts'), db.appUrl, db.workerUrl],
        { cwd: process.cwd(), stdio: ['pipe', 'pipe', 'inherit'] },
      )
      child = proc
      let out = ''
      proc.stdout!.on('data', (b: Buffer) => {
        out += b.toString()
      })
      const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)))
      await until(() => out.includes('ready\n'), STARTUP_BUDGET_MS)

      const messaging = createMessaging({ storage, channelTypes: [testChannelType] })
      const mine = tenant().infra
      const theirs = tenant().infra
      const setup = async (i: string) => {
        const admin = principal('infra_admin', [[i, null]])
        const channel = await messaging.createChannel(admin, {
          infrastructureId: i,
          channelKey: 'ops',
          type: 'test',
        })
        return { admin, channel, service: principal('service', [[i, null]]) }
      }
      const a = await setup(mine)
      const b = await setup(theirs)
      const got: DeliveryEvent[] = []
      const failures: unknown[] = []
      const stop = await messaging.followEvents(
        a.service,
        { infrastructureId: mine },
        { event: (e) => got.push(e), failed: (e) => failures.push(e) },
      )
      // The parent's one listening connection is in place before anything is sent.
      const admin = new pg.Client({ connectionString: db.adminUrl })
      await admin.connect()
      const listening = await admin.query(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()',
        [EVENT_FEED_APPLICATION_NAME],
      )
      await admin.end()
      expect(listening.rows[0].n).toBe(1)

      const enqueue = (s: typeof a, i: string, behaviour: object) =>
        messaging
          .enqueue(s.admin, { infrastructureId: i, channelId: s.channel.id, payload: { behaviour } })
          .then((r) => r.message)
      const theirsMessage = await enqueue(b, theirs, { do: 'deliver' })
      const delivered = await enqueue(a, mine, { do: 'deliver' })
      const refused = await enqueue(a, mine, { do: 'permanent' })
      // The child's fleet worker delivers all three; this process only listens.
      await until(() => got.length >= 2, 30_000)
      expect(got.map((e) => [e.type, e.messageId]).sort()).toEqual(
        [
          ['message.delivered', delivered.id],
          ['message.failed', refused.id],
        ].sort(),
      )
      expect(got.every((e) => e.infrastructureId === mine)).toBe(true)
      // The other tenant's event exists, and was never sent here.
      await until(
        async () => (await messaging.listEvents(b.service, { infrastructureId: theirs })).length === 1,
      )
      expect((await messaging.listEvents(b.service, { infrastructureId: theirs }))[0]!.messageId).toBe(
        theirsMessage.id,
      )
      expect(got.some((e) => e.messageId === theirsMessage.id)).toBe(false)
      expect(failures).toEqual([])
      stop()

      proc.stdin!.write('stop\n')
      expect(await exited).toBe(0)
      child = undefined
    },
    STARTUP_BUDGET_MS + 60_000,
  )
})
