import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'messaging-sqlite-quickstart-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const quickstart = (path: string) =>
  promisify(execFile)(process.execPath, ['--import', 'tsx', 'examples/sqlite-quickstart.ts', path], {
    cwd: root,
  })

describe('examples/sqlite-quickstart.ts', () => {
  it('runs the module on a SQLite file, and a second run finds the first run’s data', async () => {
    const path = join(dir, 'messaging.db')
    const first = await quickstart(path)
    expect(first.stdout).toMatch(/created channel ops-alerts/)
    expect(first.stdout).toMatch(/delivered [0-9a-f-]{36}: acked=true status=processed/)
    const second = await quickstart(path)
    expect(second.stdout).toMatch(/channel ops-alerts already in/)
    expect(second.stdout).toMatch(/already enqueued today: [0-9a-f-]{36} \(processed\)/)
    expect(second.stdout).toMatch(/^1 message\(s\) in the outbox/m)
  })
})
