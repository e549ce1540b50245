import { randomBytes, randomUUID } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMessaging, type Principal } from '../../src/index.js'
import { runCli, runCliWithInput } from './support.js'

const KEYS = { MESSAGING_SECRET_KEYS: `k1:${randomBytes(32).toString('base64')}` }
const SECRET = `whsec_${randomBytes(24).toString('base64')}`

describe('setting up a tenant from the command line', () => {
  let dir: string
  let file: string
  const infra = randomUUID()
  const reader = randomUUID()
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'messaging-cli-setup-'))
    file = join(dir, 'tenant.db')
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('creates channels (a secret from standard input or a file, sealed at rest), adds a member, then enqueues to it', async () => {
    const config = JSON.stringify({ url: 'https://hooks.example.com/in', secrets: [SECRET] })
    const hook = await runCliWithInput(
      KEYS,
      config,
      ...['channel', 'create', '--sqlite', file, '--infra', infra, '--key', 'ops-hook', '--type', 'webhook'],
      ...['--config-file', '-', '--max-attempts', '3', '--json'],
    )
    expect(hook.code, hook.err).toBe(0)
    const created = JSON.parse(hook.out) as { id: string; config: { secrets: string[] }; maxAttempts: number }
    expect(created).toMatchObject({ config: { secrets: ['[redacted]'] }, maxAttempts: 3 })

    const configFile = join(dir, 'email.json')
    writeFileSync(
      configFile,
      JSON.stringify({
        from: 'ops@acme.test',
        smtp: { host: 'smtp.acme.test', port: 587, auth: { user: 'u', pass: 'smtp-pass-0123' } },
      }),
    )
    const email = await runCli(
      KEYS,
      ...['channel', 'create', '--sqlite', file, '--infra', infra, '--key', 'mail', '--type', 'email'],
      ...['--config-file', configFile],
    )
    expect(email.code, email.err).toBe(0)
    expect(email.out).toMatch(
      /^created channel mail \(email\) [0-9a-f-]{36}\nconfig: .*"pass":"\[redacted\]"/,
    )

    const alerts = await runCli(
      KEYS,
      ...['channel', 'create', '--sqlite', file, '--infra', infra, '--key', 'alerts', '--type', 'in_app'],
      ...['--name', 'Alerts', '--config', '{}'],
    )
    expect(alerts.code, alerts.err).toBe(0)
    const member = await runCli(
      KEYS,
      ...['member', 'add', '--sqlite', file, '--infra', infra, '--channel', 'alerts', '--user', reader],
    )
    expect(member).toMatchObject({ code: 0, out: `added ${reader} to alerts (opted in)\n` })

    const list = await runCli(KEYS, 'channel', 'list', '--sqlite', file, '--infra', infra)
    expect(list.out).toMatch(/alerts\s+in_app\s+yes\s+-\s+[0-9a-f-]{36}\s+Alerts/)
    expect(list.out).toMatch(/ops-hook\s+webhook\s+yes\s+3/)
    const members = await runCli(
      KEYS,
      'member',
      'list',
      '--sqlite',
      file,
      '--infra',
      infra,
      '--channel',
      'alerts',
    )
    expect(members.out).toMatch(new RegExp(`${reader}\\s+\\(infrastructure\\)\\s+yes`))

    const queued = await runCli(
      KEYS,
      ...[
        'enqueue',
        '--sqlite',
        file,
        '--infra',
        infra,
        '--channel',
        'alerts',
        '--payload',
        '{"title":"hi"}',
      ],
    )
    expect(queued.code, queued.err).toBe(0)

    // Configure: a new URL, the stored secret kept by sending the marker back, then disabled.
    const configured = await runCli(
      KEYS,
      ...['channel', 'configure', '--sqlite', file, '--infra', infra, '--channel', 'ops-hook'],
      ...['--config', '{"url":"https://hooks.example.com/v2","secrets":["[redacted]"]}', '--disable'],
    )
    expect(configured.code, configured.err).toBe(0)
    expect(configured.out).toMatch(/^configured channel ops-hook \(webhook, disabled\)/)

    // The facade sees the secrets kept, sealed; neither appears in the database file.
    const messaging = createMessaging({ sqlitePath: file, secrets: undefined })
    const admin: Principal = {
      userId: randomUUID(),
      role: 'infra_admin',
      grants: [{ infrastructureId: infra, businessId: null }],
    }
    const channel = await messaging.getChannel(admin, { infrastructureId: infra, channelId: created.id })
    expect(channel.config).toMatchObject({ url: 'https://hooks.example.com/v2', secrets: ['[redacted]'] })
    await messaging.close()
    for (const f of readdirSync(dir).filter((f) => f.startsWith('tenant.db'))) {
      const bytes = readFileSync(join(dir, f)).toString('latin1')
      expect(bytes).not.toContain(SECRET)
      expect(bytes).not.toContain('smtp-pass-0123')
    }
  })

  it('refuses a secret given as an argument, naming the field, and creates nothing', async () => {
    const r = await runCli(
      KEYS,
      ...['channel', 'create', '--sqlite', file, '--infra', infra, '--key', 'leaky', '--type', 'webhook'],
      ...['--config', JSON.stringify({ url: 'https://hooks.example.com/x', secrets: [SECRET] })],
    )
    expect(r.code).toBe(2)
    expect(r.err).toBe(
      'messaging: --config holds the secret secrets: secrets never go on the command line, where other users and the shell history see them; put the config in a file (--config-file <file>) or pipe it in (--config-file -)\n',
    )
    expect(r.err + r.out).not.toContain(SECRET)
    const list = await runCli(KEYS, 'channel', 'list', '--sqlite', file, '--infra', infra, '--json')
    expect((JSON.parse(list.out) as { channelKey: string }[]).map((c) => c.channelKey)).not.toContain('leaky')
  })

  it('registers a status webhook endpoint (the secret printed once, sealed at rest), lists it without the secret, refuses a bad URL naming its flag, removes it', async () => {
    const at = ['--sqlite', file, '--infra', infra]
    const add = await runCli(
      KEYS,
      ...['event-endpoint', 'add', ...at, '--url', 'https://hooks.example.com/events'],
      ...['--type', 'message.dead', '--type', 'message.failed', '--json'],
    )
    expect(add.code, add.err).toBe(0)
    const made = JSON.parse(add.out) as { endpoint: { id: string; eventTypes: string[] }; secret: string }
    expect(made.secret).toMatch(/^whsec_/)
    expect(made.endpoint.eventTypes).toEqual(['message.dead', 'message.failed'])
    expect(readFileSync(file).includes(Buffer.from(made.secret.slice(6)))).toBe(false)
    const list = await runCli(KEYS, 'event-endpoint', 'list', ...at)
    expect(list.out).toMatch(
      new RegExp(
        `${made.endpoint.id}\\s+https://hooks.example.com/events\\s+message.dead,message.failed\\s+active\\s+0\\s+-`,
      ),
    )
    expect(list.out).not.toContain(made.secret.slice(6))
    const bad = await runCli(KEYS, 'event-endpoint', 'add', ...at, '--url', 'https://10.0.0.8/in')
    expect(bad.code).toBe(2)
    expect(bad.err).toMatch(/^messaging: --url: 10\.0\.0\.8 is a private address/)
    const badType = await runCli(
      KEYS,
      'event-endpoint',
      'add',
      ...at,
      '--url',
      'https://h.example.com/',
      '--type',
      'x',
    )
    expect(badType.code).not.toBe(0)
    expect(badType.err).toContain('must be one of message.delivered')
    const removed = await runCli(KEYS, 'event-endpoint', 'remove', ...at, '--endpoint', made.endpoint.id)
    expect(removed.out).toBe(`removed endpoint ${made.endpoint.id}\n`)
    expect(JSON.parse((await runCli(KEYS, 'event-endpoint', 'list', ...at, '--json')).out)).toEqual([])
  })

  it.each([
    [['stats'], 'stats'],
    [['redrive', '--channel', 'alerts'], 'redrive'],
    [['enqueue', '--channel', 'alerts', '--payload', '{}'], 'enqueue'],
    [['channel', 'list'], 'channel list'],
    [['channel', 'configure', '--channel', 'alerts', '--disable'], 'channel configure'],
    [['member', 'add', '--channel', 'alerts', '--user', randomUUID()], 'member add'],
    [['member', 'list', '--channel', 'alerts'], 'member list'],
  ])('%s on a file that does not exist fails (exit 1) and creates nothing', async (args) => {
    const typo = join(dir, 'typo.db')
    const r = await runCli(KEYS, ...args, '--sqlite', typo, '--infra', infra)
    expect(r.code).toBe(1)
    expect(r.err).toBe(
      `messaging: no SQLite database at ${typo}: this command opens an existing one only (\`messaging channel create\` or \`messaging serve\` starts one)\n`,
    )
    expect(existsSync(typo)).toBe(false)
  })

  it('prune on a file that does not exist fails likewise', async () => {
    const typo = join(dir, 'typo2.db')
    const r = await runCli({}, 'prune', '--sqlite', typo, '--older-than', '30d')
    expect(r.code).toBe(1)
    expect(existsSync(typo)).toBe(false)
  })

  it.each([
    [
      ['stats', '--infra', 'not-a-uuid'],
      "option '--infra <uuid>' argument 'not-a-uuid' is invalid. must be a UUID",
    ],
    [
      ['enqueue', '--infra', infra, '--channel', 'Bad Key', '--payload', '{}'],
      "option '--channel <uuid|key>' argument 'Bad Key' is invalid. must be a channel id (UUID) or key",
    ],
    [
      ['enqueue', '--infra', infra, '--channel', 'alerts', '--payload', '{}', '--business', 'b-1'],
      "option '--business <uuid>' argument 'b-1' is invalid. must be a UUID",
    ],
    [['enqueue', '--infra', infra, '--channel', 'alerts', '--payload', '{oops'], '--payload must be JSON'],
    [
      ['enqueue', '--infra', infra, '--channel', 'alerts', '--payload', '{}', '--recipient', ''],
      '--recipient (recipients.0):',
    ],
    [
      ['channel', 'create', '--infra', infra, '--key', 'Bad_Key', '--type', 'in_app'],
      '--key: must be a lower-case slug (a-z, 0-9, single - or _ between)',
    ],
    [
      ['channel', 'create', '--infra', infra, '--key', 'x', '--type', 'pigeon'],
      '--type: unknown channel type pigeon',
    ],
    [
      ['channel', 'create', '--infra', infra, '--key', 'x', '--type', 'in_app', '--config', '[1]'],
      '--config must be a JSON object',
    ],
    [
      ['channel', 'create', '--infra', infra, '--key', 'x', '--type', 'in_app', '--max-attempts', '0'],
      "option '--max-attempts <n>' argument '0' is invalid. must be a whole number, at least 1",
    ],
    [
      ['channel', 'configure', '--infra', infra, '--channel', 'alerts'],
      'nothing to change: give --name, --config, --config-file, --enable, --disable or --max-attempts',
    ],
    [
      ['member', 'add', '--infra', infra, '--channel', 'alerts', '--user', 'bob'],
      "option '--user <uuid>' argument 'bob' is invalid. must be a UUID",
    ],
    [
      [
        'stats',
        '--principal',
        JSON.stringify({
          userId: randomUUID(),
          role: 'service',
          grants: [{ infrastructureId: 'nope', businessId: null }],
        }),
      ],
      '--principal: grants.0.infrastructureId:',
    ],
  ])('names the flag of a bad value with a usage error (exit 2): %s', async (args, message) => {
    const r = await runCli(KEYS, ...args, '--sqlite', file)
    expect(r.code, r.err).toBe(2)
    expect(r.out).toBe('')
    expect(r.err).toContain(message)
    expect(r.err).not.toContain('principal.grants')
  })

  it('tells a failure of the store from a usage error: a taken key, an unknown channel, secrets without a key (exit 1)', async () => {
    const taken = await runCli(
      KEYS,
      'channel',
      'create',
      '--sqlite',
      file,
      '--infra',
      infra,
      '--key',
      'alerts',
      '--type',
      'in_app',
    )
    expect(taken).toMatchObject({ code: 1, err: expect.stringContaining('messaging: CONFLICT: ') })
    const unknown = await runCli(
      KEYS,
      'member',
      'list',
      '--sqlite',
      file,
      '--infra',
      infra,
      '--channel',
      'nope',
    )
    expect(unknown).toMatchObject({ code: 1, err: `messaging: no channel nope in infrastructure ${infra}\n` })
    const keyless = await runCliWithInput(
      {},
      JSON.stringify({ url: 'https://hooks.example.com/in', secrets: [SECRET] }),
      ...['channel', 'create', '--sqlite', file, '--infra', infra, '--key', 'keyless', '--type', 'webhook'],
      '--config-file',
      '-',
    )
    expect(keyless).toMatchObject({
      code: 1,
      err: 'messaging: VALIDATION_FAILED: config: this store keeps credentials only sealed: configure a secret key (MESSAGING_SECRET_KEYS or the secrets option)\n',
    })
    const badFile = join(dir, 'bad-config.json')
    writeFileSync(badFile, JSON.stringify({ url: 'ftp://x', secrets: [SECRET] }))
    const invalid = await runCli(
      KEYS,
      ...['channel', 'create', '--sqlite', file, '--infra', infra, '--key', 'bad', '--type', 'webhook'],
      ...['--config-file', badFile],
    )
    expect(invalid.code).toBe(2)
    expect(invalid.err).toMatch(/^messaging: --config-file \(config\.url\): /)
    expect(invalid.err + invalid.out).not.toContain(SECRET)
  })

  it('documents the set-up commands in --help', async () => {
    for (const [args, option] of [
      [['channel', 'create'], '--config-file <file|->'],
      [['channel', 'configure'], '--disable'],
      [['channel', 'list'], '--json'],
      [['member', 'add'], '--opted-out'],
      [['member', 'remove'], '--user <uuid>'],
      [['member', 'list'], '--channel <uuid|key>'],
    ] as const) {
      const r = await runCli({}, ...args, '--help')
      expect(r.code).toBe(0)
      expect(r.out).toContain(`Usage: messaging ${args.join(' ')}`)
      expect(r.out).toContain(option)
    }
  })
})
