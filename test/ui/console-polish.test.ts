import { statSync } from 'node:fs'
import { join } from 'node:path'
import type { Locator, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createInAppTransport } from '../../src/adapters/transports/in-app/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { axeViolations, type Console, SCREENSHOTS, startConsole } from './support.js'

const ELEMENTS = [
  'messaging-channels',
  'messaging-preferences',
  'messaging-inbox',
  'messaging-health',
  'messaging-templates',
] as const
const NARROW = { width: 390, height: 900 }
const DESKTOP = { width: 1280, height: 900 }
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i

/** The element's own screenshot, kept for people to look at. */
async function shot(el: Locator, name: string): Promise<string> {
  const path = join(SCREENSHOTS, `${name}.png`)
  await el.screenshot({ path })
  expect(statSync(path).size).toBeGreaterThan(3_000)
  return path
}

/** How far the page and each element reach beyond their width, in px (0: nothing sideways). */
const overflow = (page: Page) =>
  page.evaluate((tags) => {
    const out: Record<string, number> = {
      page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    }
    for (const tag of tags) {
      const host = document.querySelector(tag)!
      out[tag] = host.scrollWidth - host.clientWidth
      // A box inside that scrolls sideways on its own is overflow too.
      for (const el of Array.from(host.shadowRoot!.querySelectorAll('*'))) {
        const d = el.scrollWidth - el.clientWidth
        const style = getComputedStyle(el)
        if (d > 1 && el.clientWidth > 0 && /auto|scroll/.test(style.overflowX)) {
          out[`${tag} ${el.tagName.toLowerCase()}.${el.className}`] = d
        }
      }
    }
    return out
  }, ELEMENTS)

/** Every text and accessible name a person meets in the elements' shadow roots, phrase by phrase. */
const wordsOf = (page: Page) =>
  page.evaluate((tags) => {
    // What a person reads as one phrase: a heading, a line, a cell, a control, a hint.
    const phrases = 'h2, h3, p, li, th, td, button, label, legend, caption, option, .hint, .alert, .meta'
    const out: string[] = []
    for (const tag of tags) {
      const root = document.querySelector(tag)!.shadowRoot!
      for (const el of Array.from(root.querySelectorAll(phrases))) {
        // A select's options are phrases of their own.
        if (!el.querySelector('select')) out.push(el.textContent!.replace(/\s+/g, ' ').trim())
      }
      for (const el of Array.from(root.querySelectorAll('[aria-label]')))
        out.push(el.getAttribute('aria-label')!)
    }
    return out
  }, ELEMENTS)

/** The outline of the control focused inside an element, and its contrast with what is behind it. */
function focusRing() {
  const host = document.activeElement
  const el = host?.shadowRoot?.activeElement
  if (!host || !el) return null
  const rgb = (s: string) => (s.match(/[\d.]+/g) ?? []).map(Number)
  const lum = ([r, g, b]: number[]) => {
    const f = (v: number) => {
      const x = v / 255
      return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4
    }
    return 0.2126 * f(r!) + 0.7152 * f(g!) + 0.0722 * f(b!)
  }
  // What the ring is drawn on: the first opaque background outside the control.
  let bg = [255, 255, 255]
  for (let p: Element | null = el.parentElement ?? host; p; ) {
    const c = rgb(getComputedStyle(p).backgroundColor)
    if (c.length === 3 || (c.length === 4 && c[3]! > 0.5)) {
      bg = c.slice(0, 3)
      break
    }
    p = p.parentElement ?? ((p.getRootNode() as ShadowRoot).host as Element | undefined) ?? null
  }
  const s = getComputedStyle(el)
  const [a, b] = [lum(rgb(s.outlineColor)), lum(bg)]
  return {
    key: `${host.tagName.toLowerCase()} ${el.tagName.toLowerCase()}#${el.id || el.getAttribute('aria-label') || el.textContent?.trim()}`,
    ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05),
    width: Number.parseFloat(s.outlineWidth),
    style: s.outlineStyle,
  }
}

