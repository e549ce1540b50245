import { type ChildProcess, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMessaging, type Messaging, type Principal } from '../../src/index.js'
import { until } from '../support/transports.js'
import { runCli } from './support.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const BIN = join(ROOT, 'bin/messaging.mjs')

/** The command line in process, with no PostgreSQL in its environment. */
const cli = (...argv: string[]) => runCli({}, ...argv)

/** The launcher as a child process (signals need a process of their own). */
function spawnCli(args: string[]): {
  child: ChildProcess
  out: () => string
  err: () => string
  exit: Promise<number | null>
} {
  const { DATABASE_URL: _, ...env } = process.env
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString()
  })
  child.stderr!.on('data', (c: Buffer) => {
    err += c.toString()
  })
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  return { child, out: () => out, err: () => err, exit }
}

describe('messaging command line', () => {
  it.each([
    ['demo', '--serve'],
    ['worker', '--principal'],
    ['serve', '--tokens'],
    ['migrate', '--database-url'],
    ['stats', '--infra'],
    ['redrive', '--channel'],
    ['cancel', '--idempotency-key'],
    ['reschedule', '--delay'],
    ['enqueue', '--idempotency-key'],
    ['prune', '--older-than'],
    ['security-log', '--since'],
    ['audit', '--target'],
    ['events', '--after'],
  ])('%s --help describes its options', async (command, option) => {
    const r = await cli(command, '--help')
    expect(r.code).toBe(0)
    expect(r.out).toContain(`Usage: messaging ${command}`)
    expect(r.out).toContain(option)
  })

  it('refuses an unknown command, a missing tenant and a migration without PostgreSQL as usage errors: exit 2 and one line', async () => {
    const unknown = await cli('deliver')
    expect(unknown.code).toBe(2)
    expect(unknown.err).toContain("unknown command 'deliver'")
    const noTenant = await cli('stats', '--sqlite', ':memory:')
    expect(noTenant).toMatchObject({ code: 2, out: '' })
    expect(noTenant.err).toBe('messaging: give --infra <uuid> (repeatable) or --principal <json>\n')
    const badPrincipal = await cli(
      'stats',
      '--sqlite',
      ':memory:',
      '--principal',
      '{"userId":"x","role":"root","grants":[]}',
    )
    expect(badPrincipal.code).toBe(2)
    expect(badPrincipal.err).toMatch(/--principal: userId: .*role:/)
    const badNumber = await cli('worker', '--sqlite', ':memory:', '--concurrency', 'many')
    expect(badNumber.code).toBe(2)
    expect(badNumber.err).toContain(
      "option '--concurrency <n>' argument 'many' is invalid. must be a whole number, at least 1",
    )
    const migrate = await cli('migrate')
    expect(migrate).toMatchObject({ code: 2 })
    expect(migrate.err).toContain('migrate needs --database-url or DATABASE_URL')
  })

  it('the launcher runs from a checkout (--version)', async () => {
    const p = spawnCli(['--version'])
    expect(await p.exit).toBe(0)
    expect(p.out().trim()).toBe('0.1.0')
  })
})

