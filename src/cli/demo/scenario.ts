import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createMemoryStorage } from '../../adapters/memory/index.js'
import { createMessagingClient, type MessagingClient } from '../../client/index.js'
import { createMessaging } from '../../container.js'
import type { EnqueueInput } from '../../domain/inputs.js'
import type { Principal } from '../../domain/tenant-scope.js'
import { createSecretBox, secretKeysFromEnv } from '../../secrets/index.js'
import { createDeliveryWorker } from '../../worker/index.js'
import { type CliIo, createLogger } from '../context.js'
import { ms, table } from '../format.js'
import { identitiesOf, startServer } from '../server.js'
import { shutdownSignal } from '../signals.js'
import { builtinTransports } from '../transports.js'
import { runNotifyDemo } from './notify-scenario.js'
import { createProgress } from './progress.js'
import { startSmsProvider, startSmtpSink, startWebhookReceiver } from './receivers.js'

/** The demo's receivers listen on loopback: channels may point there (on any port), nowhere else private. */
const LOOPBACK_RECEIVERS = { allowedRanges: ['127.0.0.0/8'] }

export interface DemoOptions {
  /** A SQLite file to use (and keep); default: a fresh file in a temporary directory. */
  readonly db?: string
  /** Keep the temporary directory. */
  readonly keep?: boolean
  /** Run on the memory store instead of SQLite. */
  readonly memory?: boolean
  /** After the report, keep serving HTTP (and delivering) until SIGINT/SIGTERM. */
  readonly serve?: boolean
  /** Port of the HTTP server (0: any free one). */
  readonly port: number
  /** Multiplies the burst. */
  readonly scale: number
  readonly logLevel: string
  /** Give up waiting for deliveries after this long. */
  readonly timeoutMs: number
}

type Plan = 'processed' | 'dead' | 'redriven'

interface Job {
  readonly tenant: Tenant
  readonly kind: 'in_app' | 'webhook' | 'email' | 'sms' | 'partner'
  readonly input: Omit<EnqueueInput, 'infrastructureId'>
  readonly plan: Plan
  id?: string
}

interface Tenant {
  readonly key: string
  readonly name: string
  readonly infrastructureId: string
  readonly businesses: {
    id: string
    name: string
    users: { userId: string; token: string; optedIn: boolean }[]
  }[]
  readonly admin: { principal: Principal; token: string }
  readonly automation: { principal: Principal; token: string }
  channels: Map<string, { id: string; type: string }>
}

interface Check {
  readonly name: string
  readonly ok: boolean
  readonly detail: string
}

const token = () => `demo_${randomBytes(18).toString('base64url')}`
const pad = (n: number, w: number) => String(n).padStart(w, '0')

/** Runs `fn` over `items`, at most `limit` at a time, in order of start. */
async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i]!)
    }
  })
  await Promise.all(lanes)
  return out
}

const UNREACHABLE = '+15550009999'

/**
 * The module end to end on the embedded store: two tenants, channels of every built-in type
 * delivering for real to loopback receivers, a burst enqueued through the HTTP handler, the
 * delivery worker until everything settles, a dead channel redriven, and a report. Exit 0
 * only when every message ended as planned and every receiver saw what it should.
 */
