import { randomBytes, randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import {
  buildAndPack,
  copyHost,
  freshDirectory,
  installPackage,
  type PackedPackage,
  resultOf,
  run,
} from './support.js'

/**
 * The package as users get it: `npm run build`, `npm pack` once, the tarball installed into a
 * fresh directory outside the checkout, and host apps of each kind run against it on SQLite
 * and PostgreSQL. Nothing is fetched: the installs link the checkout's packages.
 */

/** What the host apps install beside the package (a peer or their own framework). */
const HOST_DEPENDENCIES = [
  'express',
  'hono',
  '@hono/node-server',
  '@nestjs/common',
  '@nestjs/core',
  '@nestjs/platform-express',
  'reflect-metadata',
  'rxjs',
  'pg',
  'typescript',
  '@types/node',
  '@types/express',
]

interface HostResult {
  readonly host: string
  readonly module?: string
  readonly ids: { webhookMessageId: string; inboxMessageId: string }
  readonly statuses: Record<string, string>
  readonly inbox: { messageId: string; payload: unknown; createdAt: boolean }[]
}

/** A Standard Webhooks receiver on loopback that keeps each verified delivery by webhook-id. */
async function startReceiver(secret: string) {
  const verifier = new Webhook(secret)
  const verified = new Map<string, unknown>()
  let forged = 0
  const body = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let text = ''
      req.on('data', (c: Buffer) => {
        text += c.toString()
      })
      req.on('end', () => resolve(text))
    })
  const server: Server = createServer(async (req, res) => {
    const text = await body(req)
    try {
      verifier.verify(text, req.headers as Record<string, string>)
      verified.set(String(req.headers['webhook-id']), JSON.parse(text))
      res.writeHead(204).end()
    } catch {
      forged++
      res.writeHead(401).end()
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/ops`,
    verified,
    forged: () => forged,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

const SECRET = `whsec_${randomBytes(24).toString('base64')}`
let work: string
let app: string
let packed: PackedPackage
let receiver: Awaited<ReturnType<typeof startReceiver>>
const databases: TestDatabase[] = []

beforeAll(async () => {
  work = freshDirectory('install')
  packed = buildAndPack(work)
  app = join(work, 'app')
  installPackage(app, packed, HOST_DEPENDENCIES)
  for (const host of ['express-app.mjs', 'hono-app.mjs', 'plain-esm.mjs', 'nest-app']) copyHost(host, app)
  receiver = await startReceiver(SECRET)
}, 300_000)

afterAll(async () => {
  await receiver?.close()
  for (const db of databases) await db.drop()
})

describe('the tarball', () => {
  it('holds the builds, their types, the UI bundle, the SQL and the bin; no sources, tests or maps', () => {
    const files = new Set(packed.files)
    for (const f of [
      'package.json',
      'bin/messaging.mjs',
      'sql/0001_roles.sql',
      'dist/esm/index.js',
      'dist/esm/index.d.ts',
      'dist/cjs/index.js',
      'dist/cjs/index.d.ts',
      'dist/cjs/package.json',
      'dist/esm/ui/messaging-ui.js',
      'dist/cjs/ui/messaging-ui.js',
      'dist/esm/cli/main.js',
    ])
      expect(files, f).toContain(f)
    expect(
      packed.files.filter((f) => /^(src|test|bench|docs|scripts)\/|\.map$|\.tsbuildinfo$/.test(f)),
    ).toEqual([])
  })

  it('gives every entry an import and a require condition, each with its types, all present', () => {
    const missing: string[] = []
    for (const [entry, target] of Object.entries(packed.manifest.exports)) {
      if (typeof target === 'string') {
        if (!packed.files.includes(target.slice(2))) missing.push(`${entry}: ${target}`)
        continue
      }
      const conditions = target as Record<string, { types: string; default: string }>
      expect(Object.keys(conditions), entry).toEqual(['import', 'require'])
      for (const c of Object.values(conditions))
        for (const file of [c.types, c.default])
          if (!packed.files.includes(file.slice(2))) missing.push(`${entry}: ${file}`)
    }
    expect(missing).toEqual([])
  })

  it('maps every subpath for TypeScript without exports support (moduleResolution node10) to the CommonJS types', () => {
    const manifest = packed.manifest as PackedPackage['manifest'] & {
      typesVersions: Record<string, Record<string, string[]>>
      types: string
    }
    const subpaths = Object.entries(packed.manifest.exports).filter(
      ([entry, target]) => entry !== '.' && typeof target !== 'string',
    )
    expect(Object.keys(manifest.typesVersions['*']!).sort()).toEqual(subpaths.map(([e]) => e.slice(2)).sort())
    for (const [entry, target] of subpaths)
      expect(manifest.typesVersions['*']![entry.slice(2)], entry).toEqual([
        (target as { require: { types: string } }).require.types,
      ])
    expect(manifest.types).toBe('./dist/cjs/index.d.ts')
  })
})

describe('every entry resolves from the installed package', () => {
  const entries = () =>
    Object.keys(packed.manifest.exports)
      .filter((e) => e !== './package.json' && !e.endsWith('.js'))
      .map((e) => (e === '.' ? 'messaging' : `messaging/${e.slice(2)}`))

  /** Loads each entry with require() and import() in `cwd`: its export names, or the error. */
  async function load(cwd: string, ids: readonly string[]) {
    const script = `
      const out = { cjs: {}, esm: {} }
      const names = (m) => Object.keys(m).filter((k) => k !== 'default').sort()
      const fail = (e) => ({ error: e.code + ' ' + String(e.message).split('\\n')[0] })
      for (const id of ${JSON.stringify(ids)}) {
        try { out.cjs[id] = names(require(id)) } catch (e) { out.cjs[id] = fail(e) }
      }
      ;(async () => {
        for (const id of ${JSON.stringify(ids)}) {
          try { out.esm[id] = names(await import(id)) } catch (e) { out.esm[id] = fail(e) }
        }
        process.stdout.write('RESULT ' + JSON.stringify(out) + '\\n')
      })()`
    return resultOf<{ cjs: Record<string, unknown>; esm: Record<string, unknown> }>(
      await run(process.execPath, ['-e', script], { cwd, timeoutMs: 60_000 }),
    )
  }

  /** Entries that load an optional peer on import (the host installs it when it uses them). */
  const PEERS: Record<string, string> = {
    'messaging/postgres': 'pg',
    'messaging/http/nest': '@nestjs/common',
    'messaging/ui': 'lit',
  }

  it('with only the declared dependencies installed, every entry loads but those of an optional peer, which name it', async () => {
    const bare = join(work, 'bare')
    installPackage(bare, packed, [])
    const r = await load(bare, entries())
    for (const id of entries()) {
      const peer = PEERS[id]
      if (peer === undefined) {
        expect(r.cjs[id], id).toEqual(expect.arrayContaining([expect.any(String)]))
        expect(r.esm[id], id).toEqual(r.cjs[id])
      } else {
        expect(r.cjs[id], id).toEqual({ error: expect.stringContaining(`'${peer}'`) })
        expect(r.esm[id], id).toEqual({ error: expect.stringContaining(`'${peer}'`) })
      }
    }
  })

  it('with the peers installed, every entry loads through require() in CommonJS and import() in ES modules, to the same names', async () => {
    const withPeers = join(work, 'with-peers')
    installPackage(withPeers, packed, [
      'pg',
      '@nestjs/common',
      '@nestjs/core',
      'reflect-metadata',
      'rxjs',
      'lit',
    ])
    const r = await load(withPeers, entries())
    for (const id of entries()) {
      expect(r.esm[id], id).toEqual(expect.arrayContaining([expect.any(String)]))
      expect(r.cjs[id], id).toEqual(r.esm[id])
    }
    expect(r.esm['messaging/ui']).toEqual(expect.arrayContaining(['MessagingChannels', 'createUiClient']))
  })
})

describe('host apps on the installed package', () => {
  it('a NestJS app compiles to CommonJS with tsc: nodenext (the Nest CLI default) and classic module: commonjs', async () => {
    const tsc = join(app, 'node_modules/typescript/bin/tsc')
    const cwd = join(app, 'nest-app')
    const nodenext = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd, timeoutMs: 120_000 })
    expect(nodenext.stdout + nodenext.stderr).toBe('')
    expect(nodenext.code).toBe(0)
    const classic = await run(process.execPath, [tsc, '-p', 'tsconfig.commonjs.json'], {
      cwd,
      timeoutMs: 120_000,
    })
    expect(classic.stdout + classic.stderr).toBe('')
    expect(classic.code).toBe(0)
  }, 240_000)

  const hosts: [name: string, command: string[]][] = [
    ['Express 5 (ESM)', ['express-app.mjs']],
    ['Hono (ESM)', ['hono-app.mjs']],
    ['NestJS 11 (CommonJS, compiled by tsc)', ['nest-app/dist/main.js']],
    ['plain node:http (ESM)', ['plain-esm.mjs']],
  ]
  for (const store of ['sqlite', 'postgres'] as const) {
    it.each(hosts)(
      `%s on ${store}: creates channels, enqueues through its own route, delivers a signed webhook, reads the inbox through messaging/client`,
      async (name, args) => {
        const env: Record<string, string> = {
          STORE: store,
          WEBHOOK_URL: receiver.url,
          WEBHOOK_SECRET: SECRET,
        }
        if (store === 'sqlite') env.SQLITE_FILE = join(work, `${args[0]!.replace(/\W/g, '-')}.db`)
        else {
          const db = await createTestDatabase(`install_${args[0]!.replace(/\W/g, '_')}`)
          databases.push(db)
          env.DATABASE_URL = db.appUrl
        }
        const result = resultOf<HostResult>(
          await run(process.execPath, args, { cwd: app, env, timeoutMs: 60_000 }),
        )
        expect(result.statuses, name).toEqual({ webhookMessageId: 'processed', inboxMessageId: 'processed' })
        expect(receiver.verified.get(result.ids.webhookMessageId)).toMatchObject({
          event: expect.any(String),
        })
        expect(result.inbox).toEqual([
          { messageId: result.ids.inboxMessageId, payload: { title: expect.any(String) }, createdAt: true },
        ])
        if (result.host === 'nest') expect(result.module).toBe('commonjs')
        expect(receiver.forged()).toBe(0)
      },
      90_000,
    )
  }
})

describe('the command line from the installed package', () => {
  const bin = () => join(app, 'node_modules/.bin/messaging')

  it('npx messaging demo runs the main job end to end and exits 0', async () => {
    const demo = await run(bin(), ['demo'], { cwd: app, timeoutMs: 120_000 })
    expect(demo.timedOut).toBe(false)
    expect(demo.code, `${demo.stdout}\n${demo.stderr}`).toBe(0)
    expect(demo.stdout).toMatch(/demo: all \d+ checks passed\n/)
    expect(demo.stdout).toContain('Delivery report (per tenant and channel)')
  }, 150_000)

  describe('no error path hangs: each exits with its usage (2) or runtime (1) code', () => {
    const infra = randomUUID()
    let busy: Server
    let busyPort: number
    let closedPort: number
    let db: string
    const listen = async (server: Server) => {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
      return (server.address() as AddressInfo).port
    }
    beforeAll(async () => {
      db = join(work, 'cli.db')
      const created = await run(
        bin(),
        ['channel', 'create', '--sqlite', db, '--infra', infra, '--key', 'alerts', '--type', 'in_app'],
        { cwd: app, timeoutMs: 120_000 },
      )
      expect(created.code, created.stderr).toBe(0)
      busy = createServer()
      busyPort = await listen(busy)
      // A port that was free a moment ago with nothing listening: connections are refused.
      const probe = createServer()
      closedPort = await listen(probe)
      await new Promise<void>((resolve) => probe.close(() => resolve()))
    }, 150_000)
    afterAll(() => new Promise<void>((resolve) => busy.close(() => resolve())))

    const cases: [label: string, args: () => string[], code: number, message: RegExp][] = [
      ['an unknown command', () => ['deliver'], 2, /unknown command 'deliver'/],
      [
        'a malformed flag value',
        () => ['stats', '--infra', 'not-a-uuid'],
        2,
        /'--infra <uuid>' argument 'not-a-uuid' is invalid/,
      ],
      [
        'a missing required flag',
        () => ['enqueue', '--infra', infra],
        2,
        /required option '--channel <uuid\|key>' not specified/,
      ],
      ['migrate without PostgreSQL', () => ['migrate'], 2, /migrate needs --database-url/],
      [
        'a SQLite file that does not exist',
        () => ['stats', '--sqlite', join(work, 'typo.db'), '--infra', infra],
        1,
        /no SQLite database at/,
      ],
      [
        'PostgreSQL refusing connections',
        () => [
          'stats',
          '--database-url',
          `postgres://app:s3cret-pw@127.0.0.1:${closedPort}/app`,
          '--infra',
          infra,
        ],
        1,
        /STORAGE_FAILURE|ECONNREFUSED|connect/,
      ],
      [
        'an unknown channel',
        () => ['enqueue', '--sqlite', db, '--infra', infra, '--channel', 'nope', '--payload', '{}'],
        1,
        /NOT_FOUND|no channel/,
      ],
      [
        'a config file that cannot be read',
        () => [
          ...['channel', 'create', '--sqlite', db, '--infra', infra, '--key', 'x', '--type', 'in_app'],
          ...['--config-file', join(work, 'none.json')],
        ],
        1,
        /cannot read/,
      ],
      [
        'a principal file that cannot be read',
        () => ['stats', '--sqlite', db, '--principal', `@${join(work, 'none.json')}`],
        1,
        /cannot read/,
      ],
      [
        'serve with a tokens file that cannot be read',
        () => ['serve', '--sqlite', db, '--tokens', join(work, 'none.json'), '--port', '0'],
        1,
        /cannot read the tokens file/,
      ],
      [
        'serve on a port in use',
        () => ['serve', '--sqlite', db, '--host', '127.0.0.1', '--port', String(busyPort)],
        1,
        /EADDRINUSE|cannot listen/,
      ],
      [
        'the demo on a port in use',
        () => ['demo', '--memory', '--port', String(busyPort)],
        1,
        /EADDRINUSE|cannot listen/,
      ],
      [
        'the demo with a bad scale',
        () => ['demo', '--scale', 'lots'],
        2,
        /'--scale <n>' argument 'lots' is invalid/,
      ],
    ]

    it.each(cases)(
      '%s',
      async (_label, args, code, message) => {
        // Start-up gets up to a minute on a loaded machine; after its error, 10 s to exit.
        const r = await run(bin(), args(), { cwd: app, timeoutMs: 60_000, exitAfterErrorMs: 10_000 })
        expect(r.timedOut, `still running:\n${r.stdout}\n${r.stderr}`).toBe(false)
        expect(r.code, r.stderr).toBe(code)
        expect(r.stderr).toMatch(message)
        expect(r.stderr).not.toContain('s3cret-pw')
      },
      75_000,
    )
  })
})
