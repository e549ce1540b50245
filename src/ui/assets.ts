import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { DemoConfig } from './demo/demo.js'

/** One file a server hands out as is. */
export interface UiAsset {
  readonly contentType: string
  readonly body: string
}

export interface UiAssetsOptions {
  /** Where the page's client finds the handler (absolute, or relative to the page). Default `/functions/v1/messaging`. */
  readonly apiBaseUrl?: string
  /** Sign-ins offered in the page's picker: a demo's made-up tokens, never real ones. */
  readonly identities?: DemoConfig['identities']
  readonly title?: string
  /** The browser bundle, when the host built it already (`buildUiBundle`). */
  readonly bundle?: string
}

const here = (rel: string) => fileURLToPath(new URL(rel, import.meta.url))

/**
 * The demo page's script with the seven elements, Lit and the client in one ES module for
 * browsers (ES2022). The package's build ships it next to this module (`messaging-ui.js`,
 * also exported as `messaging/ui/messaging-ui.js`) and it is used as is; in a checkout the
 * sources are bundled with esbuild (a development dependency), which takes about a fifth
 * of a second.
 *
 * @example
 * await writeFile('public/messaging-ui.js', await buildUiBundle({ minify: true }))
 */
export async function buildUiBundle(options: { minify?: boolean; prebuilt?: boolean } = {}): Promise<string> {
  const prebuilt = here('./messaging-ui.js')
  if (options.prebuilt !== false && existsSync(prebuilt)) return readFile(prebuilt, 'utf8')
  const entry = here('./demo/demo.ts')
  if (!existsSync(entry))
    throw new Error('the UI bundle messaging-ui.js is missing next to the assets module: run `npm run build`')
  const esbuild = await import('esbuild')
  const out = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: options.minify ?? false,
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
    // Lit's development build warns in the console; the production one is the default export.
    conditions: ['production'],
  })
  const file = out.outputFiles[0]
  if (!file) throw new Error('esbuild produced no output')
  return file.text
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)

