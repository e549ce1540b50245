import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { createPostgresStorage } from '../../src/adapters/postgres/index.js'
import { createMessaging, type Messaging, type Principal } from '../../src/index.js'
import type { Subject } from '../common.js'
import { BENCH_ROLES, type BenchServer } from '../postgres.js'
import {
  closeAll,
  type Figure,
  failedRow,
  interleave,
  type Lane,
  type Measurement,
  measurementOf,
  sizesOf,
} from '../run.js'
import { databaseName, openSystem } from '../systems/index.js'

const G14_SIZES = { g14Recipients: 10_000 }

/** Two channel types per recipient: the fan-out of issue 15's figure (10,000 x 2). */
const CHANNELS = 2

interface NotifyLane {
  readonly name: string
  readonly databases: readonly string[]
  /** One notify (or the raw lane's one batch insert) of `recipients` x 2 messages. */
  fanOut(): Promise<void>
  close(): Promise<void>
}

/**
 * G14, notify fan-out: one notify to `g14Recipients` users x 2 channel types (in-app and
 * email, every recipient reachable on both) through the facade as a `service` principal on
 * PostgreSQL with row-level security (`messaging_app`): the recipients' profiles, the
 * preferences and the templates read, then one notification, its outbox messages and audit
 * entry written in one transaction. Beside it, the raw limit's one multi-row INSERT of as
 * many rows. The value is outbox messages written per second; the target is half the raw rate.
 */
export const G14: Figure<typeof G14_SIZES> = {
  id: 'G14',
  sizes: G14_SIZES,
  quick: { g14Recipients: 2_000 },
  async run(ctx) {
    const z = sizesOf(ctx, G14_SIZES)
    const messages = z.g14Recipients * CHANNELS
    const lanes: Lane<NotifyLane>[] = []
    const failed: Measurement[] = []
    let measurements: Measurement[] = []
    try {
      if (ctx.systems.includes('module')) {
        try {
          ctx.progress('G14', 'module', `setup: ${z.g14Recipients.toLocaleString('en')} profiles`)
          const m = await openNotifyModule(
            ctx.server,
            databaseName('module_notify'),
            ctx.template,
            z.g14Recipients,
          )
          lanes.push({ label: m.name, subject: m, databases: m.databases })
        } catch (e) {
          failed.push(failedRow({ system: 'module', error: e instanceof Error ? e.message : String(e) }))
        }
      }
      if (ctx.systems.includes('raw')) {
        const raw = await openSystem(ctx, 'raw', { tenants: 1 })
        const seqs = Array.from({ length: messages }, (_, i) => i)
        const subject: Subject = raw.subject
        lanes.push({
          label: 'raw',
          databases: raw.databases,
          subject: {
            name: 'raw',
            databases: raw.databases,
            fanOut: () => subject.enqueueBatch(0, seqs),
            close: () => subject.close(),
          },
        })
      }
      // One untimed fan-out each: connections, plans and caches warm.
      for (const l of lanes) await l.subject.fanOut()
      const rs = await interleave(ctx, 'G14', lanes, z.rounds, async (lane, _r, timed) => {
        const seconds = await timed(async () => {
          const t0 = performance.now()
          await lane.subject.fanOut()
          return (performance.now() - t0) / 1000
        })
        return { units: messages, seconds, latencies: [seconds * 1000] }
      })
      measurements = [...rs.map((r) => measurementOf(r)), ...failed]
    } finally {
      await closeAll(lanes)
    }
    const module = measurements.find((m) => m.system === 'module notify')
    const raw = measurements.find((m) => m.system === 'raw')
    const ratio = module?.value != null && raw?.value ? module.value / raw.value : null
    return {
      id: 'G14',
      title: `notify fan-out: one notify to ${z.g14Recipients.toLocaleString('en')} recipients x ${CHANNELS} channel types (${messages.toLocaleString('en')} outbox messages, one transaction) beside one raw INSERT of as many rows; ${z.rounds} rounds`,
      metric: 'outbox messages written per second (p50 / p99 of one fan-out, ms)',
      unit: 'msgs/s',
      higherIsBetter: true,
      target: '>= 0.5x the raw batch insert',
      met: ratio !== null ? ratio >= 0.5 : null,
      verdict: `notify / raw ${ratio?.toFixed(2) ?? '-'}`,
      measurements,
      comparisons: [{ subject: 'module notify', peer: 'raw' }],
      params: { recipients: z.g14Recipients, channels: CHANNELS, messages, rounds: z.rounds },
    }
  },
}

/**
 * The module on a fresh database copied from the migrated template: one tenant, an in-app
 * and an email channel, a category over both, and `recipients` profiles with an email
 * address (written straight into the table as the superuser, in the shape upsertProfile
 * writes: 10,000 facade calls would only slow the setup down). The notify runs as a
 * `service` principal through `messaging_app`, row-level security on.
 */
async function openNotifyModule(
  server: BenchServer,
  database: string,
  template: string,
  recipients: number,
): Promise<NotifyLane> {
  await server.createDatabase(database, template)
  const storage = await createPostgresStorage({
    connectionString: server.urlFor(database, BENCH_ROLES.app, BENCH_ROLES.password),
    poolSize: 4,
    listenConnectionString: false,
  })
  const messaging: Messaging = createMessaging({ storage })
  try {
    const infrastructureId = randomUUID()
    const grants = [{ infrastructureId, businessId: null }]
    const admin: Principal = { userId: randomUUID(), role: 'infra_admin', grants }
    const service: Principal = { userId: randomUUID(), role: 'service', grants }
    await messaging.createChannel(admin, { infrastructureId, channelKey: 'alerts', type: 'in_app' })
    await messaging.createChannel(admin, {
      infrastructureId,
      channelKey: 'mail',
      type: 'email',
      config: { from: 'billing@example.com' },
    })
    await messaging.createCategory(admin, {
      infrastructureId,
      key: 'invoice.paid',
      name: 'Invoice paid',
      channels: { in_app: { channelKey: 'alerts' }, email: { channelKey: 'mail' } },
    })
    const users = Array.from({ length: recipients }, () => randomUUID())
    const c = new pg.Client({ connectionString: server.urlFor(database) })
    await c.connect()
    try {
      await c.query(
        `insert into messaging_profiles (infrastructure_id, user_id, business_id, email, locale, properties,
           created_at, updated_at, updated_by)
         select $1, u, null, 'u' || n || '@example.com', 'en', '{}'::jsonb, now(), now(), $3
           from unnest($2::uuid[]) with ordinality as x (u, n)`,
        [infrastructureId, users, admin.userId],
      )
      await c.query('analyze messaging_profiles')
    } finally {
      await c.end()
    }
    let n = 0
    return {
      name: 'module notify',
      databases: [database],
      async fanOut() {
        const r = await messaging.notify(service, {
          infrastructureId,
          category: 'invoice.paid',
          to: { users },
          data: { invoice: `INV-${++n}`, amount: 'EUR 120.00' },
        })
        if (r.notification.messageCount !== recipients * CHANNELS)
          throw new Error(
            `a fan-out wrote ${r.notification.messageCount} messages, not ${recipients * CHANNELS}`,
          )
      },
      close: () => messaging.close(),
    }
  } catch (e) {
    await messaging.close()
    throw e
  }
}