export async function runDemo(opts: DemoOptions, io: CliIo): Promise<number> {
  const t0 = performance.now()
  const log = createLogger(opts.logLevel, io)
  const cleanups: (() => Promise<void> | void)[] = []
  const tempDir = opts.db || opts.memory ? null : mkdtempSync(join(tmpdir(), 'messaging-demo-'))
  if (tempDir && !opts.keep) cleanups.push(() => rmSync(tempDir, { recursive: true, force: true }))
  const sqlitePath = opts.db ?? (tempDir ? join(tempDir, 'demo.db') : null)

  try {
    // Channel credentials (webhook secrets, the SMS key) are sealed at rest: with the
    // operator's MESSAGING_SECRET_KEYS when a kept database is asked for and they are set,
    // else with a key of this run, printed at the end when the database is kept (a worker
    // run on the kept file later needs it to open them).
    const kept = opts.db !== undefined || opts.keep === true
    const runKey = randomBytes(32).toString('base64')
    const secrets =
      kept && io.env.MESSAGING_SECRET_KEYS
        ? createSecretBox(secretKeysFromEnv(io.env))
        : createSecretBox({ keys: { demo: runKey }, activeKeyId: 'demo' })
    if (kept && sqlitePath && !io.env.MESSAGING_SECRET_KEYS)
      cleanups.push(() =>
        io.out(
          `channel credentials in ${sqlitePath} are sealed with this run's key; to run a worker on it:\n  MESSAGING_SECRET_KEYS=demo:${runKey} messaging worker --sqlite ${sqlitePath}\n`,
        ),
      )
    const messaging = opts.memory
      ? createMessaging({ storage: createMemoryStorage(), secrets, destinations: LOOPBACK_RECEIVERS })
      : createMessaging({ sqlitePath: sqlitePath!, secrets, destinations: LOOPBACK_RECEIVERS })
    cleanups.unshift(() => messaging.close())

    // Tenants, businesses, people: the host's identities, each with a bearer token.
    const tokens = new Map<string, Principal>()
    const issue = (principal: Principal) => {
      const t = token()
      tokens.set(t, principal)
      return { principal, token: t }
    }
    const makeTenant = (key: string, name: string, businessNames: string[]): Tenant => {
      const infrastructureId = randomUUID()
      const grant = [{ infrastructureId, businessId: null }]
      return {
        key,
        name,
        infrastructureId,
        admin: issue({ userId: randomUUID(), role: 'infra_admin', grants: grant }),
        automation: issue({ userId: randomUUID(), role: 'member', grants: grant }),
        businesses: businessNames.map((bName) => {
          const id = randomUUID()
          return {
            id,
            name: bName,
            users: [0, 1, 2].map(() => {
              const user = issue({
                userId: randomUUID(),
                role: 'member',
                grants: [{ infrastructureId, businessId: id }],
              })
              return { userId: user.principal.userId, token: user.token, optedIn: true }
            }),
          }
        }),
        channels: new Map(),
      }
    }
    const tenants = [
      makeTenant('acme', 'Acme Logistics', ['Acme North', 'Acme South']),
      makeTenant('globex', 'Globex Energy', ['Globex Retail']),
    ]
    const worker = issue({
      userId: randomUUID(),
      role: 'service',
      grants: tenants.map((t) => ({ infrastructureId: t.infrastructureId, businessId: null })),
    })

    // The outside world, on loopback.
    const hookSecrets = new Map<string, string>()
    for (const t of tenants) hookSecrets.set(`${t.key}-ops`, `whsec_${randomBytes(24).toString('base64')}`)
    hookSecrets.set('acme-partner', `whsec_${randomBytes(24).toString('base64')}`)
    const smsKeys = new Map(tenants.map((t) => [t.key, `sk_${t.key}_${randomBytes(16).toString('hex')}`]))
    // One at a time, each closed on the way out even when a later one fails to start.
    const hooks = await startWebhookReceiver(hookSecrets)
    cleanups.unshift(() => hooks.close())
    const smtp = await startSmtpSink()
    cleanups.unshift(() => smtp.close())
    const sms = await startSmsProvider(smsKeys, new Set([UNREACHABLE]))
    cleanups.unshift(() => sms.close())
    hooks.down.add('acme-partner') // the partner is in maintenance until the redrive

    const server = await startServer({
      messaging,
      tokens,
      host: '127.0.0.1',
      port: opts.port,
      onError: (e) => log.error({ err: e }, 'request failed'),
      ...(opts.serve && {
        ui: { identities: identitiesOf(tokens, (p) => `${p.role} ${p.userId.slice(0, 8)}`) },
      }),
    })
    cleanups.unshift(() => server.close())
    const client = (t: string, infrastructureId?: string): MessagingClient =>
      createMessagingClient({
        baseUrl: server.url,
        getToken: () => t,
        ...(infrastructureId && { infrastructureId }),
      })

    io.out(
      `messaging demo on ${opts.memory ? 'the memory store' : `SQLite ${sqlitePath}`}\nHTTP ${server.url} (loopback receivers: webhook ${hooks.url}, smtp 127.0.0.1:${smtp.port}, sms ${sms.url})\n\n`,
    )

    // Channels of every built-in type and members with opt-ins, through the HTTP surface.
    for (const t of tenants) {
      const admin = client(t.admin.token, t.infrastructureId)
      const create = async (
        channelKey: string,
        type: string,
        config: Record<string, unknown>,
        maxAttempts?: number,
      ) => {
        const c = await admin.createChannel({
          channelKey,
          type,
          name: `${t.name} ${channelKey}`,
          config,
          ...(maxAttempts !== undefined && { maxAttempts }),
        })
        t.channels.set(channelKey, { id: c.id, type })
      }
      await create('alerts', 'in_app', {})
      await create('ops-webhook', 'webhook', {
        url: `${hooks.url}/hooks/${t.key}-ops`,
        secrets: [hookSecrets.get(`${t.key}-ops`)],
      })
      await create('billing-email', 'email', {
        from: `billing@${t.key}.test`,
        fromName: `${t.name} Billing`,
        template: {
          subject: 'Invoice {{invoice}} paid',
          text: 'Hello {{name}}, we received {{amount}} for invoice {{invoice}}. Thank you!',
        },
      })
      await create(
        'sms-otp',
        'sms',
        { from: '+15550100001', provider: { url: `${sms.url}/v1/messages`, apiKey: smsKeys.get(t.key) } },
        2,
      )
      if (t.key === 'acme') {
        await create(
          'partner-webhook',
          'webhook',
          { url: `${hooks.url}/hooks/acme-partner`, secrets: [hookSecrets.get('acme-partner')] },
          2,
        )
      }
      const alerts = t.channels.get('alerts')!.id
      for (const b of t.businesses) {
        for (const u of b.users)
          await admin.addMember({ channelId: alerts, userId: u.userId, businessId: b.id })
      }
      // The last user of the first business opts out of alerts themselves (the member's own call).
      const quitter = t.businesses[0]!.users[2]!
      await client(quitter.token, t.infrastructureId).setOptIn({ channelId: alerts, optedIn: false })
      quitter.optedIn = false
    }

    // The burst: realistic payloads across tenants, channels and businesses.
    const jobs: Job[] = []
    const scale = Math.max(1, Math.floor(opts.scale))
    for (const t of tenants) {
      for (const b of t.businesses) {
        for (let n = 1; n <= (12 * scale) / t.businesses.length; n++) {
          jobs.push({
            tenant: t,
            kind: 'in_app',
            plan: 'processed',
            input: {
              channelKey: 'alerts',
              businessId: b.id,
              payload: {
                title: `Shipment ${b.name.split(' ').pop()}-${pad(n, 3)} delayed`,
                body: 'New ETA: tomorrow 10:00',
              },
            },
          })
        }
      }
      for (let n = 1; n <= 30 * scale; n++) {
        jobs.push({
          tenant: t,
          kind: 'webhook',
          plan: 'processed',
          input: {
            channelKey: 'ops-webhook',
            payload: { type: 'order.shipped', orderId: `${t.key.toUpperCase()}-${1000 + n}`, carrier: 'DHL' },
            idempotencyKey: `order-${1000 + n}-shipped`,
          },
        })
      }
      for (let n = 1; n <= 12 * scale; n++) {
        jobs.push({
          tenant: t,
          kind: 'email',
          plan: 'processed',
          input: {
            channelKey: 'billing-email',
            recipients: [`ap${n}@customer${n % 4}.test`],
            payload: {
              data: {
                invoice: `INV-${pad(n, 5)}`,
                name: `Customer ${n}`,
                amount: `EUR ${(n * 37.5).toFixed(2)}`,
              },
            },
          },
        })
      }
      for (let n = 1; n <= 8 * scale; n++) {
        jobs.push({
          tenant: t,
          kind: 'sms',
          plan: 'processed',
          input: {
            channelKey: 'sms-otp',
            recipients: [`+1555020${pad(n, 4)}`],
            payload: {
              text: 'Your {{brand}} code is {{code}}',
              data: { brand: t.name, code: pad((n * 7919) % 1000000, 6) },
            },
          },
        })
      }
    }
    const acme = tenants[0]!
    const globex = tenants[1]!
    for (let n = 1; n <= 3; n++) {
      jobs.push({
        tenant: acme,
        kind: 'partner',
        plan: 'redriven',
        input: { channelKey: 'partner-webhook', payload: { type: 'manifest.ready', manifest: `M-${n}` } },
      })
    }
    jobs.push({
      tenant: globex,
      kind: 'sms',
      plan: 'dead',
      input: {
        channelKey: 'sms-otp',
        recipients: [UNREACHABLE],
        payload: { text: 'Your meter reading is due' },
      },
    })
    const delayedAt = new Date(Date.now() + 2000)
    const delayed: Job = {
      tenant: acme,
      kind: 'in_app',
      plan: 'processed',
      input: {
        channelKey: 'alerts',
        businessId: acme.businesses[0]!.id,
        availableAt: delayedAt,
        payload: { title: 'Maintenance window starts', body: 'Scheduled 2 s ahead' },
      },
    }
    jobs.push(delayed)

    // The delivery worker, scoped to both tenants by a service principal.
    const channelKeyOf = new Map<string, string>()
    for (const t of tenants) for (const [k, c] of t.channels) channelKeyOf.set(c.id, `${t.key}/${k}`)
    const retried = new Map<string, number>()
    let retries = 0
    const deliveryWorker = createDeliveryWorker({
      messaging,
      principal: worker.principal,
      transports: builtinTransports(messaging, {
        allowHttp: true,
        relay: { host: '127.0.0.1', port: smtp.port },
      }),
      concurrency: 16,
      pollIntervalMs: 50,
      leaseMs: 10_000,
      attemptTimeoutMs: 5000,
      retry: { baseMs: 100, maxMs: 300 },
      shutdownGraceMs: 2000,
      logger: log,
    })
    deliveryWorker.events.on('retried', (m) => {
      retries++
      retried.set(m.channelId, (retried.get(m.channelId) ?? 0) + 1)
    })
    // When each message of the burst settled (the delayed one aside), for the throughput.
    const settledAt: number[] = []
    const settledEvent = (m: { id: string }) => {
      if (m.id !== delayed.id) settledAt.push(performance.now())
    }
    for (const e of ['delivered', 'dead', 'failed'] as const) deliveryWorker.events.on(e, settledEvent)
    const stopWorker = new AbortController()
    const workerRun = deliveryWorker.run(stopWorker.signal)
    cleanups.unshift(async () => {
      stopWorker.abort()
      await workerRun
    })
    const tSetup = performance.now()

    // Enqueue through the HTTP handler, as the tenants' automation would.
    for (const t of tenants) {
      const automation = client(t.automation.token, t.infrastructureId)
      Object.assign(t, { automationClient: automation })
    }
    const automationOf = (t: Tenant) => (t as Tenant & { automationClient: MessagingClient }).automationClient
    const results = await pool(jobs, 8, async (job) => {
      const r = await automationOf(job.tenant).enqueueMessage(job.input)
      job.id = r.message.id
      return r.created
    })
    // Retries of the producer: the same idempotency keys, sent again (through the header).
    const repeats = jobs.filter((j) => j.kind === 'webhook').filter((_, i) => i % 10 === 0)
    const replayed = await pool(repeats, 4, async (job) => {
      const { idempotencyKey, ...rest } = job.input
      const r = await automationOf(job.tenant).enqueueMessage(rest, { idempotencyKey: idempotencyKey! })
      return !r.created && r.message.id === job.id
    })
    const tEnqueued = performance.now()
    io.out(
      `enqueued ${jobs.length} messages through HTTP in ${ms(tEnqueued - tSetup)} (${Math.round(jobs.length / ((tEnqueued - tSetup) / 1000))}/s); ${replayed.length} producer retries answered with the first message\n`,
    )

    // Wait until nothing is pending or in flight, with a live progress line.
    const service = client(worker.token)
    const progress = createProgress(io, tSetup)
    const settle = async (label: string, expectedSettled: number): Promise<boolean> => {
      const deadline = Date.now() + opts.timeoutMs
      for (;;) {
        const stats = await service.stats()
        const sum = (f: 'pending' | 'inFlight' | 'processed' | 'failed' | 'dead') =>
          stats.reduce((n, s) => n + s[f], 0)
        const state = {
          label,
          settled: sum('processed') + sum('failed') + sum('dead'),
          total: jobs.length,
          retrying: retries,
          dead: sum('dead'),
        }
        if (sum('pending') + sum('inFlight') === 0 && state.settled >= expectedSettled) {
          progress.done(state)
          return true
        }
        if (Date.now() > deadline) {
          progress.done(state)
          return false
        }
        progress.update(state)
        await new Promise((r) => setTimeout(r, 100))
      }
    }
    const settledFirst = await settle('delivering', jobs.length)
    const tDelivered = performance.now()

    // The partner is back: redrive one dead message, then the rest of its channel.
    hooks.down.delete('acme-partner')
    const acmeAdmin = client(acme.admin.token, acme.infrastructureId)
    const partnerChannel = acme.channels.get('partner-webhook')!.id
    const partnerDead = await acmeAdmin.listDeadLetters({ channelId: partnerChannel })
    let redrivenOne = false
    let redrivenRest = 0
    if (partnerDead.length > 0) {
      redrivenOne = (await acmeAdmin.redriveMessage(partnerDead[0]!.id)).status === 'pending'
      redrivenRest = (await acmeAdmin.redriveChannel(partnerChannel)).redriven
    }
    const settledSecond = await settle('redriving', jobs.length)
    const tRedriven = performance.now()

    // What the tenants see now.
    const checks: Check[] = []
    const check = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail })
    const rows: (string | number)[][] = []
    const finalStatus = new Map<string, string>()
    for (const t of tenants) {
      const admin = client(t.admin.token, t.infrastructureId)
      for (const m of await admin.listMessages({ limit: 1000 })) finalStatus.set(m.id, m.status)
      const stats = await admin.stats({ infrastructureId: t.infrastructureId })
      for (const [key, channel] of t.channels) {
        const s = stats.find((x) => x.channelId === channel.id)
        if (!s) continue
        rows.push([
          t.name,
          key,
          channel.type,
          s.processed,
          retried.get(s.channelId) ?? 0,
          s.dead,
          s.failed,
          s.pending + s.inFlight,
        ])
      }
    }

    // Inboxes: each user reads their own over HTTP; one of them marks everything read.
    const inboxRows: (string | number)[][] = []
    let inboxOk = true
    for (const t of tenants) {
      const appJobs = jobs.filter((j) => j.tenant === t && j.kind === 'in_app')
      for (const b of t.businesses) {
        const sent = appJobs.filter((j) => j.input.businessId === b.id).length
        let unread = 0
        let expected = 0
        for (const u of b.users) {
          const got = (await client(u.token, t.infrastructureId).countUnread()).unread
          unread += got
          expected += u.optedIn ? sent : 0
          if (got !== (u.optedIn ? sent : 0)) inboxOk = false
        }
        inboxRows.push([t.name, b.name, sent, b.users.filter((u) => u.optedIn).length, unread, expected])
      }
    }
    const reader = acme.businesses[0]!.users[0]!
    const readerClient = client(reader.token, acme.infrastructureId)
    const marked = (await readerClient.markInbox({ entryIds: 'all', mark: 'read' })).changed
    const afterMark = (await readerClient.countUnread()).unread

    const deadRows: (string | number)[][] = []
    const deadIds = new Set<string>()
    for (const t of tenants) {
      const admin = client(t.admin.token, t.infrastructureId)
      for (const m of await admin.listDeadLetters()) {
        deadIds.add(m.id)
        const attempts = await admin.listAttempts(m.id)
        deadRows.push([
          t.name,
          channelKeyOf.get(m.channelId)?.split('/')[1] ?? m.channelId,
          m.id.slice(0, 8),
          attempts.map((a) => a.errorCode ?? a.outcome).join(', '),
          (m.lastError ?? '').slice(0, 60),
        ])
      }
    }

    // The checks the exit code rests on.
    const unplanned = jobs.filter((j) => {
      const s = finalStatus.get(j.id!)
      return j.plan === 'dead' ? s !== 'dead' : s !== 'processed'
    })
    check(
      'every message delivered, or dead as planned',
      settledFirst && settledSecond && unplanned.length === 0,
      unplanned.length === 0
        ? `${jobs.length - 1} processed, 1 dead (unreachable number)`
        : `${unplanned.length} unplanned: ${unplanned
            .slice(0, 3)
            .map((j) => `${j.tenant.key}/${j.input.channelKey}=${finalStatus.get(j.id!)}`)
            .join(', ')}`,
    )
    check(
      'dead letters are exactly the planned ones',
      deadIds.size === jobs.filter((j) => j.plan === 'dead').length &&
        jobs.filter((j) => j.plan === 'dead').every((j) => deadIds.has(j.id!)),
      `${deadIds.size} dead letter(s)`,
    )
    check(
      'idempotency keys: no duplicate enqueued',
      results.every((c) => c) && replayed.every((r) => r),
      `${replayed.length} replays returned the first message`,
    )
    const webhookJobs = jobs.filter((j) => j.kind === 'webhook' || j.kind === 'partner')
    check(
      'webhooks arrived once each, every signature verified (Standard Webhooks)',
      webhookJobs.every((j) => hooks.accepted.has(j.id!)) &&
        hooks.accepted.size === webhookJobs.length &&
        hooks.forged === 0,
      `${hooks.accepted.size} verified, ${hooks.forged} forged, ${hooks.refusedWhileDown} refused while the partner was down`,
    )
    const emailJobs = jobs.filter((j) => j.kind === 'email')
    const mailIds = new Set(smtp.received.map((m) => m.messageId))
    check(
      'emails reached the SMTP server',
      emailJobs.every((j) => [...mailIds].some((id) => id.includes(j.id!))) &&
        smtp.received.every((m) => /^Invoice INV-\d+ paid$/.test(m.subject)),
      `${smtp.received.length} mails for ${emailJobs.length} messages`,
    )
    const smsJobs = jobs.filter((j) => j.kind === 'sms' && j.plan === 'processed')
    check(
      'texts reached the SMS provider with the right tenant key',
      smsJobs.every((j) => sms.accepted.has(`${j.id}:${j.input.recipients![0]}`)) && sms.unauthorised === 0,
      `${sms.accepted.size} accepted, ${sms.unreachable} refused for the unreachable number`,
    )
    check(
      'in-app inboxes hold one entry per opted-in member, none for the one who opted out',
      inboxOk && marked > 0 && afterMark === 0,
      `${inboxRows.reduce((n, r) => n + Number(r[4]), 0)} unread entries; one user marked ${marked} read`,
    )
    const delayedAttempts = await acmeAdmin.listAttempts(delayed.id!)
    check(
      'the delayed message waited for its time',
      delayedAttempts.length > 0 && delayedAttempts[0]!.startedAt.getTime() >= delayedAt.getTime(),
      delayedAttempts[0]
        ? `first attempt ${delayedAttempts[0].startedAt.getTime() - delayedAt.getTime()} ms after its due time`
        : 'never attempted',
    )
    const redriveAudit = await acmeAdmin.listAudit({ limit: 1000 })
    check(
      'the dead partner messages were redriven (one, then the channel) and audited',
      redrivenOne &&
        redrivenRest === 2 &&
        redriveAudit.some((e) => e.action === 'outbox.redrive' && e.outcome === 'ok') &&
        redriveAudit.some((e) => e.action === 'outbox.redrive_channel' && e.outcome === 'ok'),
      `1 + ${redrivenRest} redriven`,
    )

    // One event to people: a notify by preference, profile and locale (notify-scenario.ts).
    const notified = await runNotifyDemo({
      infrastructureId: acme.infrastructureId,
      admin: acmeAdmin,
      client: (t) => client(t, acme.infrastructureId),
      issue,
      smtp,
      sms,
      timeoutMs: opts.timeoutMs,
    })
    checks.push(...notified.checks)

    const tEnd = performance.now()
    // Throughput of the burst: from the worker's start to the last of its messages settling.
    const burst = settledAt.filter((at) => at <= tDelivered)
    const burstMs = Math.max(1, Math.max(tSetup, ...burst) - tSetup)
    const burstRate = Math.round(burst.length / (burstMs / 1000))
    const delivered = [...finalStatus.values()].filter((s) => s === 'processed').length
    io.out('\nTenants\n')
    io.out(
      `${table(
        ['tenant', 'infrastructure', 'businesses'],
        tenants.map((t) => [t.name, t.infrastructureId, t.businesses.map((b) => b.name).join(', ')]),
      )}\n`,
    )
    io.out('\nDelivery report (per tenant and channel)\n')
    io.out(
      `${table(['tenant', 'channel', 'type', 'delivered', 'retried', 'dead', 'failed', 'open'], rows)}\n`,
    )
    io.out('\nIn-app inboxes\n')
    io.out(`${table(['tenant', 'business', 'alerts', 'opted in', 'unread', 'expected'], inboxRows)}\n`)
    io.out('\nDead letters\n')
    io.out(
      `${deadRows.length ? table(['tenant', 'channel', 'message', 'attempts', 'last error'], deadRows) : '(none)'}\n`,
    )
    io.out('\nNotify: invoice.paid to four people (per recipient and channel)\n')
    io.out(`${table(['recipient', 'locale', 'channel', 'state', 'received or reason'], notified.rows)}\n`)
    io.out('\nTimings\n')
    io.out(
      `${table(
        ['phase', 'time', 'throughput'],
        [
          ['setup (store, receivers, channels, members)', ms(tSetup - t0), '-'],
          [
            'enqueue over HTTP',
            ms(tEnqueued - tSetup),
            `${Math.round(jobs.length / ((tEnqueued - tSetup) / 1000))} msg/s`,
          ],
          [
            'delivery until settled (the delayed message is due 2 s in)',
            ms(tDelivered - tSetup),
            `${burstRate} msg/s (${burst.length} settled in ${ms(burstMs)})`,
          ],
          ['redrive until settled', ms(tRedriven - tDelivered), '-'],
          ['total', ms(tEnd - t0), `${delivered} delivered`],
        ],
      )}\n`,
    )
    io.out('\nChecks\n')
    for (const c of checks) io.out(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}\n`)
    const failed = checks.filter((c) => !c.ok)
    io.out(
      failed.length === 0
        ? `\ndemo: all ${checks.length} checks passed\n`
        : `\ndemo: ${failed.length} of ${checks.length} checks FAILED\n`,
    )

    if (opts.serve) {
      const admin = [...tokens].find(([, p]) => p.userId === acme.admin.principal.userId)![0]
      io.out(`\nServing ${server.url} (delivering too) until Ctrl-C.\n`)
      if (server.uiUrl) io.out(`Web components: ${server.uiUrl} (pick a demo identity)\n`)
      io.out('Try:\n')
      io.out(
        `  curl -s -H 'authorization: Bearer ${admin}' '${server.url}/stats?infrastructureId=${acme.infrastructureId}'\n`,
      )
      io.out(
        `  curl -s -X POST -H 'authorization: Bearer ${admin}' -H 'content-type: application/json' \\\n    -d '{"infrastructureId":"${acme.infrastructureId}","channelKey":"alerts","payload":{"title":"hello"}}' '${server.url}/queue'\n`,
      )
      const shutdown = shutdownSignal()
      await new Promise<void>((resolve) =>
        shutdown.signal.addEventListener('abort', () => resolve(), { once: true }),
      )
      shutdown.dispose()
    }
    return failed.length === 0 ? 0 : 1
  } finally {
    for (const c of cleanups) {
      try {
        await c()
      } catch (e) {
        log.warn({ err: e }, 'cleanup failed')
      }
    }
    if (tempDir && opts.keep) io.out(`kept ${tempDir}\n`)
  }
}
