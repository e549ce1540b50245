/**
 * The demo page's script: a sign-in strip (a bearer token, the tenant, the user) and the
 * seven elements wired to one client. Bundled for the browser by `buildUiBundle`.
 */
import { createUiClient } from '../index.js'

/** What the server writes into the page (`uiAssets({ identities })`). */
export interface DemoConfig {
  readonly apiBaseUrl: string
  readonly identities?: ReadonlyArray<{
    readonly label: string
    readonly token: string
    readonly infrastructureId: string
    readonly userId?: string
  }>
}

interface Session {
  token: string
  infrastructureId: string
  userId: string
}

const STORAGE_KEY = 'messaging-demo-session'

function readConfig(): DemoConfig {
  const el = document.getElementById('messaging-demo-config')
  return el?.textContent
    ? (JSON.parse(el.textContent) as DemoConfig)
    : { apiBaseUrl: '/functions/v1/messaging' }
}

function input(id: string): HTMLInputElement {
  return document.getElementById(id) as HTMLInputElement
}

function apply(config: DemoConfig, session: Session) {
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session))
  const client = createUiClient({
    baseUrl: config.apiBaseUrl,
    getToken: () => session.token || null,
    ...(session.infrastructureId && { infrastructureId: session.infrastructureId }),
  })
  const elements = document.querySelectorAll(
    'messaging-channels, messaging-preferences, messaging-inbox, messaging-health, messaging-messages, messaging-templates, messaging-event-endpoints',
  )
  for (const el of Array.from(elements)) {
    const e = el as HTMLElement & { client: unknown }
    if (session.infrastructureId) e.setAttribute('infrastructure-id', session.infrastructureId)
    else e.removeAttribute('infrastructure-id')
    if (el.tagName === 'MESSAGING-PREFERENCES') {
      if (session.userId) e.setAttribute('user-id', session.userId)
      else e.removeAttribute('user-id')
    }
    e.client = client
  }
  const who = document.getElementById('signed-in')
  if (who)
    who.textContent = session.token
      ? `Signed in to tenant ${session.infrastructureId || '(default)'}`
      : 'Not signed in'
}

function main() {
  const config = readConfig()
  const form = document.getElementById('session-form') as HTMLFormElement
  const identity = document.getElementById('identity') as HTMLSelectElement | null
  if (identity) {
    for (const [i, id] of (config.identities ?? []).entries()) identity.add(new Option(id.label, String(i)))
    identity.addEventListener('change', () => {
      const id = config.identities?.[Number(identity.value)]
      if (!id) return
      input('token').value = id.token
      input('tenant').value = id.infrastructureId
      input('user').value = id.userId ?? ''
    })
  }
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    apply(config, {
      token: input('token').value.trim(),
      infrastructureId: input('tenant').value.trim(),
      userId: input('user').value.trim(),
    })
  })
  const saved = sessionStorage.getItem(STORAGE_KEY)
  if (saved) {
    const s = JSON.parse(saved) as Session
    input('token').value = s.token
    input('tenant').value = s.infrastructureId
    input('user').value = s.userId
    apply(config, s)
  }
}

main()
