import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Browser, chromium } from 'playwright-core'
import { afterAll, describe, expect, it } from 'vitest'
import { CHROMIUM } from './support.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const BIN = join(ROOT, 'bin/messaging.mjs')

/**
 * The demo's `--serve` page (issue 19's acceptance): after the demo's run, the page served
 * by `messaging demo --serve` shows the live inbox (a message sent while the page is open
 * appears without a reload) and the queue's charts over the demo's deliveries.
 */
describe('messaging demo --serve: the page', () => {
  let child: ChildProcess | undefined
  let browser: Browser | undefined
  afterAll(async () => {
    await browser?.close()
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once('close', resolve))
      child.kill('SIGINT')
      await exited
    }
  })

  it('shows the live inbox and the charts', async () => {
    const { DATABASE_URL: _, ...env } = process.env
    child = spawn(process.execPath, [BIN, 'demo', '--serve', '--memory'], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString()
    })
    child.stderr!.on('data', () => {})
    // The demo runs its whole scenario first: its own start-up budget, then the page.
    const ready = await new Promise<string>((resolve, reject) => {
      const timer = setInterval(() => {
        if (/Web components: \S+/.test(out) && /curl -s -X POST/.test(out)) {
          clearInterval(timer)
          resolve(out)
        } else if (child!.exitCode !== null) {
          clearInterval(timer)
          reject(new Error(`demo exited ${child!.exitCode}: ${out}`))
        }
      }, 100)
    })
    const page_ = /Web components: (\S+)/.exec(ready)![1]!
    const api = /Serving (\S+) /.exec(ready)![1]!
    const token = /Bearer ([^']+)'/.exec(ready)![1]!
    const tenant = /"infrastructureId":"([^"]+)"/.exec(ready)![1]!
    const call = (path: string, init: RequestInit = {}) =>
      fetch(`${api}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      })
    const me = (await (await call('/session')).json()) as { userId: string }

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] })
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage()
    await page.goto(page_)
    await page.getByLabel('Bearer token').fill(token)
    await page.getByLabel('Tenant (infrastructure id)').fill(tenant)
    await page.getByLabel('User id').fill(me.userId)
    await page.getByRole('button', { name: 'Apply' }).click()

    // The charts: three, over the demo's deliveries of the last minutes.
    const health = page.locator('messaging-health')
    for (const key of ['backlog', 'delivered', 'dead'])
      await health.locator(`[data-chart="${key}"]`).waitFor()
    const delivered = await health.locator('#chart-delivered-desc').textContent()
    expect(Number(/: (\d+) messages? in all/.exec(delivered ?? '')?.[1])).toBeGreaterThan(0)

    // The live inbox: a message to the signed-in user while the page is open shows up.
    const inbox = page.locator('messaging-inbox')
    await inbox.getByRole('heading', { name: 'Inbox' }).waitFor()
    const title = `Live from the test ${Date.now()}`
    const sent = await call('/queue', {
      method: 'POST',
      body: JSON.stringify({
        infrastructureId: tenant,
        channelKey: 'alerts',
        recipients: [me.userId],
        payload: { title },
      }),
    })
    expect(sent.status).toBeLessThan(300)
    await inbox.getByText(title).waitFor({ timeout: 30_000 })
  }, 180_000)
})
