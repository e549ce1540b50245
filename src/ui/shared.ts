import {
  css,
  LitElement,
  type PropertyDeclarations,
  type PropertyValues,
  type ReactiveController,
  type ReactiveControllerHost,
} from 'lit'
import type { Principal, Role } from '../domain/tenant-scope.js'

/**
 * The theme: every color, font and size the components use comes from a custom property
 * with a fallback, so a host restyles them from outside the shadow root:
 *
 * ```css
 * messaging-channels, messaging-inbox { --messaging-accent: #7b1fa2; --messaging-radius: 0; }
 * ```
 */
export const baseStyles = css`
  :host {
    display: block;
    font-family: var(--messaging-font-family, system-ui, sans-serif);
    font-size: var(--messaging-font-size, 0.95rem);
    color: var(--messaging-color, #1d2430);
    background: var(--messaging-background, #ffffff);
    border: 1px solid var(--messaging-border-color, #d0d7de);
    border-radius: var(--messaging-radius, 8px);
    padding: var(--messaging-spacing, 1rem);
    box-sizing: border-box;
  }
  :host([hidden]) {
    display: none;
  }
  * {
    box-sizing: border-box;
  }
  h2,
  h3 {
    margin: 0 0 0.75rem;
    font-size: 1.1rem;
  }
  h3 {
    font-size: 1rem;
  }
  button {
    font: inherit;
    cursor: pointer;
    border-radius: var(--messaging-radius, 8px);
    border: 1px solid var(--messaging-accent, #0b5cad);
    background: var(--messaging-accent, #0b5cad);
    color: var(--messaging-accent-contrast, #ffffff);
    padding: 0.3rem 0.8rem;
  }
  button.secondary {
    background: transparent;
    color: var(--messaging-accent, #0b5cad);
  }
  button:disabled {
    opacity: 0.6;
    cursor: default;
  }
  button:focus-visible,
  input:focus-visible,
  select:focus-visible,
  textarea:focus-visible,
  [tabindex='-1']:focus-visible {
    /* #b45309 is 5.0:1 against the white background and 4.6:1 against a selected row
       (#eef5ff), over the 3:1 WCAG 1.4.11 asks of a focus indicator; the amber it replaces
       was 2.03:1. The offset puts the ring on the background, not on the control. */
    outline: 3px solid var(--messaging-focus-ring, #b45309);
    outline-offset: 2px;
  }
  input,
  select,
  textarea {
    font: inherit;
    color: inherit;
    background: var(--messaging-input-background, #ffffff);
    border: 1px solid var(--messaging-border-color, #d0d7de);
    border-radius: calc(var(--messaging-radius, 8px) / 2);
    padding: 0.3rem 0.45rem;
  }
  input[aria-invalid='true'],
  textarea[aria-invalid='true'],
  select[aria-invalid='true'] {
    border-color: var(--messaging-danger, #b42318);
  }
  table {
    border-collapse: collapse;
    width: 100%;
  }
  caption {
    text-align: left;
    font-weight: 600;
    padding-bottom: 0.4rem;
  }
  th,
  td {
    text-align: left;
    padding: 0.35rem 0.5rem;
    border-bottom: 1px solid var(--messaging-border-color, #d0d7de);
    vertical-align: top;
  }
  td.num,
  th.num {
    text-align: right;
    font-variant-numeric: tabular-nums;
  }
  .alert {
    color: var(--messaging-danger, #b42318);
    background: var(--messaging-danger-background, #fdecea);
    border-radius: calc(var(--messaging-radius, 8px) / 2);
    padding: 0.5rem 0.75rem;
    margin: 0 0 0.75rem;
  }
  .status {
    color: var(--messaging-success, #1a7f37);
    min-height: 1.2em;
    margin: 0 0 0.5rem;
  }
  .muted {
    color: var(--messaging-muted, #57606a);
  }
  .toolbar {
    display: flex;
    gap: 0.5rem;
    align-items: center;
    flex-wrap: wrap;
    margin-bottom: 0.75rem;
  }
  code {
    overflow-wrap: anywhere;
  }
  .visually-hidden {
    position: absolute;
    width: 1px;
    height: 1px;
    overflow: hidden;
    clip: rect(0 0 0 0);
    white-space: nowrap;
  }
`

interface ErrorLike {
  readonly code?: unknown
  readonly message?: unknown
  readonly required?: unknown
  readonly role?: unknown
  /** ForbiddenRoleError names the caller's role `actual`. */
  readonly actual?: unknown
  readonly infrastructureId?: unknown
}

