import { randomUUID } from 'node:crypto'
import type { Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createInAppTransport } from '../../src/adapters/transports/in-app/index.js'
import type { Principal } from '../../src/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { type Console, startConsole } from './support.js'

/**
 * `<messaging-inbox>` on the demo page, in headless Chromium against the real handler: it
 * follows `GET /inbox/stream` (fetch with the page's bearer token), and polls only when the
 * stream fails.
 */
describe('the live inbox in a real browser', () => {
  let c: Console
  let other: Principal
  beforeAll(async () => {
    c = await startConsole()
    // A second user of the same tenant, with the same infrastructure-wide grant.
    other = {
      userId: randomUUID(),
      role: 'member',
      grants: [{ infrastructureId: c.infraA, businessId: null }],
    }
    ;(c.principals as Record<string, Principal>).otherA = other
    c.tokens.set('tok-otherA', other)
  })
  afterAll(async () => {
    await c?.close()
  })
  afterEach(() => {
    expect(c.pageErrors.splice(0)).toEqual([])
  })

  async function channelFor(key: string, users: Principal[]) {
    const admin = c.principals.adminA
    const ch = await c.messaging.createChannel(admin, {
      infrastructureId: c.infraA,
      channelKey: key,
      type: 'in_app',
    })
    for (const u of users) {
      await c.messaging.addMember(admin, { infrastructureId: c.infraA, channelId: ch.id, userId: u.userId })
    }
    const worker = createDeliveryWorker({
      messaging: c.messaging,
      principal: c.principals.serviceA,
      transports: [createInAppTransport({ messaging: c.messaging })],
    })
    /** Enqueues a message to `to` and delivers it; resolves when the delivery has committed. */
    return async (subject: string, to: Principal) => {
      await c.messaging.enqueue(admin, {
        infrastructureId: c.infraA,
        channelId: ch.id,
        payload: { subject, text: `for ${to.userId}` },
        recipients: [to.userId],
      })
      await worker.drain()
    }
  }

  /** Signs in as `who` with polling off: whatever shows up came by the stream. */
  async function openInbox(who: 'memberA' | 'otherA', pollInterval: string) {
    const { page } = await c.signIn(who as never)
    const inbox = page.locator('messaging-inbox')
    await inbox.evaluate((el, ms) => el.setAttribute('poll-interval', ms), pollInterval)
    await expect.poll(() => inbox.locator('#unread-count').textContent()).toBe('0 unread')
    return { page, inbox }
  }

  const shownAt = (page: Page, text: string) =>
    page.waitForFunction(
      (t) => document.querySelector('messaging-inbox')?.shadowRoot?.textContent?.includes(t) === true,
      text,
      { timeout: 10_000, polling: 'raf' },
    )

  it("shows a message delivered while the page is open at once, by the stream; a second user's page never shows it", async () => {
    const send = await channelFor('live', [c.principals.memberA, other])
    const mine = await openInbox('memberA', '0')
    const theirs = await openInbox('otherA', '0')
    // The stream is open once the page has its first event: the component marks itself live.
    await expect.poll(() => mine.inbox.evaluate((el) => (el as unknown as { live: boolean }).live)).toBe(true)
    await expect
      .poll(() => theirs.inbox.evaluate((el) => (el as unknown as { live: boolean }).live))
      .toBe(true)

    await send('Deploy finished', c.principals.memberA)
    const delivered = performance.now()
    await shownAt(mine.page, 'Deploy finished')
    const latencyMs = performance.now() - delivered
    await expect.poll(() => mine.inbox.locator('#unread-count').textContent()).toBe('1 unread')
    console.log(`live inbox: shown ${latencyMs.toFixed(0)} ms after its delivery committed`)

    // The other user's page is live too: their own message arrives, and by then the first
    // one would have, had it leaked.
    await send('Your report is ready', other)
    await shownAt(theirs.page, 'Your report is ready')
    const text = await theirs.inbox.evaluate((el) => el.shadowRoot?.textContent ?? '')
    expect(text).not.toContain('Deploy finished')
    expect(await theirs.inbox.locator('#unread-count').textContent()).toBe('1 unread')
    expect(await mine.inbox.evaluate((el) => el.shadowRoot?.textContent ?? '')).not.toContain(
      'Your report is ready',
    )
  })

  it('falls back to polling when the stream cannot be opened', async () => {
    const send = await channelFor('fallback', [c.principals.memberA])
    // The stream is refused at the network (a proxy that drops it): the element polls instead.
    const { page } = await c.signIn('memberA', {
      prepare: async (p) => {
        await p.route('**/inbox/stream**', (route) => route.abort())
      },
    })
    const inbox = page.locator('messaging-inbox')
    await inbox.evaluate((el) => el.setAttribute('poll-interval', '200'))
    await send('Polled in', c.principals.memberA)
    await shownAt(page, 'Polled in')
    expect(await inbox.evaluate((el) => (el as unknown as { live: boolean }).live)).toBe(false)
    await page.unroute('**/inbox/stream**')
    // The aborted stream requests show as failed loads in the console: expected here, and only those.
    const rest = c.pageErrors.splice(0).filter((e) => e !== 'Failed to load resource: net::ERR_FAILED')
    c.pageErrors.push(...rest)
  })
})