/** The demo page: a sign-in strip and the seven elements, themed through custom properties. */
export function demoPage(options: Pick<UiAssetsOptions, 'apiBaseUrl' | 'identities' | 'title'> = {}): string {
  const config: DemoConfig = {
    apiBaseUrl: options.apiBaseUrl ?? '/functions/v1/messaging',
    ...(options.identities && { identities: options.identities }),
  }
  // Inside <script>, only "<" can end the element early; JSON keeps it as \u003c.
  const json = JSON.stringify(config).replace(/</g, '\\u003c')
  const title = escapeHtml(options.title ?? 'Messaging console')
  const picker =
    options.identities && options.identities.length > 0
      ? `<label for="identity">Sign in as</label>
        <select id="identity"><option value="">(choose)</option></select>`
      : ''
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>
  :root { color-scheme: light; }
  body { margin: 0; font-family: system-ui, sans-serif; background: #f3f5f8; color: #1d2430; }
  header { background: #13294b; color: #fff; padding: 0.75rem 1.25rem; }
  header h1 { margin: 0 0 0.5rem; font-size: 1.25rem; }
  #session-form { display: flex; flex-wrap: wrap; gap: 0.4rem 0.6rem; align-items: center; }
  #session-form input, #session-form select { font: inherit; padding: 0.25rem 0.4rem; border-radius: 4px; border: 1px solid #8aa0c0; }
  #session-form input { width: 19rem; max-width: 100%; }
  #session-form button { font: inherit; padding: 0.25rem 0.9rem; border-radius: 4px; border: 0; background: #f5a623; color: #13294b; font-weight: 600; cursor: pointer; }
  #signed-in { font-size: 0.85rem; opacity: 0.85; margin: 0.4rem 0 0; }
  main { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(28rem, 100%), 1fr)); gap: 1rem; padding: 1rem 1.25rem; }
  @media (max-width: 30rem) { main { padding: 0.75rem 0.5rem; } header { padding: 0.75rem; } }
  main > .wide { grid-column: 1 / -1; }
  /* The theme: the components read these custom properties through their shadow roots. */
  messaging-channels, messaging-preferences, messaging-inbox, messaging-health, messaging-messages, messaging-templates, messaging-event-endpoints {
    --messaging-accent: #0b5cad;
    --messaging-radius: 6px;
    --messaging-border-color: #d3dae3;
  }
</style>
<script type="application/json" id="messaging-demo-config">${json}</script>
<script type="module" src="./messaging-ui.js"></script>
</head>
<body>
<header>
  <h1>${title}</h1>
  <form id="session-form" aria-label="Session">
    ${picker}
    <label for="token">Bearer token</label>
    <input id="token" type="password" autocomplete="off">
    <label for="tenant">Tenant (infrastructure id)</label>
    <input id="tenant" autocomplete="off">
    <label for="user">User id</label>
    <input id="user" autocomplete="off">
    <button type="submit">Apply</button>
  </form>
  <p id="signed-in" role="status">Not signed in</p>
</header>
<main>
  <messaging-channels class="wide"></messaging-channels>
  <messaging-preferences class="wide"></messaging-preferences>
  <messaging-inbox poll-interval="5000"></messaging-inbox>
  <messaging-health class="wide" poll-interval="10000"></messaging-health>
  <messaging-messages class="wide"></messaging-messages>
  <messaging-templates class="wide"></messaging-templates>
  <messaging-event-endpoints class="wide"></messaging-event-endpoints>
</main>
</body>
</html>
`
}

/**
 * The demo's files by path, for a server to mount under a prefix of its choice (with a
 * trailing slash: the page loads `./messaging-ui.js`).
 *
 * @example
 * const assets = await uiAssets({ apiBaseUrl: '/functions/v1/messaging' })
 * app.get('/ui/*', (c) => {
 *   const a = assets[c.req.path.slice('/ui'.length)]
 *   return a ? c.body(a.body, 200, { 'content-type': a.contentType }) : c.notFound()
 * })
 */
export async function uiAssets(options: UiAssetsOptions = {}): Promise<Record<string, UiAsset>> {
  const page: UiAsset = { contentType: 'text/html; charset=utf-8', body: demoPage(options) }
  const bundle = options.bundle ?? (await buildUiBundle())
  return {
    '/': page,
    '/index.html': page,
    '/messaging-ui.js': { contentType: 'text/javascript; charset=utf-8', body: bundle },
  }
}

/**
 * A request handler for the assets under `prefix`: the asset's response, a redirect from
 * the bare prefix to `prefix/`, or undefined for any other path (the server's own routes).
 * The page is sent with a content security policy that allows only its own script.
 *
 * @example
 * const ui = createUiAssetHandler(await uiAssets({ apiBaseUrl: handler.basePath }))
 * serve({ fetch: (request) => ui(request) ?? handler(request), port: 8080 })
 */
export function createUiAssetHandler(
  assets: Readonly<Record<string, UiAsset>>,
  options: { prefix?: string; apiOrigin?: string } = {},
): (request: Request) => Response | undefined {
  const prefix = (options.prefix ?? '/ui').replace(/\/+$/, '')
  const csp = [
    "default-src 'self'",
    "script-src 'self'",
    // The page's own <style>; the components' styles are constructed stylesheets.
    "style-src 'self' 'unsafe-inline'",
    `connect-src 'self'${options.apiOrigin ? ` ${options.apiOrigin}` : ''}`,
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ')
  return (request) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return undefined
    const url = new URL(request.url)
    if (url.pathname === prefix)
      return new Response(null, { status: 308, headers: { location: `${prefix}/` } })
    if (!url.pathname.startsWith(`${prefix}/`)) return undefined
    const asset = assets[url.pathname.slice(prefix.length)]
    if (!asset) return undefined
    const headers: Record<string, string> = {
      'content-type': asset.contentType,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    }
    if (asset.contentType.startsWith('text/html')) headers['content-security-policy'] = csp
    return new Response(request.method === 'HEAD' ? null : asset.body, { headers })
  }
}