/** A sentence for a person, from the typed error the client threw (by its stable `code`). */
export function describeError(error: unknown): string {
  const e = (typeof error === 'object' && error !== null ? error : {}) as ErrorLike
  switch (e.code) {
    case 'TENANT_SCOPE_VIOLATION':
      return `Access refused: this session has no access to tenant ${String(e.infrastructureId ?? '')}.`.replace(
        ' .',
        '.',
      )
    case 'FORBIDDEN_ROLE':
      return `Not allowed for your role (${String(e.actual ?? e.role ?? 'unknown')}); this needs ${
        Array.isArray(e.required) ? e.required.join(' or ') : 'another role'
      }.`
    case 'UNAUTHENTICATED':
      return 'Sign-in required: the server did not accept this session.'
    case 'NOT_FOUND':
      return 'Not found (or outside your access).'
    case 'VALIDATION_FAILED':
      return 'Some fields need attention.'
    case 'RATE_LIMITED':
      return 'Too many requests; try again shortly.'
    default:
      return typeof e.message === 'string' && e.message ? e.message : 'Something went wrong.'
  }
}

/** A client that can say who is signed in (`GET /session`); the elements use it to offer only what the role may do. */
export interface SessionClient {
  getSession?(): Promise<Principal>
}

/** What the components share: the client, the tenant, and the reload when either changes. */
export abstract class MessagingElement<C> extends LitElement {
  static override properties: PropertyDeclarations = {
    client: { attribute: false },
    infrastructureId: { attribute: 'infrastructure-id' },
    error: { state: true },
    loading: { state: true },
    status: { state: true },
    sessionRole: { state: true },
  }

  /** The typed client (`createUiClient` or `createMessagingClient`). */
  declare client: C | undefined
  /** The tenant; absent, the client's default. */
  declare infrastructureId: string | undefined
  declare protected error: string | null
  declare protected loading: boolean
  /** The line under the title that says what the last action did (`role="status"`). */
  declare protected status: string
  /**
   * The signed-in role, from `getSession` when the client has it; `undefined` when the
   * client cannot say (every action is offered and the server decides), null while unknown.
   */
  declare protected sessionRole: Role | null | undefined

  /** Bumped on every change of identity: answers to calls made before it are dropped. */
  protected identity = 0

  constructor() {
    super()
    this.client = undefined
    this.infrastructureId = undefined
    this.error = null
    this.loading = false
    this.status = ''
    this.sessionRole = null
  }

  /** `{ infrastructureId }` when the attribute is set, else nothing (the client's default applies). */
  protected get scope(): { infrastructureId?: string } {
    return this.infrastructureId ? { infrastructureId: this.infrastructureId } : {}
  }

  /** The properties whose change means another person or tenant: what was said before no longer holds. */
  protected identityKeys(): readonly PropertyKey[] {
    return ['client', 'infrastructureId']
  }

  protected override willUpdate(changed: PropertyValues): void {
    if (this.identityKeys().some((k) => changed.has(k)) && this.hasUpdated) {
      this.identity++
      this.status = ''
      this.error = null
      this.sessionRole = null
      this.resetForIdentity()
    }
  }

  /** Drops what belongs to the previous identity (open forms, rows); the reload follows. */
  protected resetForIdentity(): void {}

  protected override updated(changed: PropertyValues): void {
    if ((changed.has('client') || changed.has('infrastructureId')) && this.client) void this.reload()
  }

  /** Reads the signed-in role (when the client can tell) into `sessionRole`. */
  protected async loadRole(client: C): Promise<void> {
    const session = (client as SessionClient).getSession
    if (typeof session !== 'function') {
      this.sessionRole = undefined
      return
    }
    const identity = this.identity
    try {
      const principal = await session.call(client)
      if (identity === this.identity) this.sessionRole = principal.role
    } catch {
      // The element's own reads show the refusal; nothing is offered meanwhile.
      if (identity === this.identity) this.sessionRole = null
    }
  }

  /** Whether the signed-in role is one of `roles` (true when the client cannot say). */
  protected roleIs(...roles: readonly Role[]): boolean {
    return this.sessionRole === undefined || (this.sessionRole !== null && roles.includes(this.sessionRole))
  }