describe('operating a SQLite store from the command line', () => {
  let dir: string
  let file: string
  let messaging: Messaging
  const infra = randomUUID()
  const admin: Principal = {
    userId: randomUUID(),
    role: 'infra_admin',
    grants: [{ infrastructureId: infra, businessId: null }],
  }
  const service: Principal = { ...admin, userId: randomUUID(), role: 'service' }
  const member = randomUUID()
  let channelId: string

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'messaging-cli-'))
    file = join(dir, 'ops.db')
    messaging = createMessaging({ sqlitePath: file })
    const c = await messaging.createChannel(admin, {
      infrastructureId: infra,
      channelKey: 'alerts',
      type: 'in_app',
      maxAttempts: 1,
    })
    channelId = c.id
    await messaging.addMember(admin, { infrastructureId: infra, channelId, userId: member })
  })
  afterAll(async () => {
    await messaging.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('enqueues (idempotently), shows stats, redrives a dead channel, delivers with a worker until SIGTERM, prunes', async () => {
    const enqueue = (key: string) =>
      cli(
        'enqueue',
        '--sqlite',
        file,
        '--infra',
        infra,
        '--channel',
        'alerts',
        '--payload',
        '{"title":"disk 91%"}',
        '--idempotency-key',
        key,
        '--json',
      )
    const first = await enqueue('disk-91')
    expect(first.code, first.err).toBe(0)
    const { id, created } = JSON.parse(first.out) as { id: string; created: boolean }
    expect(created).toBe(true)
    expect(JSON.parse((await enqueue('disk-91')).out)).toMatchObject({ id, created: false })
    // The CLI's audit entries name its fixed operator id.
    const audit = await messaging.listAudit(admin, { infrastructureId: infra, action: 'outbox.enqueue' })
    expect(audit).toMatchObject([
      { actorId: '00000000-0000-4000-8000-00000000c11e', outcome: 'ok', targetId: id },
    ])

    // A failed last attempt makes it dead.
    const [held] = await messaging.claim(service, { infrastructureId: infra })
    await messaging.ack(service, {
      infrastructureId: infra,
      messageId: held!.id,
      leaseToken: held!.leaseToken,
      outcome: 'failed',
      reason: 'relay down',
      retryAfterMs: 0,
    })
    const stats = await cli('stats', '--sqlite', file, '--infra', infra, '--json')
    expect(JSON.parse(stats.out)).toEqual([
      expect.objectContaining({ channelId, dead: 1, pending: 0, processed: 0 }),
    ])
    const table = await cli('stats', '--sqlite', file, '--infra', infra)
    expect(table.out).toMatch(new RegExp(`${infra}\\s+alerts\\s+0\\s+0\\s+0\\s+0\\s+1\\s+0\\s+0\\s+0\\s+-`))

    expect(await cli('redrive', '--sqlite', file, '--infra', infra)).toMatchObject({
      code: 2,
      err: 'messaging: give exactly one of --message or --channel\n',
    })
    const redriven = await cli('redrive', '--sqlite', file, '--infra', infra, '--channel', 'alerts')
    expect(redriven.out).toBe('redriven 1 dead message of channel alerts\n')
    const again = await cli('redrive', '--sqlite', file, '--infra', infra, '--message', id)
    expect(again.code).toBe(1)
    expect(again.err).toContain('ILLEGAL_TRANSITION')

    // A worker process delivers it into the member's inbox, then stops cleanly on SIGTERM.
    const worker = spawnCli([
      'worker',
      '--sqlite',
      file,
      '--infra',
      infra,
      '--poll-ms',
      '50',
      '--log-level',
      'info',
    ])
    // Start-up (tsx compiling the sources, on a loaded machine) has a budget of its own.
    await until(() => worker.err().includes('"worker started"'), 90_000, 50)
    await until(
      async () =>
        (await messaging.getMessage(admin, { infrastructureId: infra, messageId: id })).status ===
        'processed',
      20_000,
      50,
    )
    worker.child.kill('SIGTERM')
    expect(await worker.exit).toBe(0)
    const logs = worker
      .err()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string })
    expect(logs.map((l) => l.msg)).toEqual(
      expect.arrayContaining(['worker started', 'shutting down', 'worker stopped']),
    )
    expect(
      await messaging.countUnread(
        { userId: member, role: 'member', grants: [{ infrastructureId: infra, businessId: null }] },
        { infrastructureId: infra },
      ),
    ).toEqual({ unread: 1 })

    const pruned = await cli('prune', '--sqlite', file, '--older-than', '0s')
    expect(pruned.out).toMatch(/^pruned 1 message settled before /)
    expect(await messaging.listMessages(admin, { infrastructureId: infra })).toEqual([])
  }, 150_000)

  it('enqueues with a priority and an ordering key, reschedules and cancels a scheduled message, and says what a cancel left', async () => {
    const at = ['--sqlite', file, '--infra', infra]
    const enq = await cli(
      'enqueue',
      ...at,
      '--channel',
      'alerts',
      '--payload',
      '{}',
      '--delay',
      '1h',
      '--priority',
      'high',
      '--ordering-key',
      'order-7',
      '--json',
    )
    expect(enq.code, enq.err).toBe(0)
    const { id } = JSON.parse(enq.out) as { id: string }
    expect(await messaging.getMessage(admin, { infrastructureId: infra, messageId: id })).toMatchObject({
      priority: 'high',
      orderingKey: 'order-7',
      status: 'pending',
    })
    const bad = await cli('enqueue', ...at, '--channel', 'alerts', '--payload', '{}', '--priority', 'urgent')
    expect(bad.code).toBe(2)
    expect(bad.err).toContain('--priority')
    const badKey = await cli(
      'enqueue',
      ...at,
      '--channel',
      'alerts',
      '--payload',
      '{}',
      '--ordering-key',
      'a b',
    )
    expect(badKey.code).toBe(2)
    expect(badKey.err).toContain('--ordering-key')
    const moved = await cli('reschedule', ...at, '--message', id, '--at', '2030-01-01T00:00:00Z')
    expect(moved).toMatchObject({ code: 0, out: `rescheduled ${id} (due 2030-01-01T00:00:00.000Z)\n` })
    expect(await cli('cancel', ...at, '--message', id)).toMatchObject({ code: 0, out: `cancelled ${id}\n` })
    const again = await cli('cancel', ...at, '--message', id, '--json')
    expect(JSON.parse(again.out)).toEqual({ cancelled: [], kept: [{ id, status: 'cancelled' }] })
    const late = await cli('reschedule', ...at, '--message', id, '--delay', '0s')
    expect(late.code).toBe(1)
    expect(late.err).toContain('ILLEGAL_TRANSITION')
    expect(await cli('cancel', ...at)).toMatchObject({
      code: 2,
      err: 'messaging: give exactly one of --message, --notification or --idempotency-key\n',
    })
    const stats = await cli('stats', ...at, '--json')
    expect(JSON.parse(stats.out)).toEqual([expect.objectContaining({ channelId, cancelled: 1 })])
  })

  it("shows the security log: an outsider's refusals counted per caller and hour, none in the tenant's trail", async () => {
    const outsider: Principal = {
      userId: randomUUID(),
      role: 'infra_admin',
      grants: [{ infrastructureId: randomUUID(), businessId: null }],
    }
    const auditBefore = await messaging.listAudit(admin, { infrastructureId: infra, limit: 1000 })
    for (let i = 0; i < 3; i++) {
      await expect(
        messaging.enqueue(outsider, { infrastructureId: infra, channelId, payload: { i } }),
      ).rejects.toMatchObject({ code: 'TENANT_SCOPE_VIOLATION' })
    }
    expect(await messaging.listAudit(admin, { infrastructureId: infra, limit: 1000 })).toEqual(auditBefore)
    const json = await cli('security-log', '--sqlite', file, '--actor', outsider.userId, '--json')
    expect(json.code, json.err).toBe(0)
    expect(JSON.parse(json.out)).toMatchObject([
      {
        actorId: outsider.userId,
        actorRole: 'infra_admin',
        action: 'outbox.enqueue',
        errorCode: 'TENANT_SCOPE_VIOLATION',
        refusals: 3,
        lastInfrastructureId: infra,
      },
    ])
    const text = await cli('security-log', '--sqlite', file, '--since', '1h')
    expect(text.out).toMatch(
      new RegExp(`${outsider.userId}\\s+infra_admin\\s+outbox\\.enqueue\\s+TENANT_SCOPE_VIOLATION\\s+3\\s`),
    )
    const none = await cli('security-log', '--sqlite', file, '--actor', randomUUID())
    expect(none.out).toBe("no refusals outside a caller's scope\n")
    const bad = await cli('security-log', '--sqlite', file, '--since', 'yesterday')
    expect(bad).toMatchObject({ code: 2, err: 'messaging: --since is a duration (24h) or an ISO date\n' })
  })

  it('lists the delivery events of a tenant with events, paged by --after, and refuses a bad cursor naming the flag', async () => {
    const { message } = await messaging.enqueue(admin, {
      infrastructureId: infra,
      channelId,
      payload: { n: 3 },
    })
    await messaging.cancel(admin, { infrastructureId: infra, messageId: message.id })
    const listed = await cli(
      'events',
      '--sqlite',
      file,
      '--infra',
      infra,
      '--type',
      'message.cancelled',
      '--json',
    )
    expect(listed.code, listed.err).toBe(0)
    const events = JSON.parse(listed.out) as { messageId: string; cursor: string }[]
    expect(events.map((e) => e.messageId)).toContain(message.id)
    const shown = await cli('events', '--sqlite', file, '--infra', infra)
    expect(shown.out).toContain('message.cancelled')
    expect(shown.out).toContain(message.id)
    const after = await cli('events', '--sqlite', file, '--infra', infra, '--after', events.at(-1)!.cursor)
    expect(after.out).toBe('no events\n')
    const bad = await cli('events', '--sqlite', file, '--infra', infra, '--after', 'yesterday')
    expect(bad.code).toBe(2)
    expect(bad.err).toContain('--after')
  })

  it("finds who queued a message, its own entry or its batch's, with audit --target", async () => {
    const batch = await messaging.enqueueMany(admin, [
      { infrastructureId: infra, channelId, payload: { n: 1 } },
      { infrastructureId: infra, channelId, payload: { n: 2 } },
    ])
    const second = batch[1]!.message.id
    const found = await cli('audit', '--sqlite', file, '--infra', infra, '--target', second, '--json')
    expect(found.code, found.err).toBe(0)
    const entries = JSON.parse(found.out) as {
      actorId: string
      action: string
      details: { messageIds: string[] }
    }[]
    expect(entries).toHaveLength(1)
    expect(entries[0]).toMatchObject({ actorId: admin.userId, action: 'outbox.enqueue' })
    expect(entries[0]!.details.messageIds).toEqual(batch.map((r) => r.message.id))
    const shown = await cli('audit', '--sqlite', file, '--infra', infra, '--target', second)
    expect(shown.out).toContain(admin.userId)
    expect(shown.out).toContain('outbox.enqueue')
    const none = await cli('audit', '--sqlite', file, '--infra', infra, '--target', randomUUID())
    expect(none.out).toBe('no audit entries\n')
    const bad = await cli('audit', '--sqlite', file, '--infra', infra, '--target', 'x\u0000')
    expect(bad.code).toBe(2)
    expect(bad.err).toContain('--target')
  })

  it('serves HTTP with the tokens of a file, and stops cleanly on SIGTERM', async () => {
    const tokens = join(dir, 'tokens.json')
    writeFileSync(tokens, JSON.stringify({ tok_admin_0123456789abcdef: admin }))
    const server = spawnCli(['serve', '--sqlite', file, '--port', '0', '--tokens', tokens, '--no-worker'])
    // Start-up (tsx compiling the sources, esbuild bundling the page) has a budget of its own.
    await until(() => /listening on (\S+)/.test(server.out()), 90_000, 50)
    const url = /listening on (\S+)/.exec(server.out())![1]!
    const ok = await fetch(`${url}/channels?infrastructureId=${infra}`, {
      headers: { authorization: 'Bearer tok_admin_0123456789abcdef' },
    })
    expect(ok.status).toBe(200)
    expect(((await ok.json()) as { channelKey: string }[]).map((c) => c.channelKey)).toEqual(['alerts'])
    const anonymous = await fetch(`${url}/channels?infrastructureId=${infra}`)
    expect(anonymous.status).toBe(401)
    // The web components' page and its bundle, with a real token map offering no sign-ins.
    const ui = /web components: (\S+)/.exec(server.out())![1]!
    const page = await fetch(ui)
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
    const html = await page.text()
    expect(html).toContain('messaging-channels')
    expect(html).not.toContain('tok_admin_0123456789abcdef')
    const bundle = await fetch(`${ui}messaging-ui.js`)
    expect(bundle.headers.get('content-type')).toContain('javascript')
    expect((await bundle.text()).length).toBeGreaterThan(10_000)
    server.child.kill('SIGTERM')
    expect(await server.exit).toBe(0)
  }, 120_000)
})
