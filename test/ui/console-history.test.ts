import { statSync } from 'node:fs'
import type { Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { axeViolations, type Console, startConsole } from './support.js'

/**
 * Issue 19 item 6 in a real browser against the real handler: `<messaging-health>` charts
 * the last hour from the store's rollup, and `<messaging-messages>` finds a message, shows
 * its payload and attempts, and redrives or cancels it through the HTTP routes.
 */
describe('the console over time: charts and the message view', () => {
  let c: Console
  let channelId: string
  /** A delivered, a dead (after one failed attempt) and a pending message of tenant A. */
  const ids = { delivered: '', dead: '', pending: '' }

  beforeAll(async () => {
    c = await startConsole()
    const { adminA, serviceA } = c.principals
    const channel = await c.messaging.createChannel(adminA, {
      infrastructureId: c.infraA,
      channelKey: 'ops-room',
      name: 'Ops room',
      type: 'chat',
      maxAttempts: 1,
      config: { webhookUrl: 'https://chat.example.com/hooks/t0ps3cret-room-key', room: 'ops' },
    })
    channelId = channel.id
    const enqueue = async (subject: string, recipients: string[]) =>
      (
        await c.messaging.enqueue(adminA, {
          infrastructureId: c.infraA,
          channelId,
          recipients,
          payload: {
            subject,
            text: `${subject}: details`,
            link: 'https://chat.example.com/hooks/t0ps3cret-room-key',
          },
        })
      ).message.id
    ids.delivered = await enqueue('Nightly backup finished', ['ops@example.com'])
    ids.dead = await enqueue('Disk almost full', ['oncall@example.com'])
    const held = await c.messaging.claim(serviceA, { infrastructureId: c.infraA, limit: 10 })
    for (const h of held) {
      await c.messaging.ack(
        serviceA,
        h.id === ids.delivered
          ? { infrastructureId: c.infraA, messageId: h.id, leaseToken: h.leaseToken, outcome: 'processed' }
          : {
              infrastructureId: c.infraA,
              messageId: h.id,
              leaseToken: h.leaseToken,
              outcome: 'failed',
              reason: 'chat server answered 503',
              retryAfterMs: 1_000,
            },
      )
    }
    ids.pending = await enqueue('Weekly report', ['oncall@example.com'])
  })
  afterAll(async () => {
    await c?.close()
  })
  afterEach(() => {
    expect(c.pageErrors.splice(0)).toEqual([])
  })

  const shot = async (page: Page, name: string) => {
    const path = await c.screenshot(page, name)
    expect(statSync(path).size).toBeGreaterThan(10_000)
  }
  const noSidewaysScroll = (page: Page) =>
    page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth)

  it('charts backlog, throughput and dead letters over the last hour, with the figures in words and a table, axe-clean at 1280 and 375 px', async () => {
    const { page } = await c.signIn('adminA')
    const health = page.locator('messaging-health')
    for (const key of ['backlog', 'delivered', 'dead'])
      await health.locator(`[data-chart="${key}"]`).waitFor()
    // The current minute's figures: one delivered, one dead, one pending in the backlog (the
    // two enqueues before the settles may fall in the minute before: the day's sums hold).
    const now = (key: string) => health.locator(`[data-chart="${key}"] .chart-now`).getAttribute('data-now')
    expect(await now('backlog')).toBe('1')
    const desc = (key: string) => health.locator(`#chart-${key}-desc`).textContent()
    expect(await desc('backlog')).toMatch(
      /^Backlog over the last 60 minutes, pending or in flight at each minute's end: now 1 message, highest [12]/,
    )
    expect(await desc('delivered')).toMatch(
      /Delivered per minute over the last 60 minutes, delivered in each minute: 1 message in all/,
    )
    expect(await desc('dead')).toMatch(
      /Dead letters per minute over the last 60 minutes, out of attempts in each minute: 1 message in all/,
    )
    // Each chart is an image named by its title and described by its figures.
    const svg = health.locator('[data-chart="delivered"] svg')
    expect(await svg.getAttribute('role')).toBe('img')
    expect(await svg.getAttribute('aria-labelledby')).toBe('chart-delivered-title chart-delivered-desc')
    expect(await health.locator('[data-chart="delivered"] rect').count()).toBeGreaterThanOrEqual(1)
    // The table fallback: 60 minutes, the newest first.
    await health.getByText('Figures per minute').click()
    const rows = health.locator('details.figures tbody tr')
    expect(await rows.count()).toBe(60)
    expect(await rows.first().locator('td[data-label="Backlog"]').textContent()).toBe('1')
    expect(await axeViolations(page, 'messaging-health')).toEqual([])
    await shot(page, 'console-charts-desktop')
    await page.setViewportSize({ width: 375, height: 900 })
    expect(await noSidewaysScroll(page)).toBe(true)
    expect(await axeViolations(page, 'messaging-health')).toEqual([])
    await shot(page, 'console-charts-375')
  })

  it('shows a member no charts (the history is for operators)', async () => {
    const { page } = await c.signIn('memberA')
    const health = page.locator('messaging-health')
    await health.locator('tr[data-channel]').first().waitFor()
    expect(await health.locator('[data-chart]').count()).toBe(0)
  })

  it('finds messages by state, channel and recipient, opens one with its payload redacted and its attempts on a timeline, axe-clean at 1280 and 375 px', async () => {
    const { page } = await c.signIn('adminA')
    const view = page.locator('messaging-messages')
    await view.locator('tr[data-message]').first().waitFor()
    expect(await view.locator('tr[data-message]').count()).toBe(3)
    await view.getByLabel('Recipient').fill('oncall@example.com')
    await view.getByLabel('State').selectOption('dead')
    await view.getByLabel('Channel').selectOption({ label: 'Ops room' })
    await view.getByRole('button', { name: 'Find' }).click()
    await view.getByRole('status').getByText('1 message found.').waitFor()
    expect(await view.locator('tr[data-message]').getAttribute('data-message')).toBe(ids.dead)
    await view.getByRole('button', { name: `Open message ${ids.dead.slice(0, 8)}` }).click()
    const detail = view.locator(`[data-open="${ids.dead}"]`)
    await detail.waitFor()
    // Focus moves to the opened message.
    expect(await page.evaluate(() => document.activeElement?.shadowRoot?.activeElement?.id)).toBe(
      'message-title',
    )
    const payload = await detail.locator('pre.payload').textContent()
    expect(payload).toContain('Disk almost full')
    expect(payload).not.toContain('t0ps3cret')
    expect(payload).toContain('[redacted]')
    const attempt = detail.locator('ol.timeline li')
    expect(await attempt.count()).toBe(1)
    expect(await attempt.textContent()).toContain('Attempt 1: Failed')
    expect(await attempt.textContent()).toContain('chat server answered 503')
    expect(await axeViolations(page, 'messaging-messages')).toEqual([])
    await shot(page, 'console-messages-desktop')
    await page.setViewportSize({ width: 375, height: 900 })
    expect(await noSidewaysScroll(page)).toBe(true)
    expect(await axeViolations(page, 'messaging-messages')).toEqual([])
    await shot(page, 'console-messages-375')
    // By id, any case: straight to the message.
    await view.getByLabel('Message id').fill(ids.delivered.toUpperCase())
    await view.getByRole('button', { name: 'Find' }).click()
    await view.locator(`[data-open="${ids.delivered}"]`).waitFor()
    expect(await view.locator(`[data-open="${ids.delivered}"] ol.timeline li`).textContent()).toContain(
      'Attempt 1: Delivered',
    )
    // A malformed id is refused where it was typed, without a call.
    await view.getByLabel('Message id').fill('not-an-id')
    await view.getByRole('button', { name: 'Find' }).click()
    await view.getByRole('alert').getByText('Enter a message id').waitFor()
  })

  it("redrives a dead message and cancels a pending one from the view: the store's state changes and the view says so", async () => {
    const { page } = await c.signIn('adminA')
    const view = page.locator('messaging-messages')
    await view.locator('tr[data-message]').first().waitFor()
    const open = async (id: string) => {
      await view.getByRole('button', { name: `Open message ${id.slice(0, 8)}` }).click()
      await view.locator(`[data-open="${id}"]`).waitFor()
    }
    await open(ids.dead)
    // A dead message offers Redrive, not Cancel.
    expect(await view.getByRole('button', { name: 'Cancel message' }).count()).toBe(0)
    await view.getByRole('button', { name: 'Redrive' }).click()
    await view
      .getByRole('status')
      .getByText(`Message ${ids.dead.slice(0, 8)} sent round again: pending.`)
      .waitFor()
    expect(await view.locator(`[data-open="${ids.dead}"] dd[data-state]`).getAttribute('data-state')).toBe(
      'pending',
    )
    const redriven = await c.messaging.getMessage(c.principals.adminA, {
      infrastructureId: c.infraA,
      messageId: ids.dead,
    })
    expect(redriven.status).toBe('pending')

    await open(ids.pending)
    expect(await view.getByRole('button', { name: 'Redrive' }).count()).toBe(0)
    await view.getByRole('button', { name: 'Cancel message' }).click()
    await view
      .getByRole('status')
      .getByText(`Message ${ids.pending.slice(0, 8)} cancelled.`)
      .waitFor()
    expect(await view.locator(`[data-open="${ids.pending}"] dd[data-state]`).getAttribute('data-state')).toBe(
      'cancelled',
    )
    const cancelled = await c.messaging.getMessage(c.principals.adminA, {
      infrastructureId: c.infraA,
      messageId: ids.pending,
    })
    expect(cancelled.status).toBe('cancelled')
    // The list row follows.
    expect(await view.locator(`tr[data-message="${ids.pending}"] td[data-label="State"]`).textContent()).toBe(
      'Cancelled',
    )
  })

  it('offers a member no redrive or cancel', async () => {
    const { page } = await c.signIn('memberA')
    const view = page.locator('messaging-messages')
    await view.locator('tr[data-message]').first().waitFor()
    await view.getByRole('button', { name: `Open message ${ids.delivered.slice(0, 8)}` }).click()
    await view.locator(`[data-open="${ids.delivered}"]`).waitFor()
    expect(await view.getByRole('button', { name: /Redrive|Cancel message/ }).count()).toBe(0)
  })
})
