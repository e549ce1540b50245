import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMessaging, type Messaging, type Principal } from '../../src/index.js'
import { createSecretBox, secretKeysFromEnv } from '../../src/secrets/index.js'
import { until } from '../support/transports.js'
import { runCli } from './support.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const BIN = join(ROOT, 'bin/messaging.mjs')
/** A child's start-up on a loaded 2-core machine: its own budget, before anything is asserted. */
const START_BUDGET_MS = 90_000

interface Child {
  readonly process: ChildProcess
  readonly out: () => string
  readonly err: () => string
  readonly exit: Promise<number | null>
}

function spawnCli(args: string[], extraEnv: Record<string, string> = {}): Child {
  const { DATABASE_URL: _, MESSAGING_SECRET_KEYS: __, ...env } = process.env
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString()
  })
  child.stderr!.on('data', (c: Buffer) => {
    err += c.toString()
  })
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  return { process: child, out: () => out, err: () => err, exit }
}

const logLines = (c: Child) =>
  c
    .err()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown> & { msg: string })

const dir = mkdtempSync(join(tmpdir(), 'messaging-secrets-'))
const children: Child[] = []
afterAll(() => {
  for (const c of children) if (c.process.exitCode === null) c.process.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})

describe('a worker that cannot open secrets says so', () => {
  const file = join(dir, 'sealed.db')
  const key = `k1:${randomBytes(32).toString('base64')}`
  const infra = randomUUID()
  const admin: Principal = {
    userId: randomUUID(),
    role: 'infra_admin',
    grants: [{ infrastructureId: infra, businessId: null }],
  }
  let messaging: Messaging
  let receiver: Server
  let port: number
  const received: string[] = []
  let channelId: string
  const ids: string[] = []

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = ''
      req.on('data', (c: Buffer) => {
        body += c.toString()
      })
      req.on('end', () => {
        received.push(body)
        res.writeHead(204).end()
      })
    })
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
    port = (receiver.address() as AddressInfo).port
    messaging = createMessaging({
      sqlitePath: file,
      secrets: createSecretBox(secretKeysFromEnv({ MESSAGING_SECRET_KEYS: key })),
      destinations: { allowedRanges: ['127.0.0.0/8'], allowedPorts: [port] },
    })
    const c = await messaging.createChannel(admin, {
      infrastructureId: infra,
      channelKey: 'hooks',
      type: 'webhook',
      maxAttempts: 2,
      config: {
        url: `http://127.0.0.1:${port}/in`,
        secrets: [`whsec_${randomBytes(24).toString('base64')}`],
      },
    })
    channelId = c.id
    for (let i = 0; i < 3; i++) {
      const { message } = await messaging.enqueue(admin, {
        infrastructureId: infra,
        channelId,
        payload: { i },
      })
      ids.push(message.id)
    }
  })
  afterAll(async () => {
    await messaging?.close()
    await new Promise((resolve) => receiver?.close(resolve))
  })

  const workerArgs = () => [
    'worker',
    '--sqlite',
    file,
    '--poll-ms',
    '50',
    '--allow-http',
    '--allow-range',
    '127.0.0.0/8',
    '--allow-port',
    String(port),
  ]

  it('without MESSAGING_SECRET_KEYS: warns at start naming the setting, holds the channel’s messages without spending an attempt, and says which channel; with the key the same messages are delivered', async () => {
    const keyless = spawnCli(workerArgs())
    children.push(keyless)
    // The warning at start, then the channel's: its messages are held, no attempt spent.
    await until(
      () => logLines(keyless).some((l) => l.msg === 'messages of this channel are held, attempts not spent'),
      START_BUDGET_MS,
      50,
    )
    const lines = logLines(keyless)
    expect(lines.find((l) => l.setting === 'MESSAGING_SECRET_KEYS')?.msg).toMatch(
      /^MESSAGING_SECRET_KEYS is not set: messages of channels with sealed credentials/,
    )
    const held = lines.find((l) => l.msg === 'messages of this channel are held, attempts not spent')!
    expect(held).toMatchObject({ infrastructureId: infra, channelId, reason: 'secrets_unavailable' })
    expect(String(held.detail)).toContain('MESSAGING_SECRET_KEYS')
    // Once per channel, not once per message (three are held).
    expect(lines.filter((l) => l.msg === held.msg)).toHaveLength(1)
    keyless.process.kill('SIGTERM')
    expect(await keyless.exit, keyless.err()).toBe(0)
    for (const id of ids) {
      const m = await messaging.getMessage(admin, { infrastructureId: infra, messageId: id })
      expect(m).toMatchObject({ status: 'pending', attempts: 0 })
      expect(await messaging.listAttempts(admin, { infrastructureId: infra, messageId: id })).toEqual([])
    }
    expect(received).toEqual([])

    // The same messages, a worker with the key: delivered, first try. They were held
    // (their due time pushed back by the pause), so the test makes them due again.
    const keyed = spawnCli(workerArgs(), { MESSAGING_SECRET_KEYS: key })
    children.push(keyed)
    const db = new Database(file)
    try {
      await until(
        () => {
          db.prepare("update messaging_outbox set available_at = 0 where status = 'pending'").run()
          return received.length === ids.length
        },
        START_BUDGET_MS,
        100,
      )
    } finally {
      db.close()
    }
    keyed.process.kill('SIGTERM')
    expect(await keyed.exit, keyed.err()).toBe(0)
    expect(keyed.err()).not.toContain('MESSAGING_SECRET_KEYS is not set')
    for (const id of ids) {
      expect(await messaging.getMessage(admin, { infrastructureId: infra, messageId: id })).toMatchObject({
        status: 'processed',
        attempts: 1,
      })
    }
  }, 240_000)

  it('redrive --channel moves dead messages and says plainly that failed ones stay, with their count', async () => {
    // A tenant of its own: nothing else of this file is due there.
    const infra = randomUUID()
    const admin: Principal = {
      userId: randomUUID(),
      role: 'infra_admin',
      grants: [{ infrastructureId: infra, businessId: null }],
    }
    const { id: channelId } = await messaging.createChannel(admin, {
      infrastructureId: infra,
      channelKey: 'hooks',
      type: 'in_app',
      maxAttempts: 1,
    })
    const failedOne = await messaging.enqueue(admin, { infrastructureId: infra, channelId, payload: 'f' })
    const deadOne = await messaging.enqueue(admin, { infrastructureId: infra, channelId, payload: 'd' })
    const service: Principal = { ...admin, userId: randomUUID(), role: 'service' }
    for (;;) {
      const [held] = await messaging.claim(service, { infrastructureId: infra, limit: 1 })
      if (!held) break
      await messaging.ack(service, {
        infrastructureId: infra,
        messageId: held.id,
        leaseToken: held.leaseToken,
        outcome: 'failed',
        reason: 'receiver said no',
        // Without a retry delay a failure is for good; with one, the last attempt makes it dead.
        ...(held.id === deadOne.message.id && { retryAfterMs: 0 }),
      })
    }
    const status = async (id: string) =>
      (await messaging.getMessage(admin, { infrastructureId: infra, messageId: id })).status
    expect(await status(failedOne.message.id)).toBe('failed')
    expect(await status(deadOne.message.id)).toBe('dead')
    const r = await runCli({}, 'redrive', '--sqlite', file, '--infra', infra, '--channel', 'hooks')
    expect(r.code, r.err).toBe(0)
    expect(r.out).toBe(
      'redriven 1 dead message of channel hooks\n' +
        '1 failed message of channel hooks not moved: a channel redrive moves dead messages only; redrive a failed one with --message <uuid> (list them: GET /messages?status=failed)\n',
    )
    expect(await status(deadOne.message.id)).toBe('pending')
    const one = await runCli(
      {},
      'redrive',
      '--sqlite',
      file,
      '--infra',
      infra,
      '--message',
      failedOne.message.id,
    )
    expect(one.out).toBe(`redriven ${failedOne.message.id} (now pending)\n`)
    const help = await runCli({}, 'redrive', '--help')
    expect(help.out.replace(/\s+/g, ' ')).toContain('failed ones are not moved: give each with --message')
  })
})

