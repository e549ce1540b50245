import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

function run(
  command: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // The README's main command, with no PostgreSQL in its environment: the demo needs none.
    const { DATABASE_URL: _, ...env } = process.env
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString()
    })
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString()
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

describe('the main job: npm start', () => {
  it('runs the demo end to end on SQLite and exits 0 with a delivery report and every check passed', async () => {
    const { code, stdout, stderr } = await run('npm', ['start', '--silent'])
    expect(code, `${stdout}\n${stderr}`).toBe(0)

    // The embedded store, in a temporary directory removed at the end.
    const db = /messaging demo on SQLite (\S+)/.exec(stdout)?.[1]
    expect(db).toMatch(/demo\.db$/)
    expect(existsSync(dirname(db!))).toBe(false)

    // The report: per tenant and channel, every built-in type delivered for real.
    expect(stdout).toContain('Delivery report (per tenant and channel)')
    for (const tenant of ['Acme Logistics', 'Globex Energy']) {
      for (const [channel, type] of [
        ['alerts', 'in_app'],
        ['ops-webhook', 'webhook'],
        ['billing-email', 'email'],
        ['sms-otp', 'sms'],
      ]) {
        expect(stdout).toMatch(
          new RegExp(`${tenant}\\s+${channel}\\s+${type}\\s+[1-9]\\d*\\s+\\d+\\s+\\d+\\s+0\\s+0`),
        )
      }
    }
    // The partner webhook went dead while down and was redriven; the unreachable number stays dead.
    expect(stdout).toMatch(/Acme Logistics\s+partner-webhook\s+webhook\s+3\s+3\s+0\s+0\s+0/)
    expect(stdout).toMatch(/Globex Energy\s+sms-otp\s+sms\s+8\s+1\s+1\s+0\s+0/)
    expect(stdout).toMatch(/Dead letters\n.*\n.*\nGlobex Energy\s+sms-otp\s+[0-9a-f]{8}\s+HTTP_503, HTTP_503/)
    expect(stdout).toContain('In-app inboxes')
    expect(stdout).toMatch(/enqueue over HTTP\s+\S+ m?s\s+\d+ msg\/s/)
    expect(stdout).toMatch(
      /webhooks arrived once each, every signature verified \(Standard Webhooks\): 63 verified, 0 forged/,
    )
    expect(stdout).not.toContain('FAIL')
    // One event to people: a notify by preference, profile and locale, reported per recipient and channel.
    expect(stdout).toContain('Notify: invoice.paid to four people (per recipient and channel)')
    for (const row of [
      /Ada\s+en-US\s+email\s+delivered\s+Payment received for invoice INV-20931\n/,
      /Ada\s+en-US\s+sms\s+delivered\s+Acme: payment of EUR 1,250.00 for INV-20931 received\.\n/,
      /Bruno\s+de-DE\s+email\s+delivered\s+Zahlung für Rechnung INV-20931 erhalten\n/,
      /Bruno\s+de-DE\s+in_app\s+delivered\s+Rechnung INV-20931 bezahlt\n/,
      /Chen\s+en-GB\s+in_app\s+delivered\s+Invoice INV-20931 paid\n/,
      /Chen\s+en-GB\s+sms\s+skipped\s+no_address\n/,
      /Dora\s+de\s+email\s+skipped\s+opted_out\n/,
      /Dora\s+de\s+sms\s+delivered\s+Acme: Zahlung von EUR 1,250.00 für INV-20931 erhalten\.\n/,
    ])
      expect(stdout).toMatch(row)
    expect(stdout).toMatch(/ok {3}notify: one message per recipient and channel .*: 10 delivered, 2 skipped/)
    expect(stdout).toMatch(/demo: all 11 checks passed\n/)
    // The live progress went to stderr, the report to stdout.
    expect(stderr).toMatch(/delivering \[#+\]\s+129\/129 settled/)
    // No credential of the run leaks into the output.
    expect(stdout + stderr).not.toMatch(/whsec_|sk_(acme|globex)_/)
  }, 240_000)
})
