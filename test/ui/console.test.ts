import { statSync } from 'node:fs'
import type { Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createInAppTransport } from '../../src/adapters/transports/in-app/index.js'
import { DEFAULT_BREAKER_POLICY } from '../../src/domain/breaker.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { type Console, startConsole } from './support.js'

const SECRET = 'whsec_c2VjcmV0LWZvci10aGUtdWktdGVzdA=='

/** Every shadow root's markup on the page, the light DOM's too: what a person could find in it. */
const allMarkup = (page: Page) =>
  page.evaluate(() => {
    const out: string[] = [document.documentElement.outerHTML]
    const walk = (root: Document | ShadowRoot) => {
      for (const el of Array.from(root.querySelectorAll('*'))) {
        if (el.shadowRoot) {
          out.push(el.shadowRoot.innerHTML)
          for (const input of Array.from(el.shadowRoot.querySelectorAll('input'))) out.push(input.value)
          walk(el.shadowRoot)
        }
      }
    }
    walk(document)
    return out.join('\n')
  })

describe('the web components in a real browser against the real handler', () => {
  let c: Console
  beforeAll(async () => {
    c = await startConsole()
  })
  afterAll(async () => {
    await c?.close()
  })
  afterEach(() => {
    const errors = c.pageErrors.splice(0)
    expect(errors).toEqual([])
  })

  const shot = async (page: Page, name: string) => {
    const path = await c.screenshot(page, name)
    expect(statSync(path).size).toBeGreaterThan(10_000)
  }

  it('an administrator creates a webhook channel and sees its secret only as set', async () => {
    const { page } = await c.signIn('adminA')
    const channels = page.locator('messaging-channels')
    await channels.getByRole('button', { name: 'New channel' }).click()
    // The form opens with focus on its first field.
    expect(await page.evaluate(() => document.activeElement?.shadowRoot?.activeElement?.id)).toBe('f-type')
    await channels.getByLabel('Type').selectOption('webhook')
    await channels.getByLabel('Channel key').fill('deploy-hooks')
    await channels.getByLabel('Name').fill('Deploy hooks')
    await channels.getByLabel('Url').fill('https://hooks.example.com/deploy')
    await channels.getByRole('textbox', { name: 'Secrets', exact: true }).fill(SECRET)
    await channels.getByRole('button', { name: 'Create channel' }).click()

    await channels.getByRole('status').getByText('Channel deploy-hooks created.').waitFor()
    const secretField = channels.locator('[data-path="config.secrets"]')
    expect(await secretField.locator('.secret-set').textContent()).toBe('Set · key ui')
    await secretField.getByRole('button', { name: 'Replace' }).waitFor()
    expect(await secretField.locator('input, textarea').count()).toBe(0)
    expect(await channels.getByRole('row', { name: /deploy-hooks/ }).textContent()).toContain('webhook')
    expect(await allMarkup(page)).not.toContain(SECRET)

    const [stored] = await c.messaging.listChannels(c.principals.adminA, { infrastructureId: c.infraA })
    expect(stored).toMatchObject({
      channelKey: 'deploy-hooks',
      type: 'webhook',
      config: { secrets: ['[redacted]'] },
    })

    // Replace offers a new write-only input (masked, one value per line); keeping the current one goes back to "Set".
    await secretField.getByRole('button', { name: 'Replace' }).click()
    expect(await secretField.locator('textarea.masked').inputValue()).toBe('')
    await secretField.getByRole('button', { name: 'Keep current' }).click()
    await secretField.locator('.secret-set').waitFor()
    await shot(page, 'admin-creates-webhook')
  })

  it("a custom type's form comes from its schema; saving other fields keeps the stored secret", async () => {
    const hook = 'https://chat.example.com/hooks/T000/B000/very-secret-path'
    const { page } = await c.signIn('adminA')
    const channels = page.locator('messaging-channels')
    await channels.getByRole('button', { name: 'New channel' }).click()
    await channels.getByLabel('Type').selectOption('chat')
    await channels.getByLabel('Channel key').fill('team-chat')
    await channels.getByLabel('Webhook url').fill(hook)
    await channels.getByLabel('Room').fill('#ops')
    await channels.getByLabel('Mentions').selectOption('here')
    await channels.getByRole('button', { name: 'Create channel' }).click()
    await channels.getByRole('status').getByText('Channel team-chat created.').waitFor()
    const secret = channels.locator('[data-path="config.webhookUrl"]')
    expect(await secret.locator('.secret-set').textContent()).toBe('Set · key ui')

    // Configure again later: rename, change the room, leave the secret as "Set".
    await page.reload()
    await channels.getByRole('button', { name: 'Configure team-chat' }).click()
    await channels.getByLabel('Name').fill('Team chat')
    await channels.getByLabel('Room').fill('#incidents')
    await channels.getByRole('button', { name: 'Save changes' }).click()
    await channels.getByRole('status').getByText('Channel team-chat saved.').waitFor()
    expect(await allMarkup(page)).not.toContain('very-secret-path')

    const [saved] = await c.messaging.listChannels(c.principals.adminA, {
      infrastructureId: c.infraA,
      type: 'chat',
    })
    expect(saved).toMatchObject({
      name: 'Team chat',
      config: { webhookUrl: '[redacted]', room: '#incidents' },
    })
    await c.messaging.enqueue(c.principals.adminA, {
      infrastructureId: c.infraA,
      channelId: saved!.id,
      payload: { text: 'hello' },
    })
    await createDeliveryWorker({
      messaging: c.messaging,
      principal: c.principals.serviceA,
      transports: [c.chat],
    }).drain()
    expect(c.chat.seen).toEqual([{ webhookUrl: hook, room: '#incidents', mentions: 'here' }])
    await shot(page, 'custom-type-secret-kept')
  })

  it('a bad URL shows the problem response beside the field, focused, and creates nothing', async () => {
    const { page } = await c.signIn('adminA')
    const channels = page.locator('messaging-channels')
    await channels.getByRole('button', { name: 'New channel' }).click()
    await channels.getByLabel('Type').selectOption('webhook')
    await channels.getByLabel('Channel key').fill('broken-hook')
    await channels.getByLabel('Url').fill('not a url')
    await channels.getByRole('textbox', { name: 'Secrets', exact: true }).fill(SECRET)
    const response = page.waitForResponse(
      (r) => r.url().endsWith('/channel') && r.request().method() === 'POST',
    )
    await channels.getByRole('button', { name: 'Create channel' }).click()
    expect((await response).status()).toBe(400)

    const error = channels.locator('[data-path="config.url"] .field-error')
    await error.waitFor()
    expect(await error.textContent()).toMatch(/url/i)
    const url = channels.getByLabel('Url')
    expect(await url.getAttribute('aria-invalid')).toBe('true')
    expect(await url.getAttribute('aria-describedby')).toContain(await error.getAttribute('id'))
    expect(await page.evaluate(() => document.activeElement?.shadowRoot?.activeElement?.id)).toBe(
      'f-config-url',
    )
    // The other fields carry no error.
    expect(await channels.locator('[data-path="config.secrets"] .field-error').count()).toBe(0)
    const keys = (await c.messaging.listChannels(c.principals.adminA, { infrastructureId: c.infraA })).map(
      (x) => x.channelKey,
    )
    expect(keys).not.toContain('broken-hook')
    await shot(page, 'bad-url-field-error')
  })

  it('a business operator opts into a channel with the keyboard', async () => {
    const admin = c.principals.adminA
    const operator = c.principals.bizMemberA
    const ops = await c.messaging.createChannel(admin, {
      infrastructureId: c.infraA,
      channelKey: 'ops-alerts',
      type: 'in_app',
      name: 'Ops alerts',
    })
    await c.messaging.addMember(admin, {
      infrastructureId: c.infraA,
      channelId: ops.id,
      userId: operator.userId,
      businessId: c.bizA,
      optedIn: false,
    })
    const { page } = await c.signIn('bizMemberA')
    const prefs = page.locator('messaging-preferences')
    const toggle = prefs.getByRole('switch', { name: 'Alerts from Ops alerts' })
    await toggle.waitFor()
    expect(await toggle.isChecked()).toBe(false)
    // The membership through the operator's business reads in words, not as the business's id.
    const meta = await prefs.locator('ul.subscriptions .meta').textContent()
    expect(meta).toContain('through an organisation')
    expect(meta).not.toContain(c.bizA)
    await toggle.focus()
    await page.keyboard.press('Space')
    await prefs.getByRole('status').getByText('Opted in to Ops alerts.').waitFor()
    expect(await toggle.isChecked()).toBe(true)
    const [m] = await c.messaging.listMemberships(operator, {
      infrastructureId: c.infraA,
      userId: operator.userId,
    })
    expect(m).toMatchObject({ channelKey: 'ops-alerts', optedIn: true })
    await shot(page, 'operator-opts-in')
  })

  it('a user reads an inbox message and the unread count drops; new messages arrive while the page is open', async () => {
    const admin = c.principals.adminA
    const user = c.principals.memberA
    const news = await c.messaging.createChannel(admin, {
      infrastructureId: c.infraA,
      channelKey: 'news',
      type: 'in_app',
      name: 'News',
    })
    await c.messaging.addMember(admin, {
      infrastructureId: c.infraA,
      channelId: news.id,
      userId: user.userId,
    })
    const worker = createDeliveryWorker({
      messaging: c.messaging,
      principal: c.principals.serviceA,
      transports: [createInAppTransport({ messaging: c.messaging })],
    })
    const send = async (subject: string, text: string) => {
      await c.messaging.enqueue(admin, {
        infrastructureId: c.infraA,
        channelId: news.id,
        payload: { subject, text },
      })
      await worker.drain()
    }
    await send('Maintenance tonight', 'The API is read-only from 22:00 to 23:00 UTC.')
    await send('New region', 'eu-north is available.')

    const { page } = await c.signIn('memberA')
    const inbox = page.locator('messaging-inbox')
    const count = inbox.locator('#unread-count')
    await expect.poll(() => count.textContent()).toBe('2 unread')
    await inbox.getByRole('button', { name: 'Mark "New region" read' }).click()
    await expect.poll(() => count.textContent()).toBe('1 unread')
    expect((await c.messaging.countUnread(user, { infrastructureId: c.infraA })).unread).toBe(1)
    // The read entry lost its button; the other (older) one keeps it, named for its entry.
    // The unread count may come over the live stream before the list is drawn again: wait for both.
    const buttons = inbox.getByRole('button', { name: /^Mark ".* read$/ })
    await expect.poll(() => buttons.count()).toBe(1)
    expect(await buttons.getAttribute('aria-label')).toBe('Mark "Maintenance tonight" read')

    await inbox.evaluate((el) => el.setAttribute('poll-interval', '200'))
    await send('Incident resolved', 'All systems normal.')
    await expect.poll(() => count.textContent()).toBe('2 unread')
    await inbox.getByText('Incident resolved').waitFor()
    await shot(page, 'user-reads-inbox')
  })

  it('an administrator sees the dead letter with its last error and redrives it, and the cancelled and digested counts', async () => {
    const admin = c.principals.adminA
    const ch = await c.messaging.createChannel(admin, {
      infrastructureId: c.infraA,
      channelKey: 'billing-hooks',
      type: 'in_app',
      maxAttempts: 1,
    })
    const { message } = await c.messaging.enqueue(admin, {
      infrastructureId: c.infraA,
      channelId: ch.id,
      payload: { invoice: 'INV-7' },
    })
    const service = c.principals.serviceA
    const held = await c.messaging.claim(service, { infrastructureId: c.infraA, limit: 10 })
    for (const h of held) {
      await c.messaging.ack(service, {
        infrastructureId: c.infraA,
        messageId: h.id,
        leaseToken: h.leaseToken,
        outcome: 'failed',
        reason: h.id === message.id ? 'http_503: receiver unavailable' : 'other',
        retryAfterMs: 1000,
      })
    }
    expect(
      (await c.messaging.getMessage(admin, { infrastructureId: c.infraA, messageId: message.id })).status,
    ).toBe('dead')

    // A scheduled one cancelled before it went out: the health view counts it.
    const later = await c.messaging.enqueue(admin, {
      infrastructureId: c.infraA,
      channelId: ch.id,
      payload: { invoice: 'INV-8' },
      availableAt: new Date(Date.now() + 3_600_000),
    })
    await c.messaging.cancel(admin, { infrastructureId: c.infraA, messageId: later.message.id })
    // Two enqueues held in a channel's digest, not yet closed: counted apart from the pending delivery.
    const batched = await c.messaging.createChannel(admin, {
      infrastructureId: c.infraA,
      channelKey: 'billing-digest',
      type: 'in_app',
      config: { digest: { windowSeconds: 3600, maxItems: 10 } },
    })
    for (const invoice of ['INV-9', 'INV-10']) {
      await c.messaging.enqueue(admin, {
        infrastructureId: c.infraA,
        channelId: batched.id,
        payload: { invoice },
      })
    }

    const { page } = await c.signIn('adminA')
    const health = page.locator('messaging-health')
    const row = health.locator(`tr[data-message="${message.id}"]`)
    await row.waitFor()
    expect(await row.textContent()).toContain('http_503: receiver unavailable')
    const statsRow = health.locator(`tr[data-channel="${ch.id}"]`)
    expect(await statsRow.locator('th').textContent()).toBe('billing-hooks')
    expect(await statsRow.locator('td.dead').textContent()).toBe('1')
    expect(await statsRow.locator('td.cancelled').textContent()).toBe('1')
    const digestRow = health.locator(`tr[data-channel="${batched.id}"]`)
    expect(await digestRow.locator('td[data-label="In digests"]').textContent()).toBe('2')
    expect(await digestRow.locator('td[data-label="Pending"]').textContent()).toBe('1')
    await shot(page, 'dead-letter-before-redrive')

    await row.getByRole('button', { name: `Redrive message ${message.id.slice(0, 8)}` }).click()
    await health
      .getByRole('status')
      .getByText(/sent round again/)
      .waitFor()
    await row.waitFor({ state: 'detached' })
    expect(
      (await c.messaging.getMessage(admin, { infrastructureId: c.infraA, messageId: message.id })).status,
    ).toBe('pending')
    expect(await statsRow.locator('td.num').nth(4).textContent()).toBe('0')
    await shot(page, 'dead-letter-redriven')
  })

  it("an administrator sees how many deliveries a category's throttle skipped in the health view", async () => {
    const admin = c.principals.adminA
    await c.messaging.createChannel(admin, {
      infrastructureId: c.infraA,
      channelKey: 'digest-inbox',
      type: 'in_app',
    })
    await c.messaging.createCategory(admin, {
      infrastructureId: c.infraA,
      key: 'digest.hourly',
      name: 'Hourly digest',
      channels: { in_app: { channelKey: 'digest-inbox' } },
      throttle: { limit: 1, windowSeconds: 3600 },
    })
    const user = c.principals.memberA.userId
    await c.messaging.upsertProfile(admin, { infrastructureId: c.infraA, userId: user })
    // One notification an hour reaches the user: the next two are throttled.
    for (let i = 0; i < 3; i++) {
      await c.messaging.notify(c.principals.serviceA, {
        infrastructureId: c.infraA,
        category: 'digest.hourly',
        to: { users: [user] },
        data: { n: i },
      })
    }
    const { page } = await c.signIn('adminA')
    const health = page.locator('messaging-health')
    const row = health.locator('tr[data-throttled="digest.hourly"]')
    await row.waitFor()
    expect(await row.locator('th').textContent()).toBe('digest.hourly')
    expect(await row.locator('td.throttled').textContent()).toBe('2')
  })

  it('an administrator sees a channel whose circuit breaker is open in the health view', async () => {
    const admin = c.principals.adminA
    const ch = await c.messaging.createChannel(admin, {
      infrastructureId: c.infraA,
      channelKey: 'crm-hooks',
      type: 'in_app',
    })
    // The store's own breaker, tripped as a worker would: five failures in a row.
    const port = c.messaging.deliveryPort({ principal: c.principals.serviceA })
    const key = { infrastructureId: c.infraA, channelId: ch.id }
    for (let i = 0; i < 5; i++)
      await port.recordBreaker(key, { ...DEFAULT_BREAKER_POLICY, coolDownMs: 3_600_000 }, 'failure')
    const { page } = await c.signIn('adminA')
    const health = page.locator('messaging-health')
    const row = health.locator(`tr[data-breaker="${ch.id}"]`)
    await row.waitFor()
    expect(await row.locator('th').textContent()).toBe('crm-hooks')
    expect(await row.locator('td.breaker-open').textContent()).toContain('Open: messages wait')
    expect(await row.locator('td.num').textContent()).toBe('5')
    // It closes once a delivery gets through; the next refresh says every channel delivers.
    await port.recordBreaker(key, DEFAULT_BREAKER_POLICY, 'success')
    await health.getByRole('button', { name: 'Refresh' }).click()
    await row.waitFor({ state: 'detached' })
    await health.getByText('Every channel is delivering.').waitFor()
  })

  it("sessions cannot see or change another tenant's channels: refused, and the component says so", async () => {
    await c.messaging.createChannel(c.principals.adminB, {
      infrastructureId: c.infraB,
      channelKey: 'b-private',
      type: 'in_app',
    })
    const { page } = await c.signIn('memberA', { infrastructureId: c.infraB })
    const channels = page.locator('messaging-channels')
    const alert = channels.getByRole('alert')
    await alert.waitFor()
    expect(await alert.textContent()).toContain(
      `Access refused: this session has no access to tenant ${c.infraB}.`,
    )
    expect(await channels.getByText('b-private').count()).toBe(0)
    // A member is not offered what only an administrator may do.
    expect(await channels.getByRole('button', { name: 'New channel' }).count()).toBe(0)
    await page.close()

    // An administrator of tenant A is offered New channel; saving it into tenant B is refused.
    const admin = await c.signIn('adminA', { infrastructureId: c.infraB })
    const adminChannels = admin.page.locator('messaging-channels')
    await adminChannels.getByRole('alert').waitFor()
    await createRefused(admin.page, adminChannels)
  })

  async function createRefused(page: Page, channels: ReturnType<Page['locator']>) {
    const statuses: number[] = []
    // The writes this page makes from here on (its reads may still be answering).
    page.on('response', (r) => {
      if (r.url().includes('/functions/v1/messaging/channel') && r.request().method() !== 'GET')
        statuses.push(r.status())
    })
    const alert = channels.getByRole('alert')
    // The element reports each failure as an event, besides the banner.
    await page.evaluate(() => {
      const w = window as unknown as { failures: string[] }
      w.failures = []
      document.querySelector('messaging-channels')!.addEventListener('messaging-error', (e) => {
        w.failures.push(String((e as CustomEvent<{ code: string }>).detail.code))
      })
    })
    await channels.getByRole('button', { name: 'New channel' }).click()
    await channels.getByLabel('Type').selectOption('in_app')
    await channels.getByLabel('Channel key').fill('planted')
    const create = page.waitForResponse(
      (r) => r.url().endsWith('/channel') && r.request().method() === 'POST',
    )
    await channels.getByRole('button', { name: 'Create channel' }).click()
    const refused = (await (await create).json()) as { code: string }
    expect((await create).status()).toBe(403)
    expect(refused.code).toBe('TENANT_SCOPE_VIOLATION')
    await expect
      .poll(() => page.evaluate(() => (window as unknown as { failures: string[] }).failures))
      .toEqual(['TENANT_SCOPE_VIOLATION'])
    expect(await alert.textContent()).toContain(
      `Access refused: this session has no access to tenant ${c.infraB}.`,
    )
    expect(statuses).toEqual([403])
    const b = await c.messaging.listChannels(c.principals.adminB, { infrastructureId: c.infraB })
    expect(b.map((x) => x.channelKey)).toEqual(['b-private'])
    await shot(page, 'other-tenant-refused')
  }
})