  /** Runs a call, turning its failure into the element's error banner; undefined on failure. */
  protected async guard<T>(call: () => Promise<T>): Promise<T | undefined> {
    const identity = this.identity
    try {
      const r = await call()
      return identity === this.identity ? r : undefined
    } catch (e) {
      if (identity !== this.identity) return undefined
      this.error = describeError(e)
      this.dispatchEvent(new CustomEvent('messaging-error', { detail: e, bubbles: true, composed: true }))
      return undefined
    }
  }

  /** Reads everything the element shows. */
  abstract reload(): Promise<void>
}

/** One broken rule as the server reports it (`ValidationIssue`). */
export interface IssueLike {
  readonly path: string
  readonly rule?: string
  readonly message: string
}

/**
 * A sentence for a person from one validation issue: the server's rule names (zod's codes)
 * become plain words; a message the module wrote itself is kept, as a sentence.
 *
 * @example
 * plainIssue({ path: 'channelKey', rule: 'too_small', message: 'Too small: expected string to have >=1 characters' })
 * // 'Required: enter a value.'
 */
export function plainIssue(issue: IssueLike, label?: string): string {
  const m = issue.message
  const required = label ? `Enter a value for ${label}.` : 'Required: enter a value.'
  const bound = /([<>]=?)\s*(\d+(?:\.\d+)?)\s*(characters|items|elements)?/.exec(m)
  const unit = bound?.[3] === 'characters' ? ' characters' : bound?.[3] ? ' values' : ''
  switch (issue.rule) {
    case 'too_small':
      if (bound && Number(bound[2]) <= 1 && bound[3]) return required
      if (bound) return `Enter at least ${bound[1] === '>' ? Number(bound[2]) + 1 : bound[2]}${unit}.`
      break
    case 'too_big':
      if (bound) return `Enter at most ${bound[1] === '<' ? Number(bound[2]) - 1 : bound[2]}${unit}.`
      break
    case 'invalid_type':
      if (/undefined|null/.test(m)) return required
      return 'This value is not of the expected kind.'
    case 'format:url':
      return 'Enter a full URL, starting with https:// or http://.'
    case 'format:email':
      return 'Enter an e-mail address (name@example.com).'
    case 'invalid_value':
      return 'Choose one of the values offered.'
    case 'unrecognized_keys':
      return 'This field is not known to the channel type.'
  }
  const text = m.trim() || 'Not valid.'
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}${/[.!?]$/.test(text) ? '' : '.'}`
}

/** `1h 4m`, `35s`, `-` for none. */
export function formatAge(ms: number | null): string {
  if (ms === null) return '-'
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m ${s % 60}s`
  const h = Math.floor(m / 60)
  if (h < 48) return `${h}h ${m % 60}m`
  return `${Math.floor(h / 24)}d ${h % 24}h`
}

/** A local date and time for a Date or an RFC 3339 string. */
export function formatTime(d: Date | string | null): string {
  if (d === null) return '-'
  const date = typeof d === 'string' ? new Date(d) : d
  return date.toLocaleString()
}

/**
 * Reloads a component every `interval()` ms while it is connected and the page visible,
 * skipping a tick while `idle()` says the component is busy; reschedules when the interval
 * property changes. With `refreshOnVisible`, a page coming back into view reloads at once.
 */
export class PollController implements ReactiveController {
  private timer: ReturnType<typeof setInterval> | undefined
  private scheduledFor = 0
  private readonly onVisibility = () => {
    if (document.visibilityState === 'visible' && this.idle()) void this.reload()
  }

  constructor(
    private readonly host: ReactiveControllerHost & HTMLElement,
    private readonly interval: () => number,
    private readonly idle: () => boolean,
    private readonly reload: () => Promise<void>,
    private readonly refreshOnVisible = false,
  ) {
    host.addController(this)
  }

  hostConnected(): void {
    if (this.refreshOnVisible) document.addEventListener('visibilitychange', this.onVisibility)
    this.schedule()
  }

  hostDisconnected(): void {
    if (this.refreshOnVisible) document.removeEventListener('visibilitychange', this.onVisibility)
    clearInterval(this.timer)
    this.timer = undefined
  }

  hostUpdated(): void {
    if (this.interval() !== this.scheduledFor) this.schedule()
  }

  private schedule(): void {
    clearInterval(this.timer)
    this.timer = undefined
    this.scheduledFor = this.interval()
    if (!this.host.isConnected || !(this.scheduledFor > 0)) return
    this.timer = setInterval(() => {
      if (document.visibilityState !== 'hidden' && this.idle()) void this.reload()
    }, this.scheduledFor)
  }
}
