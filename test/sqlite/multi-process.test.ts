import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { createSqliteStorage, SQLITE_MIGRATIONS } from '../../src/adapters/sqlite/index.js'
import { at, channel, enqueueOne, message, scopeOf, uuid } from '../support/fixtures.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const child = fileURLToPath(new URL('./child-worker.ts', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'messaging-sqlite-processes-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

interface Running {
  proc: ChildProcessWithoutNullStreams
  ready: Promise<void>
  result: Promise<unknown>
}

/** Starts `node --import tsx child-worker.ts ...`: a real second OS process running the adapter's code. */
function start(args: string[]): Running {
  const proc = spawn(process.execPath, ['--import', 'tsx', child, ...args], { cwd: root })
  let out = ''
  let err = ''
  let onReady: () => void = () => {}
  const ready = new Promise<void>((resolve) => {
    onReady = resolve
  })
  proc.stdout.on('data', (d: Buffer) => {
    out += d.toString()
    if (out.startsWith('ready\n')) onReady()
  })
  proc.stderr.on('data', (d: Buffer) => {
    err += d.toString()
  })
  const result = new Promise<unknown>((resolve, reject) => {
    proc.on('close', (code) => {
      if (code !== 0) return reject(new Error(`child exited ${code}: ${err}`))
      resolve(JSON.parse(out.split('\n').filter(Boolean).at(-1)!))
    })
  })
  return { proc, ready: Promise.race([ready, result.then(() => {})]), result }
}

/** Starts the children, lets them all load, then releases them at once. */
async function together(argsList: string[][]): Promise<unknown[]> {
  const running = argsList.map(start)
  await Promise.all(running.map((r) => r.ready))
  for (const r of running) r.proc.stdin.write('go\n')
  return Promise.all(running.map((r) => r.result))
}

describe('sqlite: two OS processes on one database file', () => {
  it('never lets two processes hold one message: claims from both are disjoint and cover the backlog', async () => {
    const path = join(dir, 'claims.db')
    const infra = uuid()
    const admin = scopeOf('infra_admin', [[infra, null]])
    const storage = createSqliteStorage({ path })
    const ch = channel(infra)
    const total = 400
    await storage.unitOfWork.run(admin, async (r) => {
      await r.channels.insert(admin, ch)
      for (let i = 0; i < total; i++)
        await enqueueOne(r, admin, message(infra, ch.id, { availableAt: at(i) }))
    })
    await storage.close()

    const [a, b] = (await together([
      ['claim', path, infra],
      ['claim', path, infra],
    ])) as Array<{ pid: number; claims: number; held: string[] }>
    const heldA = new Set(a!.held)
    const both = b!.held.filter((id) => heldA.has(id))
    console.log(
      `process ${a!.pid} held ${a!.held.length} messages in ${a!.claims} claims, ` +
        `process ${b!.pid} held ${b!.held.length} in ${b!.claims}; held by both: ${both.length}; backlog ${total}`,
    )
    expect(both).toEqual([])
    expect(a!.held.length).toBeGreaterThan(0)
    expect(b!.held.length).toBeGreaterThan(0)
    expect(new Set([...a!.held, ...b!.held]).size).toBe(total)
    expect(a!.held.length + b!.held.length).toBe(total)

    // The file agrees: every message was leased exactly once and acked by its holder.
    const db = new Database(path, { readonly: true })
    const rows = db
      .prepare('select status, attempts, count(*) as n from messaging_outbox group by status, attempts')
      .all()
    db.close()
    expect(rows).toEqual([{ status: 'processed', attempts: 1, n: total }])
  })

  it('migrates a fresh file once when four processes open it at the same moment', async () => {
    const path = join(dir, 'fresh.db')
    const infras = [uuid(), uuid(), uuid(), uuid()]
    const results = (await together(infras.map((i) => ['open', path, i]))) as Array<{ wrote: boolean }>
    expect(results.map((r) => r.wrote)).toEqual([true, true, true, true])
    const db = new Database(path, { readonly: true })
    const versions = db.prepare('select version from messaging_migrations order by version').all()
    const channels = db.prepare('select count(*) as n from messaging_channels').get()
    const mode = db.pragma('journal_mode', { simple: true })
    db.close()
    expect(versions).toEqual(SQLITE_MIGRATIONS.map((m) => ({ version: m.version })))
    expect(channels).toEqual({ n: 4 })
    expect(mode).toBe('wal')
  })
})
