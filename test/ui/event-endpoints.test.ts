import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { axeViolations, type Console, startConsole } from './support.js'

/** `<messaging-event-endpoints>` on the demo page, against the real handler, in headless Chromium. */
describe('<messaging-event-endpoints> in a real browser against the real handler', () => {
  let c: Console
  beforeAll(async () => {
    c = await startConsole()
  })
  afterAll(async () => {
    await c?.close()
  })
  afterEach(() => {
    expect(c.pageErrors.splice(0)).toEqual([])
  })

  const list = () => c.messaging.listEventEndpoints(c.principals.adminA, { infrastructureId: c.infraA })

  it('adds an endpoint and shows its signing secret once, disables, enables, rotates and deletes it', async () => {
    const { page } = await c.signIn('adminA')
    const el = page.locator('messaging-event-endpoints')
    await el.getByText('No status webhooks yet.').waitFor()

    // A URL the server refuses is marked beside its field, and nothing is added.
    await el.getByLabel('URL', { exact: true }).fill('ftp://hooks.example.com/status')
    await el.getByRole('button', { name: 'Add webhook' }).click()
    await el.locator('#ep-url-error').waitFor()
    expect(await el.getByLabel('URL', { exact: true }).getAttribute('aria-invalid')).toBe('true')
    expect(await list()).toEqual([])

    await el.getByLabel('URL', { exact: true }).fill('https://hooks.example.com/status')
    await el.getByLabel('message.delivered').check()
    await el.getByLabel('message.bounced').check()
    await el.getByRole('button', { name: 'Add webhook' }).click()
    const secret = el.locator('#secret-value')
    await secret.waitFor()
    const first = (await secret.textContent())!.trim()
    expect(first).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/)
    // Focus goes to the panel's button, so a keyboard user meets the secret first.
    expect(
      await page.evaluate(
        () => document.querySelector('messaging-event-endpoints')?.shadowRoot?.activeElement?.id ?? null,
      ),
    ).toBe('secret-done')
    const row = el.getByRole('row', { name: /hooks\.example\.com/ })
    await row.getByText('message.delivered, message.bounced').waitFor()
    await row.getByText('active').waitFor()
    const [stored] = await list()
    expect(stored).toMatchObject({
      url: 'https://hooks.example.com/status',
      eventTypes: ['message.delivered', 'message.bounced'],
      enabled: true,
    })
    expect(await axeViolations(page, 'messaging-event-endpoints')).toEqual([])
    await c.screenshot(page, 'console-event-endpoints-desktop')
    // At a phone's width each row becomes a card: nothing scrolls sideways.
    await page.setViewportSize({ width: 390, height: 900 })
    const widths = await el.evaluate((host) => ({
      table: host.shadowRoot!.querySelector('table')!.scrollWidth,
      host: host.clientWidth,
    }))
    expect(widths.table).toBeLessThanOrEqual(widths.host)
    await c.screenshot(page, 'console-event-endpoints-390')
    await page.setViewportSize({ width: 1280, height: 900 })

    // Dismissed, the secret is gone from the element; a new session never sees it either.
    await el.getByRole('button', { name: 'I have copied it' }).click()
    await secret.waitFor({ state: 'detached' })
    const shown = () =>
      page.evaluate(() => document.querySelector('messaging-event-endpoints')?.shadowRoot?.innerHTML ?? '')
    expect(await shown()).not.toContain(first)
    const again = await c.signIn('adminA')
    const el2 = again.page.locator('messaging-event-endpoints')
    await el2.getByRole('row', { name: /hooks\.example\.com/ }).waitFor()
    const text = await again.page.evaluate(
      () => document.querySelector('messaging-event-endpoints')?.shadowRoot?.textContent ?? '',
    )
    expect(text).not.toContain('whsec_')

    await row.getByRole('button', { name: 'Disable https://hooks.example.com/status' }).click()
    await row.getByText('disabled').waitFor()
    expect((await list())[0]!.enabled).toBe(false)
    await row.getByRole('button', { name: 'Enable https://hooks.example.com/status' }).click()
    await row.getByText('active').waitFor()
    expect((await list())[0]!.enabled).toBe(true)

    await row.getByRole('button', { name: /Rotate the signing secret/ }).click()
    await secret.waitFor()
    const second = (await secret.textContent())!.trim()
    expect(second).toMatch(/^whsec_/)
    expect(second).not.toBe(first)
    await el.getByRole('button', { name: 'I have copied it' }).click()

    // Delete asks once more before it removes anything.
    await row.getByRole('button', { name: 'Delete https://hooks.example.com/status' }).click()
    expect(await list()).toHaveLength(1)
    await row.getByRole('button', { name: 'Confirm: delete https://hooks.example.com/status' }).click()
    await el.getByText('No status webhooks yet.').waitFor()
    expect(await list()).toEqual([])
  })

  it('shows a member the refusal and offers no form or action', async () => {
    await c.messaging.createEventEndpoint(c.principals.adminA, {
      infrastructureId: c.infraA,
      url: 'https://hooks.example.com/member-view',
    })
    const { page } = await c.signIn('memberA')
    const el = page.locator('messaging-event-endpoints')
    await el
      .getByRole('alert')
      .getByText(/Not allowed for your role \(member\)/)
      .waitFor()
    expect(await el.getByRole('button', { name: 'Add webhook' }).count()).toBe(0)
    expect(await el.getByText('member-view').count()).toBe(0)
    expect(await axeViolations(page, 'messaging-event-endpoints')).toEqual([])
  })
})
