import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync } from 'node:fs'
import type { Server } from 'node:http'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { serve } from '@hono/node-server'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'
import { z } from 'zod'
import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { createFetchHandler } from '../../src/http/index.js'
import { createMessaging, type Messaging, type Transport } from '../../src/index.js'
import { createSecretBox } from '../../src/secrets/index.js'
import { buildUiBundle, createUiAssetHandler, uiAssets } from '../../src/ui/assets.js'
import { BASE, bearerAuth, type World, world } from '../http/support.js'

export const CHROMIUM = '/usr/bin/chromium'
export const SCREENSHOTS = join(import.meta.dirname, '__screenshots__')
const UI_PREFIX = '/ui'

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

/**
 * axe-core's WCAG 2.1 A/AA violations inside one element (shadow roots included), run in the
 * page, with the impact of each.
 */
export async function axeViolations(
  page: Page,
  selector: string,
): Promise<Array<{ id: string; impact: string | null; nodes: string[] }>> {
  // Evaluated over the DevTools protocol, which the page's script CSP does not govern.
  await page.evaluate(axeSource)
  return page.evaluate(async (sel) => {
    const axe = (window as unknown as { axe: { run: (ctx: unknown, o: unknown) => Promise<unknown> } }).axe
    const r = (await axe.run(
      { include: [[sel]] },
      { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa'] } },
    )) as {
      violations: Array<{ id: string; impact: string | null; nodes: Array<{ target: unknown }> }>
    }
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      nodes: v.nodes.map((n) => JSON.stringify(n.target)),
    }))
  }, selector)
}

/**
 * A host's custom channel type (a chat webhook) whose transport records the config it is
 * handed at delivery: the only place a stored secret is ever seen again.
 */
export function chatTransport(): Transport & { seen: Array<Record<string, unknown>> } {
  const seen: Array<Record<string, unknown>> = []
  return {
    seen,
    channelType: {
      type: 'chat',
      configSchema: z.strictObject({
        webhookUrl: z.url(),
        room: z.string().min(1).max(80),
        mentions: z.enum(['none', 'here', 'all']).default('none'),
      }),
      secretPaths: ['webhookUrl'],
    },
    async send(_message, channel) {
      seen.push({ ...channel.config })
      return { status: 'delivered' }
    },
  }
}

/**
 * The demo page and the real handler on one loopback server (memory storage, bearer tokens
 * mapped to the principals of two tenants), and one headless Chromium for the file.
 */
export interface Console extends World {
  messaging: Messaging
  /** The custom `chat` type's transport (registered with the instance). */
  chat: ReturnType<typeof chatTransport>
  origin: string
  browser: Browser
  /** Script errors and console errors of every page so far (the tests expect none). */
  pageErrors: string[]
  /** A fresh browser session (its own storage) on the demo page, signed in as `who`. */
  signIn(
    who: keyof World['principals'],
    opts?: { infrastructureId?: string; userId?: string; prepare?: (page: Page) => Promise<void> },
  ): Promise<{ page: Page; context: BrowserContext }>
  screenshot(page: Page, name: string): Promise<string>
  close(): Promise<void>
}

export async function startConsole(): Promise<Console> {
  const w = world()
  const chat = chatTransport()
  // Secrets sealed as on a persistent store, so reads name their key ('ui').
  const secrets = createSecretBox({ keys: { ui: randomBytes(32).toString('base64') }, activeKeyId: 'ui' })
  const messaging = createMessaging({ storage: createMemoryStorage(), transports: [chat], secrets })
  const handler = createFetchHandler({ messaging, authenticate: bearerAuth(w.tokens) })
  // Built from the sources on every run: the bundle is no committed artifact.
  const bundle = await buildUiBundle({ prebuilt: false })
  const ui = createUiAssetHandler(await uiAssets({ apiBaseUrl: BASE, bundle }), { prefix: UI_PREFIX })
  const server = await new Promise<Server>((resolve) => {
    const s = serve(
      {
        hostname: '127.0.0.1',
        port: 0,
        fetch: (request: Request) => ui(request) ?? handler(request),
      },
      () => resolve(s as Server),
    )
  })
  const addr = server.address()
  if (addr === null || typeof addr === 'string') throw new Error('no port')
  const origin = `http://127.0.0.1:${addr.port}`
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
  mkdirSync(SCREENSHOTS, { recursive: true })
  const contexts: BrowserContext[] = []
  const errors: string[] = []

  return {
    ...w,
    messaging,
    chat,
    origin,
    browser,
    pageErrors: errors,
    async signIn(who, opts = {}) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
      contexts.push(context)
      const page = await context.newPage()
      page.on('pageerror', (e) => errors.push(e.message))
      // A console error would be a blocked script or style (the page has a strict CSP), or a bug.
      page.on('console', (m) => {
        // The refusals the tests provoke (400, 403) show as failed loads; those are expected.
        if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) errors.push(m.text())
      })
      await opts.prepare?.(page)
      // The bare prefix redirects to the page.
      await page.goto(`${origin}${UI_PREFIX}`)
      const principal = w.principals[who]
      await page.getByLabel('Bearer token').fill(`tok-${who}`)
      await page
        .getByLabel('Tenant (infrastructure id)')
        .fill(opts.infrastructureId ?? principal.grants[0]!.infrastructureId)
      await page.getByLabel('User id').fill(opts.userId ?? principal.userId)
      await page.getByRole('button', { name: 'Apply' }).click()
      await page.getByText('Signed in to tenant').waitFor()
      return { page, context }
    },
    async screenshot(page, name) {
      const path = join(SCREENSHOTS, `${name}.png`)
      await page.screenshot({ path, fullPage: true })
      return path
    },
    async close() {
      for (const c of contexts) await c.close().catch(() => {})
      await browser.close()
      await new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
      await messaging.close()
    },
  }
}