describe('demo --db keeps a database a worker can use', () => {
  it("prints the key it sealed the channels' credentials with; a worker given it opens them and delivers (the held case without a key is the test above)", async () => {
    const file = join(dir, 'demo.db')
    const demo = spawnCli(['demo', '--db', file])
    children.push(demo)
    expect(await demo.exit, demo.out() + demo.err()).toBe(0)
    const m = /MESSAGING_SECRET_KEYS=(demo:\S+) messaging worker --sqlite (\S+)/.exec(demo.out())
    expect(m, demo.out()).not.toBeNull()
    expect(m![2]).toBe(file)
    const key = m![1]!

    // A message for the kept webhook channel (its receiver is gone with the demo).
    const db = new Database(file, { readonly: true })
    const channel = db
      .prepare(
        "select infrastructure_id as infra, id from messaging_channels where channel_key = 'ops-webhook' limit 1",
      )
      .get() as { infra: string; id: string }
    db.close()
    const admin: Principal = {
      userId: randomUUID(),
      role: 'infra_admin',
      grants: [{ infrastructureId: channel.infra, businessId: null }],
    }
    const messaging = createMessaging({
      sqlitePath: file,
      secrets: createSecretBox(secretKeysFromEnv({ MESSAGING_SECRET_KEYS: key })),
    })
    try {
      // The key opens what the demo sealed: resealing reads every secret of the tenant.
      await messaging.resealSecrets(admin, { infrastructureId: channel.infra })
      const { message } = await messaging.enqueue(admin, {
        infrastructureId: channel.infra,
        channelId: channel.id,
        payload: { after: 'the demo' },
      })
      const worker = spawnCli(['worker', '--sqlite', file, '--poll-ms', '50'], { MESSAGING_SECRET_KEYS: key })
      children.push(worker)
      // With the key the worker gets as far as the transport: an attempt is spent (the
      // receiver is gone), never held for a secret.
      await until(
        async () =>
          (await messaging.listAttempts(admin, { infrastructureId: channel.infra, messageId: message.id }))
            .length > 0,
        START_BUDGET_MS,
        100,
      )
      worker.process.kill('SIGTERM')
      expect(await worker.exit, worker.err()).toBe(0)
      const [attempt] = await messaging.listAttempts(admin, {
        infrastructureId: channel.infra,
        messageId: message.id,
      })
      expect(attempt!.errorCode).not.toBe('SECRET_UNAVAILABLE')
      expect(worker.err()).not.toContain('secrets_unavailable')
    } finally {
      await messaging.close()
    }
  }, 240_000)
})
