import {
  type BreakerSetting,
  breakerSettingSchema,
  type Channel,
  type RateLimit,
  rateLimitSchema,
  secretValues,
} from '../domain/channel.js'
import { createRedactor, type Redactor } from '../domain/redaction.js'
import type { ServiceContext } from './context.js'

/**
 * A channel as a delivery sees it, looked up once and opened once:
 * - `missing`: gone (deleted or never in this tenant): its messages fail for good;
 * - `disabled`: paused: its messages go back uncounted;
 * - `unavailable`: its secrets do not open in this process (no key, a key rotated away, an
 *   altered value): its messages go back uncounted, since only an operator can fix that;
 * - `invalid`: its stored config no longer parses: its messages fail for good;
 * - `ready`: `channel.config` is opened and parsed by the type's schema (defaults filled,
 *   `rateLimit` and `breaker` taken out into fields of their own), and `redact` scrubs every
 *   form of its secrets.
 */
export type ChannelLookup =
  | { readonly status: 'missing' }
  | { readonly status: 'disabled'; readonly channel: Channel }
  | {
      readonly status: 'unavailable'
      readonly channel: Channel
      /** The SecretBoxError code (`SECRET_UNAVAILABLE`, `SECRET_KEY_UNKNOWN`, ...). */
      readonly code: string
      /** Names the path and the setting, never a secret. */
      readonly reason: string
    }
  | { readonly status: 'invalid'; readonly channel: Channel; readonly reason: string }
  | {
      readonly status: 'ready'
      readonly channel: Channel
      readonly rateLimit: RateLimit | null
      /** The channel's own breaker setting; undefined: the worker's defaults. */
      readonly breaker?: BreakerSetting
      readonly redact: Redactor
    }

const errorCode = (e: unknown) => {
  const code = (e as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : 'SECRET_UNREADABLE'
}

/**
 * Opens a stored channel for delivery: the one place channel secrets are opened. The
 * result holds plaintext credentials: for a transport only, never for a response or a log.
 */
export function openChannel(
  ctx: Pick<ServiceContext, 'channelTypes' | 'secrets'>,
  channel: Channel | null,
): ChannelLookup {
  if (!channel) return { status: 'missing' }
  if (!channel.enabled) return { status: 'disabled', channel }
  // orderingOnDead is read by the claim in the store and digest by the enqueue, not by a
  // transport: kept out of the type's config.
  const {
    rateLimit,
    breaker: breakerSetting,
    orderingOnDead: _orderingOnDead,
    digest: _digest,
    ...stored
  } = channel.config
  const limit = rateLimitSchema.safeParse(rateLimit)
  const rate = limit.success ? limit.data : null
  const setting = breakerSettingSchema.safeParse(breakerSetting)
  const breaker = setting.success ? { breaker: setting.data } : {}
  // A type no instance registered has no schema and no secret paths: its config goes as stored
  // (the worker then finds no transport for it either).
  if (!ctx.channelTypes.has(channel.type)) {
    return {
      status: 'ready',
      channel: { ...channel, config: stored },
      rateLimit: rate,
      ...breaker,
      redact: (t) => t,
    }
  }
  const def = ctx.channelTypes.get(channel.type)
  let opened: Record<string, unknown>
  try {
    opened = ctx.secrets.open(def, stored, {
      infrastructureId: channel.infrastructureId,
      channelId: channel.id,
    })
  } catch (e) {
    const reason = e instanceof Error ? e.message : 'channel secrets do not open'
    return { status: 'unavailable', channel: { ...channel, config: {} }, code: errorCode(e), reason }
  }
  const redact = createRedactor(secretValues(def, opened))
  const parsed = def.configSchema.safeParse(opened)
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => `config.${i.path.join('.')}: ${i.code}`).join('; ')
    return { status: 'invalid', channel: { ...channel, config: {} }, reason: redact(where) }
  }
  return {
    status: 'ready',
    channel: { ...channel, config: parsed.data },
    rateLimit: rate,
    ...breaker,
    redact,
  }
}