/** The status lines (`role="status"`) of every element, by tag. */
const statusLines = (page: Page) =>
  page.evaluate(
    (tags) =>
      Object.fromEntries(
        tags.map((t) => [
          t,
          document.querySelector(t)!.shadowRoot!.querySelector('.status')?.textContent ?? '',
        ]),
      ),
    ELEMENTS,
  )

describe('the console, polished: every element in a real browser against the real handler', () => {
  let c: Console
  let billing: { id: string }
  beforeAll(async () => {
    c = await startConsole()
    const admin = c.principals.adminA
    const i = c.infraA
    const news = await c.messaging.createChannel(admin, {
      infrastructureId: i,
      channelKey: 'ops-alerts',
      type: 'in_app',
      name: 'Ops alerts',
    })
    for (const who of [c.principals.memberA, admin]) {
      await c.messaging.addMember(admin, { infrastructureId: i, channelId: news.id, userId: who.userId })
    }
    await c.messaging.createCategory(admin, {
      infrastructureId: i,
      key: 'deploy.done',
      name: 'Deploy done',
      channels: { in_app: { channelKey: 'ops-alerts' } },
    })
    await c.messaging.createTemplate(admin, {
      infrastructureId: i,
      categoryKey: 'deploy.done',
      channelType: 'in_app',
      locale: 'en',
      content: { title: 'Deployed {{ data.version }}', body: 'Version {{ data.version }} is live.' },
    })
    const worker = createDeliveryWorker({
      messaging: c.messaging,
      principal: c.principals.serviceA,
      transports: [createInAppTransport({ messaging: c.messaging })],
    })
    // Two entries share a title: their Mark read buttons still need names of their own.
    for (const [subject, text] of [
      ['Disk almost full', 'db-1 is at 91 %.'],
      ['Disk almost full', 'db-2 is at 93 %.'],
      ['Maintenance tonight', 'The API is read-only from 22:00 to 23:00 UTC.'],
    ] as const) {
      await c.messaging.enqueue(admin, {
        infrastructureId: i,
        channelId: news.id,
        payload: { subject, text },
      })
      await worker.drain()
    }
    // A dead letter, with a channel name the health table shows instead of its id.
    const ch = await c.messaging.createChannel(admin, {
      infrastructureId: i,
      channelKey: 'billing-hooks',
      type: 'in_app',
      name: 'Billing hooks',
      maxAttempts: 1,
    })
    billing = ch
    await c.messaging.enqueue(admin, {
      infrastructureId: i,
      channelId: ch.id,
      payload: { subject: 'Invoice INV-7 paid' },
    })
    const held = await c.messaging.claim(c.principals.serviceA, { infrastructureId: i, limit: 10 })
    for (const h of held) {
      await c.messaging.ack(c.principals.serviceA, {
        infrastructureId: i,
        messageId: h.id,
        leaseToken: h.leaseToken,
        outcome: 'failed',
        reason: 'http_503: receiver unavailable',
        retryAfterMs: 1000,
      })
    }
  })
  afterAll(async () => {
    await c?.close()
  })
  afterEach(() => {
    expect(c.pageErrors.splice(0)).toEqual([])
  })

  it('each element at desktop and 390 px: no axe violation, nothing sideways, names instead of ids, screenshots', async () => {
    const { page } = await c.signIn('adminA')
    const health = page.locator('messaging-health')
    await health.locator(`tr[data-channel="${billing.id}"]`).waitFor()
    await page.locator('messaging-inbox').getByText('Maintenance tonight').waitFor()
    await page
      .locator('messaging-templates')
      .getByRole('row', { name: /deploy\.done/ })
      .waitFor()
    await page
      .locator('messaging-preferences')
      .getByRole('switch', { name: 'Alerts from Ops alerts' })
      .waitFor()
    // The channels form open too, with its multi-line secret.
    const channels = page.locator('messaging-channels')
    await channels.getByRole('button', { name: 'New channel' }).click()
    await channels.getByLabel('Type').selectOption('webhook')

    // Channel names where the health table had ids; no full id anywhere in the elements.
    expect(await health.locator(`tr[data-channel="${billing.id}"] th`).textContent()).toBe('Billing hooks')
    const dead = health.locator('tr[data-message]')
    expect(await dead.locator('th .subject').textContent()).toBe('Invoice INV-7 paid')
    expect(await dead.locator('td').first().textContent()).toBe('Billing hooks')
    for (const text of await wordsOf(page)) expect(text).not.toMatch(UUID)

    const paths: string[] = []
    for (const [size, viewport] of [
      ['desktop', DESKTOP],
      ['390', NARROW],
    ] as const) {
      await page.setViewportSize(viewport)
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))
      for (const [k, v] of Object.entries(await overflow(page))) expect({ [k]: v }).toEqual({ [k]: 0 })
      for (const tag of ELEMENTS) {
        const found = await axeViolations(page, tag)
        expect({ tag, size, found }).toEqual({ tag, size, found: [] })
        paths.push(await shot(page.locator(tag), `console-${tag.replace('messaging-', '')}-${size}`))
      }
      paths.push(await c.screenshot(page, `console-page-${size}`))
    }
    expect(paths).toHaveLength(12)
  })

  it('an empty save flags every missing field at once in plain sentences; secrets are one per line, masked, never shown once stored', async () => {
    const { page } = await c.signIn('adminA')
    const channels = page.locator('messaging-channels')
    let posts = 0
    page.on('request', (r) => {
      if (r.method() === 'POST' && r.url().endsWith('/channel')) posts++
    })
    await channels.getByRole('button', { name: 'New channel' }).click()
    await channels.getByLabel('Type').selectOption('webhook')
    await channels.getByRole('button', { name: 'Create channel' }).click()

    const alert = channels.getByRole('alert')
    await alert.waitFor()
    expect(await alert.textContent()).toBe('Fill in the required fields: Channel key, Url and Secrets.')
    const errorOf = (path: string) => channels.locator(`[data-path="${path}"] .field-error`)
    expect(await errorOf('channelKey').textContent()).toBe('Enter a value for Channel key.')
    expect(await errorOf('config.url').textContent()).toBe('Enter a value for Url.')
    expect(await errorOf('config.secrets').textContent()).toBe('Enter a value for Secrets.')
    // Optional fields and fields with a default are not flagged.
    expect(await channels.locator('.field-error').count()).toBe(3)
    for (const label of ['Channel key', 'Url', 'Secrets']) {
      expect(
        await channels.getByRole('textbox', { name: label, exact: true }).getAttribute('aria-invalid'),
      ).toBe('true')
    }
    expect(await page.evaluate(() => document.activeElement?.shadowRoot?.activeElement?.id)).toBe(
      'f-channelKey',
    )
    expect(posts).toBe(0)

    // The secrets field says "one value per line": a textarea, masked until Show is pressed.
    const secrets = channels.getByRole('textbox', { name: 'Secrets', exact: true })
    expect(await secrets.evaluate((el) => el.tagName)).toBe('TEXTAREA')
    expect(await channels.locator('[data-path="config.secrets"] .hint').textContent()).toContain(
      'one value per line',
    )
    const masking = () =>
      secrets.evaluate((el) => getComputedStyle(el).getPropertyValue('-webkit-text-security'))
    expect(await masking()).toBe('disc')
    const first = 'whsec_Zmlyc3Qtc2VjcmV0LW9mLXRoZS1ob29r'
    const second = 'whsec_c2Vjb25kLXNlY3JldC1vZi10aGUtaG9vaw=='
    await secrets.fill(`${first}\n${second}`)
    const show = channels.getByRole('button', { name: 'Show Secrets' })
    expect(await show.getAttribute('aria-pressed')).toBe('false')
    await show.click()
    expect(await show.getAttribute('aria-pressed')).toBe('true')
    expect(await masking()).toBe('none')
    await show.click()
    expect(await masking()).toBe('disc')

    // The server's refusal reads as a sentence too, beside its field.
    await channels.getByRole('textbox', { name: 'Channel key', exact: true }).fill('release-hooks')
    await channels.getByRole('textbox', { name: 'Url', exact: true }).fill('not a url')
    await channels.getByRole('button', { name: 'Create channel' }).click()
    await expect
      .poll(() => errorOf('config.url').textContent())
      .toBe('Enter a full URL, starting with https:// or http://.')
    expect(await channels.locator('.field-error').count()).toBe(1)
    const shown = (await wordsOf(page)).join('\n')
    expect(shown).not.toMatch(/Too small|Invalid|expected string/)

    await channels
      .getByRole('textbox', { name: 'Url', exact: true })
      .fill('https://hooks.example.com/release')
    await channels.getByRole('button', { name: 'Create channel' }).click()
    await channels.getByRole('status').getByText('Channel release-hooks created.').waitFor()
    const field = channels.locator('[data-path="config.secrets"]')
    expect(await field.locator('.secret-set').textContent()).toBe('Set · key ui')
    expect(await field.locator('textarea, input').count()).toBe(0)
    const markup = await page.evaluate(() =>
      Array.from(document.querySelectorAll('*'))
        .map((el) => el.shadowRoot?.innerHTML ?? '')
        .join('\n'),
    )
    expect(markup).not.toContain(first.slice(6))
    expect(markup).not.toContain(second.slice(6))
    const [stored] = await c.messaging.listChannels(c.principals.adminA, {
      infrastructureId: c.infraA,
      type: 'webhook',
    })
    expect(stored!.config).toMatchObject({ secrets: ['[redacted]', '[redacted]'] })
    await shot(channels, 'console-channels-saved-secret')
  })

  it('status lines and open forms go when the identity changes; no sentence repeats a word', async () => {
    const { page } = await c.signIn('adminA')
    const channels = page.locator('messaging-channels')
    const prefs = page.locator('messaging-preferences')
    const inbox = page.locator('messaging-inbox')

    const opt = prefs.getByRole('switch', { name: 'Alerts from Ops alerts' })
    await opt.click()
    await prefs.getByRole('status').getByText('Opted out of Ops alerts.').waitFor()
    await opt.click()
    await prefs.getByRole('status').getByText('Opted in to Ops alerts.').waitFor()
    await channels.getByRole('button', { name: 'Configure ops-alerts' }).click()
    await channels.getByLabel('Name').fill('Ops alerts')
    await channels.getByRole('button', { name: 'Save changes' }).click()
    await channels.getByRole('status').getByText('Channel ops-alerts saved.').waitFor()
    await inbox.getByRole('button', { name: 'Mark "Maintenance tonight" read' }).click()
    await inbox.getByRole('status').getByText('Marked "Maintenance tonight" read.').waitFor()
    const said = await statusLines(page)
    expect(said).toMatchObject({
      'messaging-channels': 'Channel ops-alerts saved.',
      'messaging-preferences': 'Opted in to Ops alerts.',
      'messaging-inbox': 'Marked "Maintenance tonight" read.',
    })
    // No word twice in a row, in any text or accessible name of the five elements.
    for (const text of await wordsOf(page)) expect(text).not.toMatch(/\b([a-z]{2,})\s+\1\b/i)

    // Another person signs in on the same page: nothing said to the first one stays.
    await page.getByLabel('Bearer token').fill('tok-memberA')
    await page.getByLabel('User id').fill(c.principals.memberA.userId)
    await page.getByRole('button', { name: 'Apply' }).click()
    await expect.poll(() => statusLines(page)).toEqual(Object.fromEntries(ELEMENTS.map((t) => [t, ''])))
    expect(await channels.getByRole('heading', { name: 'Configure ops-alerts' }).count()).toBe(0)
    await channels
      .getByText('Channels are created and configured by an infrastructure administrator.')
      .waitFor()
    await inbox.getByText('Disk almost full').first().waitFor()
    expect(await statusLines(page)).toEqual(Object.fromEntries(ELEMENTS.map((t) => [t, ''])))
  })

  it('a member is offered only what a member may do, and every Mark read button has a name of its own', async () => {
    const { page } = await c.signIn('memberA')
    const channels = page.locator('messaging-channels')
    const health = page.locator('messaging-health')
    const templates = page.locator('messaging-templates')
    const inbox = page.locator('messaging-inbox')
    await channels.getByRole('row', { name: /ops-alerts/ }).waitFor()
    await channels
      .getByText('Channels are created and configured by an infrastructure administrator.')
      .waitFor()
    expect(await channels.getByRole('button', { name: 'New channel' }).count()).toBe(0)
    expect(await channels.getByRole('button', { name: /^Configure/ }).count()).toBe(0)
    await templates.getByRole('row', { name: /deploy\.done/ }).waitFor()
    expect(await templates.getByRole('button', { name: 'New template' }).count()).toBe(0)
    expect(await templates.getByRole('button', { name: /^Edit / }).count()).toBe(0)
    expect(await templates.getByRole('button', { name: 'Set default locale' }).count()).toBe(0)
    await health.locator(`tr[data-channel="${billing.id}"]`).waitFor()
    expect(await health.getByRole('button', { name: /^Redrive/ }).count()).toBe(0)

    const buttons = inbox.getByRole('button', { name: /^Mark ".+ read$/ })
    await expect.poll(() => buttons.count()).toBe(3)
    const names = await buttons.evaluateAll((els) => els.map((e) => e.getAttribute('aria-label')))
    expect(new Set(names).size).toBe(3)
    expect(names.filter((n) => n!.startsWith('Mark "Disk almost full" of '))).toHaveLength(2)
    expect(names).toContain('Mark "Maintenance tonight" read')

    for (const [size, viewport] of [
      ['desktop', DESKTOP],
      ['390', NARROW],
    ] as const) {
      await page.setViewportSize(viewport)
      for (const [k, v] of Object.entries(await overflow(page))) expect({ [k]: v }).toEqual({ [k]: 0 })
      for (const tag of ['messaging-channels', 'messaging-inbox', 'messaging-health'] as const) {
        expect(await axeViolations(page, tag)).toEqual([])
        await shot(page.locator(tag), `console-${tag.replace('messaging-', '')}-member-${size}`)
      }
    }
  })

  it('every focus ring stands at least 3:1 against what is behind it', async () => {
    const { page } = await c.signIn('adminA')
    await page.locator('messaging-health').locator(`tr[data-channel="${billing.id}"]`).waitFor()
    await page
      .locator('messaging-templates')
      .getByRole('row', { name: /deploy\.done/ })
      .waitFor()
    await page.locator('messaging-inbox').getByText('Disk almost full').first().waitFor()
    const seen = new Map<string, { ratio: number; width: number; style: string }>()
    for (const tag of ELEMENTS) {
      // Keyboard focus (so :focus-visible applies) through the element's controls, from its first.
      await page.evaluate((t) => {
        const root = document.querySelector(t)!.shadowRoot!
        root.querySelector<HTMLElement>('button, input, select, textarea')!.focus()
      }, tag)
      for (let n = 0; n < 30; n++) {
        await page.keyboard.press('Tab')
        const ring = await page.evaluate(focusRing)
        if (ring === null || !ring.key.startsWith(tag)) break
        seen.set(ring.key, ring)
      }
    }
    const hosts = new Set([...seen.keys()].map((k) => k.split(' ')[0]))
    expect([...hosts].sort()).toEqual([...ELEMENTS].sort())
    for (const [key, ring] of seen) {
      expect({ key, style: ring.style, wide: ring.width >= 2, enough: ring.ratio >= 3 }).toEqual({
        key,
        style: 'solid',
        wide: true,
        enough: true,
      })
    }
  })
})
