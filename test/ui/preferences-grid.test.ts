import { readFileSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import type { Locator, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type Console, startConsole } from './support.js'

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

/** axe-core's violations inside one element (shadow roots included), run in the page. */
async function axeViolations(page: Page, selector: string): Promise<Array<{ id: string; nodes: number }>> {
  // Evaluated over the DevTools protocol, which the page's script CSP does not govern.
  await page.evaluate(axeSource)
  return page.evaluate(async (sel) => {
    const axe = (window as unknown as { axe: { run: (ctx: unknown, o: unknown) => Promise<unknown> } }).axe
    const r = (await axe.run(
      { include: [[sel]] },
      { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa'] } },
    )) as { violations: Array<{ id: string; nodes: unknown[] }> }
    return r.violations.map((v) => ({ id: v.id, nodes: v.nodes.length }))
  }, selector)
}

describe('<messaging-preferences>: the grid of categories x channel types, in a real browser', () => {
  let c: Console
  beforeAll(async () => {
    c = await startConsole()
    const admin = c.principals.adminA
    const i = c.infraA
    await c.messaging.createChannel(admin, {
      infrastructureId: i,
      channelKey: 'alerts',
      type: 'in_app',
      name: 'Alerts',
    })
    await c.messaging.createChannel(admin, {
      infrastructureId: i,
      channelKey: 'billing-email',
      type: 'email',
      name: 'Billing email',
      config: { from: 'billing@example.com' },
    })
    await c.messaging.createChannel(admin, {
      infrastructureId: i,
      channelKey: 'sms',
      type: 'sms',
      name: 'Text messages',
      config: { from: '+15550001111' },
    })
    await c.messaging.createCategory(admin, {
      infrastructureId: i,
      key: 'invoice.paid',
      name: 'Invoice paid',
      description: 'When a customer pays',
      channels: {
        in_app: { channelKey: 'alerts' },
        email: { channelKey: 'billing-email' },
        sms: { channelKey: 'sms', enabled: false },
      },
    })
    await c.messaging.createCategory(admin, {
      infrastructureId: i,
      key: 'security.login',
      name: 'New sign-in',
      critical: true,
      channels: { in_app: { channelKey: 'alerts' }, email: { channelKey: 'billing-email' } },
    })
  })
  afterAll(async () => {
    await c?.close()
  })
  afterEach(() => {
    expect(c.pageErrors.splice(0)).toEqual([])
  })

  const shot = async (page: Page, name: string) => {
    expect(statSync(await c.screenshot(page, name)).size).toBeGreaterThan(10_000)
  }
  const cellOf = async (userId: string, category: string, type: string) => {
    const grid = await c.messaging.getPreferences(c.principals.adminA, { infrastructureId: c.infraA, userId })
    return grid.categories.find((x) => x.key === category)!.cells.find((x) => x.channelType === type)!
  }
  const hintOf = (prefs: Locator, name: string) =>
    prefs.getByRole('switch', { name, exact: true }).locator('xpath=following-sibling::span')

  it('a member sees every category by channel type with why, and turns one off and back with the keyboard', async () => {
    const member = c.principals.memberA
    const { page } = await c.signIn('memberA')
    const prefs = page.locator('messaging-preferences')
    const table = prefs.getByRole('table', { name: 'What reaches you, by category and channel' })
    await table.waitFor()
    expect(await table.getByRole('columnheader').allTextContents()).toEqual([
      'Category',
      'Email',
      'In-app',
      'SMS',
    ])
    const email = prefs.getByRole('switch', { name: 'Invoice paid by Email', exact: true })
    expect(await email.isChecked()).toBe(true)
    expect(await hintOf(prefs, 'Invoice paid by Email').textContent()).toBe('On · default')
    expect(await prefs.getByRole('switch', { name: 'Invoice paid by SMS', exact: true }).isChecked()).toBe(
      false,
    )
    // A critical category is always sent: its switches are not the user's to turn off.
    const critical = prefs.getByRole('switch', { name: 'New sign-in by Email', exact: true })
    expect(await critical.isDisabled()).toBe(true)
    expect(await hintOf(prefs, 'New sign-in by Email').textContent()).toBe('Always sent: critical')
    // No SMS channel serves the critical category: that cell offers nothing.
    expect(
      await table
        .getByRole('row', { name: /New sign-in/ })
        .getByLabel('not offered')
        .count(),
    ).toBe(1)

    await email.focus()
    await page.keyboard.press('Space')
    await prefs.getByRole('status').getByText('Invoice paid by Email: off.').waitFor()
    expect(await email.isChecked()).toBe(false)
    expect(await hintOf(prefs, 'Invoice paid by Email').textContent()).toBe('Off · your choice')
    expect(await cellOf(member.userId, 'invoice.paid', 'email')).toMatchObject({
      enabled: false,
      source: 'user',
      userChoice: false,
    })
    // Focus stays on the switch that was used.
    expect(
      await page.evaluate(() =>
        document.activeElement?.shadowRoot?.activeElement?.getAttribute('aria-label'),
      ),
    ).toBe('Invoice paid by Email')
    await shot(page, 'preferences-grid-member')
    await page.setViewportSize({ width: 390, height: 900 })
    await shot(page, 'preferences-grid-member-narrow')
    await page.setViewportSize({ width: 1280, height: 900 })

    await prefs.getByRole('button', { name: 'Use the default for Invoice paid by Email' }).click()
    await prefs.getByRole('status').getByText('Invoice paid by Email: back to the default (on).').waitFor()
    expect(await cellOf(member.userId, 'invoice.paid', 'email')).toMatchObject({
      source: 'category',
      userChoice: null,
    })
    // Members get no admin controls.
    expect(await prefs.getByRole('heading', { name: 'Categories and defaults' }).count()).toBe(0)
    expect(await axeViolations(page, 'messaging-preferences')).toEqual([])
  })

  it('leaving a channel shows in the grid as the reason', async () => {
    const member = c.principals.memberA
    const alerts = (
      await c.messaging.listChannels(c.principals.adminA, { infrastructureId: c.infraA, type: 'in_app' })
    )[0]!
    await c.messaging.addMember(c.principals.adminA, {
      infrastructureId: c.infraA,
      channelId: alerts.id,
      userId: member.userId,
    })
    const { page } = await c.signIn('memberA')
    const prefs = page.locator('messaging-preferences')
    const sub = prefs.getByRole('switch', { name: 'Alerts from Alerts' })
    await sub.click()
    await prefs.getByRole('status').getByText('Opted out of Alerts.').waitFor()
    await expect
      .poll(() => hintOf(prefs, 'Invoice paid by In-app').textContent())
      .toBe('Off · you left the alerts channel')
    expect(await cellOf(member.userId, 'invoice.paid', 'in_app')).toMatchObject({
      enabled: false,
      source: 'channel',
    })
    await sub.click()
    await prefs.getByRole('status').getByText('Opted in to Alerts.').waitFor()
  })

  it('an admin creates a critical category and sets a default for everyone', async () => {
    const { page } = await c.signIn('adminA')
    const prefs = page.locator('messaging-preferences')
    await prefs.getByRole('heading', { name: 'Categories and defaults' }).waitFor()
    await prefs.getByRole('button', { name: 'New category' }).click()
    const form = prefs.getByRole('form', { name: 'New category' })
    await form.getByLabel('Key').fill('order.shipped')
    await form.getByLabel('Name').fill('Order shipped')
    await form.getByLabel('Description').fill('Tracking number and carrier')
    await form.getByLabel('In-app').selectOption('alerts')
    await form.getByLabel('Email').selectOption('billing-email')
    await form.getByLabel('Critical', { exact: true }).check()
    await form.getByRole('button', { name: 'Create category' }).click()
    await prefs.getByRole('status').getByText('Category order.shipped created.').waitFor()
    const created = await c.messaging.getCategory(c.principals.memberA, {
      infrastructureId: c.infraA,
      categoryKey: 'order.shipped',
    })
    expect(created).toMatchObject({
      name: 'Order shipped',
      critical: true,
      channels: {
        in_app: { channelKey: 'alerts', enabled: true },
        email: { channelKey: 'billing-email', enabled: true },
      },
    })
    const audit = await c.messaging.listAudit(c.principals.adminA, {
      infrastructureId: c.infraA,
      action: 'category.mark_critical',
    })
    expect(audit.filter((e) => e.targetId === 'order.shipped').map((e) => e.actorId)).toEqual([
      c.principals.adminA.userId,
    ])

    // Edit: not critical any more, and off by default for email.
    await prefs.getByRole('button', { name: 'Edit Order shipped' }).click()
    const edit = prefs.getByRole('form', { name: 'Edit category order.shipped' })
    await edit.getByLabel('Critical', { exact: true }).uncheck()
    await edit.locator('#cat-ch-email-on').uncheck()
    await edit.getByRole('button', { name: 'Save category' }).click()
    await prefs.getByRole('status').getByText('Category order.shipped saved.').waitFor()
    expect(
      (
        await c.messaging.getCategory(c.principals.adminA, {
          infrastructureId: c.infraA,
          categoryKey: 'order.shipped',
        })
      ).channels.email,
    ).toEqual({ channelKey: 'billing-email', enabled: false })

    await prefs.getByLabel('Default for Invoice paid by SMS').selectOption('on')
    await prefs.getByRole('status').getByText('Default for Invoice paid by SMS: on.').waitFor()
    expect(await cellOf(c.principals.memberA.userId, 'invoice.paid', 'sms')).toMatchObject({
      enabled: true,
      source: 'tenant',
    })
    await shot(page, 'preferences-admin')
    await page.setViewportSize({ width: 390, height: 900 })
    await shot(page, 'preferences-admin-narrow')
    expect(await axeViolations(page, 'messaging-preferences')).toEqual([])
    await prefs.getByLabel('Default for Invoice paid by SMS').selectOption('')
    await prefs
      .getByRole('status')
      .getByText("Default for Invoice paid by SMS: the category's own.")
      .waitFor()
  })

  it("shows the server's refusal of a bad category key, and creates nothing", async () => {
    const { page } = await c.signIn('adminA')
    const prefs = page.locator('messaging-preferences')
    await prefs.getByRole('button', { name: 'New category' }).click()
    const form = prefs.getByRole('form', { name: 'New category' })
    await form.getByLabel('Key').fill('Not A Key')
    await form.getByLabel('Name').fill('Broken')
    await form.getByRole('button', { name: 'Create category' }).click()
    const alert = prefs.getByRole('alert')
    await alert.waitFor()
    expect(await alert.textContent()).toContain('key:')
    expect(
      (await c.messaging.listCategories(c.principals.adminA, { infrastructureId: c.infraA })).map(
        (x) => x.key,
      ),
    ).not.toContain('Not A Key')
  })
})
