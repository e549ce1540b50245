import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT, run } from './support.js'

/**
 * `npm test` first checks the machine for the servers and browser the suite drives. Here the
 * check runs as an unprivileged user with an empty PATH, so the tools found only on PATH are
 * missing and nothing may be installed: it must say what to install and stop.
 */
describe('the pretest check', () => {
  it('passes on this machine, where the suite has what it needs', async () => {
    const r = await run(process.execPath, [join(ROOT, 'scripts/pretest.mjs')], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '' },
      timeoutMs: 60_000,
    })
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
  })

  it('elsewhere names each missing tool with how to install it, installs nothing, and stops (exit 1)', async () => {
    const check = ['env', 'PATH=/nonexistent', process.execPath, join(ROOT, 'scripts/pretest.mjs')]
    // As root, the check would install what is missing: run it as nobody.
    const asRoot = process.getuid?.() === 0
    const r = await run(
      asRoot ? 'runuser' : check[0]!,
      asRoot ? ['-u', 'nobody', '--', ...check] : check.slice(1),
      {
        cwd: '/',
        timeoutMs: 60_000,
      },
    )
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('npm test needs these on this machine, and they are missing:')
    expect(r.stderr).toContain('faketime: tests that move the clock of a process')
    expect(r.stderr).toContain('Debian/Ubuntu: apt-get install faketime')
    expect(r.stderr).not.toContain('installing')
  })
})
