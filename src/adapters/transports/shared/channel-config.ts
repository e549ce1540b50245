import type { z } from 'zod'
import { type Channel, type ChannelTypeDefinition, secretValues } from '../../../domain/channel.js'
import type { DeliveryOutcome } from '../../../ports/transport.js'
import { isSealed, openConfig, type SecretBox, SecretBoxError } from '../../../secrets/index.js'

export type LoadedConfig<T> =
  | { readonly ok: true; readonly config: T; readonly secrets: readonly string[] }
  | { readonly ok: false; readonly outcome: DeliveryOutcome }

function hasSealedSecret(def: ChannelTypeDefinition, config: Readonly<Record<string, unknown>>): boolean {
  // secretValues walks the same paths the box seals; any sealed entry means the row is sealed.
  return secretValues(def, config).some(isSealed)
}

/**
 * Opens the channel's sealed secrets (only here, inside the transport) and validates the
 * config with the type's schema, which also fills its defaults. A config that does not
 * open or parse is a permanent failure: retrying will not fix it.
 */
export function loadChannelConfig<S extends z.ZodType<Record<string, unknown>>>(
  def: ChannelTypeDefinition,
  schema: S,
  channel: Channel,
  secretBox: SecretBox | undefined,
): LoadedConfig<z.output<S>> {
  let raw: Record<string, unknown> = { ...channel.config }
  if (hasSealedSecret(def, raw)) {
    if (!secretBox) {
      return {
        ok: false,
        outcome: {
          status: 'permanent',
          code: 'SECRET_UNAVAILABLE',
          error: 'channel secrets are sealed but the transport has no secret box',
        },
      }
    }
    try {
      raw = openConfig(secretBox, def, raw, {
        infrastructureId: channel.infrastructureId,
        channelId: channel.id,
      })
    } catch (e) {
      if (e instanceof SecretBoxError) {
        return { ok: false, outcome: { status: 'permanent', code: e.code, error: e.message } }
      }
      throw e
    }
  }
  // `rateLimit` is the module's own key on every channel (read by the worker), not the type's.
  const { rateLimit: _moduleLevel, ...typeConfig } = raw
  const parsed = schema.safeParse(typeConfig)
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => `config.${i.path.join('.')}: ${i.code}`).join('; ')
    return { ok: false, outcome: { status: 'permanent', code: 'INVALID_CONFIG', error: where } }
  }
  return { ok: true, config: parsed.data, secrets: secretValues(def, raw) }
}
