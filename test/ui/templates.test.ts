import { readFileSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import type { Locator, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type Console, SCREENSHOTS, startConsole } from './support.js'

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

/** The element's own screenshot (not the whole console page). */
async function shot(el: Locator, name: string): Promise<void> {
  const path = join(SCREENSHOTS, `${name}.png`)
  await el.screenshot({ path })
  expect(statSync(path).size).toBeGreaterThan(5_000)
}

/** The id of the element focused inside the component's shadow root. */
const focusedId = (page: Page) =>
  page.evaluate(() => {
    const host = document.querySelector('messaging-templates')
    const active = host?.shadowRoot?.activeElement
    return active ? active.id || `[role=${active.getAttribute('role')}]` : null
  })

describe('<messaging-templates> in a real browser against the real handler', () => {
  let c: Console
  beforeAll(async () => {
    c = await startConsole()
    await c.messaging.createCategory(c.principals.adminA, {
      infrastructureId: c.infraA,
      key: 'invoice.paid',
      name: 'Invoice paid',
      channels: {},
    })
    await c.messaging.createTemplate(c.principals.adminA, {
      infrastructureId: c.infraA,
      categoryKey: 'order.shipped',
      channelType: 'sms',
      locale: 'en',
      content: { text: 'Order {{ data.order }} shipped' },
    })
  })
  afterAll(async () => {
    await c?.close()
  })
  afterEach(() => {
    expect(c.pageErrors.splice(0)).toEqual([])
  })

  const key = { categoryKey: 'invoice.paid', channelType: 'email' as const, locale: 'de' }

  it('creates an email template with a live preview of the escaped HTML, and shows a variable the data lacks beside its field', async () => {
    const { page } = await c.signIn('adminA')
    const el = page.locator('messaging-templates')
    await el.getByRole('row', { name: /order\.shipped/ }).waitFor()
    await el.getByRole('button', { name: 'New template' }).click()
    expect(await focusedId(page)).toBe('t-categoryKey')
    await el.getByLabel('Category key').fill('invoice.paid')
    await el.getByLabel('Channel type', { exact: true }).selectOption('email')
    await el.getByLabel('Locale', { exact: true }).fill('de')
    await el.getByLabel('Subject', { exact: true }).fill('Rechnung {{ data.number }} bezahlt')
    await el.getByLabel('HTML body').fill('<p>Hallo {{ data.name }}</p>')
    await el.getByLabel('Sample data (JSON)').fill('{"number": 42, "name": "<Ada & Co>"}')

    const preview = el.locator('#preview-result')
    await preview.locator('[data-preview="subject"]').getByText('Rechnung 42 bezahlt').waitFor()
    const frame = preview.locator('iframe[title="HTML body preview"]')
    expect(await frame.getAttribute('sandbox')).toBe('')
    expect(await frame.getAttribute('srcdoc')).toBe('<p>Hallo &lt;Ada &amp; Co&gt;</p>')
    expect(await page.frameLocator('messaging-templates >> iframe').locator('p').textContent()).toBe(
      'Hallo <Ada & Co>',
    )

    // A variable the sample data does not hold: the preview says so, beside the field.
    await el.getByLabel('Subject', { exact: true }).fill('Rechnung {{ data.nummer }}')
    const subject = el.locator('[data-path="content.subject"]')
    await subject
      .locator('.field-error')
      .getByText(/undefined variable: data\.nummer/)
      .waitFor()
    expect(await el.getByLabel('Subject', { exact: true }).getAttribute('aria-invalid')).toBe('true')
    await preview.getByText(/The preview failed: content\.subject/).waitFor()
    // Typing on is not interrupted: focus stays in the field being edited.
    expect(await focusedId(page)).toBe('t-content-subject')
    await el.getByLabel('Subject', { exact: true }).fill('Rechnung {{ data.number }} bezahlt')
    await preview.locator('[data-preview="subject"]').waitFor()
    expect(await subject.locator('.field-error').count()).toBe(0)

    await el.getByRole('button', { name: 'Create template' }).click()
    await el.getByRole('status').getByText('Template invoice.paid (Email, de) created.').waitFor()
    const stored = await c.messaging.getTemplate(c.principals.adminA, { infrastructureId: c.infraA, ...key })
    expect(stored).toMatchObject({ version: 1, content: { subject: 'Rechnung {{ data.number }} bezahlt' } })
    await el.getByRole('row', { name: /invoice\.paid.*Email.*de/ }).waitFor()
    expect(await axeViolations(page, 'messaging-templates')).toEqual([])
    await shot(el, 'templates-editor')
    await page.setViewportSize({ width: 390, height: 1800 })
    await page.frameLocator('messaging-templates >> iframe').getByText('Hallo <Ada & Co>').waitFor()
    expect(await axeViolations(page, 'messaging-templates')).toEqual([])
    await shot(el, 'templates-editor-narrow')
  })

  it('saves new versions, lists the history and brings an old version back as the newest', async () => {
    const { page } = await c.signIn('adminA')
    const el = page.locator('messaging-templates')
    await el.getByRole('button', { name: 'Edit invoice.paid Email de' }).click()
    await el.getByRole('heading', { name: 'Edit invoice.paid' }).waitFor()
    await el.locator('[data-version="1"]').waitFor()
    await el.getByLabel('Subject', { exact: true }).fill('Zahlung {{ data.number }} erhalten')
    await el.getByRole('button', { name: 'Save new version' }).click()
    await el.getByRole('status').getByText('Version 2 of invoice.paid (Email, de) saved.').waitFor()
    await el.locator('[data-version="2"]').getByText('(current)').waitFor()

    await el.getByRole('button', { name: 'Load version 1 into the editor' }).click()
    expect(await el.getByLabel('Subject', { exact: true }).inputValue()).toBe(
      'Rechnung {{ data.number }} bezahlt',
    )
    await el
      .getByRole('status')
      .getByText('Version 1 loaded into the editor; save to make it current.')
      .waitFor()
    await el.getByRole('button', { name: 'Save new version' }).click()
    await el.getByRole('status').getByText('Version 3 of invoice.paid (Email, de) saved.').waitFor()
    const versions = await c.messaging.listTemplateVersions(c.principals.adminA, {
      infrastructureId: c.infraA,
      ...key,
    })
    expect(versions.map((v) => [v.version, v.content.subject])).toEqual([
      [3, 'Rechnung {{ data.number }} bezahlt'],
      [2, 'Zahlung {{ data.number }} erhalten'],
      [1, 'Rechnung {{ data.number }} bezahlt'],
    ])
    await shot(el, 'templates-history')
  })

  it("refuses to overwrite someone else's save, and reloads their version on request", async () => {
    const { page } = await c.signIn('adminA')
    const el = page.locator('messaging-templates')
    await el.getByRole('button', { name: 'Edit invoice.paid Email de' }).click()
    await el.locator('[data-version="3"]').waitFor()
    // Another admin saves meanwhile.
    await c.messaging.updateTemplate(c.principals.adminA, {
      infrastructureId: c.infraA,
      ...key,
      content: { subject: 'Von nebenan', text: 'x' },
    })
    await el.getByLabel('Subject', { exact: true }).fill('Mein Stand')
    await el.getByRole('button', { name: 'Save new version' }).click()
    const alert = el.getByRole('alert')
    await alert.getByText(/Someone else saved this template after version 3/).waitFor()
    expect(await focusedId(page)).toBe('[role=alert]')
    expect(
      (await c.messaging.getTemplate(c.principals.adminA, { infrastructureId: c.infraA, ...key })).version,
    ).toBe(4)
    await alert.getByRole('button', { name: 'Reload template' }).click()
    await el.locator('[data-version="4"]').getByText('(current)').waitFor()
    expect(await el.getByLabel('Subject', { exact: true }).inputValue()).toBe('Von nebenan')
  })

  it('shows a template that does not parse beside its field on save, focused, and filters the list', async () => {
    const { page } = await c.signIn('adminA')
    const el = page.locator('messaging-templates')
    await el.getByRole('button', { name: 'New template' }).click()
    await el.getByLabel('Category key').fill('invoice.paid')
    await el.getByLabel('Channel type', { exact: true }).selectOption('sms')
    await el.getByLabel('Locale', { exact: true }).fill('fr')
    await el.getByLabel('Text', { exact: true }).fill('{% include "/etc/passwd" %}')
    await el.getByRole('button', { name: 'Create template' }).click()
    const error = el.locator('[data-path="content.text"] .field-error')
    await error.getByText(/cannot read other templates/).waitFor()
    expect(await focusedId(page)).toBe('t-content-text')
    expect(await el.getByLabel('Text', { exact: true }).getAttribute('aria-describedby')).toContain(
      await error.getAttribute('id'),
    )
    expect(
      await c.messaging.listTemplates(c.principals.adminA, { infrastructureId: c.infraA, locale: 'fr' }),
    ).toEqual([])
    await el.getByRole('button', { name: 'Close' }).click()

    await el.locator('#filter-channelType').selectOption('sms')
    await el.getByRole('row', { name: /order\.shipped/ }).waitFor()
    expect(await el.getByRole('row', { name: /invoice\.paid/ }).count()).toBe(0)
    await el.locator('#filter-channelType').selectOption('')
    await el.locator('#filter-locale').selectOption('de')
    expect(await el.getByRole('row', { name: /order\.shipped/ }).count()).toBe(0)
    await el.getByRole('row', { name: /invoice\.paid/ }).waitFor()
  })

  it("sets the tenant's default locale, and a member sees the templates but is offered no writing", async () => {
    const { page } = await c.signIn('adminA')
    const el = page.locator('messaging-templates')
    await el.getByLabel('Default locale').fill('de-ch')
    await el.getByRole('button', { name: 'Set default locale' }).click()
    await el.getByRole('status').getByText('Default locale set to de-CH.').waitFor()
    expect(
      (await c.messaging.getTemplateSettings(c.principals.adminA, { infrastructureId: c.infraA }))
        .defaultLocale,
    ).toBe('de-CH')

    // A member sees the templates and the default locale, and is offered nothing that would be refused.
    const member = (await c.signIn('memberA')).page.locator('messaging-templates')
    await member.getByRole('row', { name: /order\.shipped/ }).waitFor()
    await member
      .getByText('Default locale de-CH; templates are written by an infrastructure administrator.')
      .waitFor()
    expect(await member.getByRole('button', { name: 'Edit order.shipped SMS en' }).count()).toBe(0)
    expect(await member.getByRole('button', { name: 'New template' }).count()).toBe(0)
    expect(await member.getByRole('button', { name: 'Set default locale' }).count()).toBe(0)
    expect(
      (
        await c.messaging.getTemplate(c.principals.adminA, {
          infrastructureId: c.infraA,
          categoryKey: 'order.shipped',
          channelType: 'sms',
          locale: 'en',
        })
      ).version,
    ).toBe(1)
  })
})
