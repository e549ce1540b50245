import { z } from 'zod'

/** How a category reaches people over one channel type. */
export interface CategoryChannel {
  /** The tenant's channel that carries this category's messages of the type (`billing-email`). */
  readonly channelKey: string
  /** The category's own default for the type: the last word of the preference resolution. */
  readonly enabled: boolean
}

/**
 * A kind of notification within an infrastructure (`invoice.paid`): its name, whether it is
 * critical, and which of the tenant's channels serves each channel type for it.
 *
 * @example
 * { key: 'invoice.paid', name: 'Invoice paid', critical: false,
 *   channels: { in_app: { channelKey: 'alerts', enabled: true }, email: { channelKey: 'billing-email', enabled: true },
 *               sms: { channelKey: 'sms', enabled: false } } }
 */
export interface Category {
  readonly infrastructureId: string
  readonly key: string
  readonly name: string
  readonly description: string | null
  /** Critical categories ignore opt-outs (the user's choices and channel opt-outs); only admins set it, audited. */
  readonly critical: boolean
  /** Keyed by channel type (`in_app`, `email`, a custom type). */
  readonly channels: Readonly<Record<string, CategoryChannel>>
  readonly createdBy: string
  readonly createdAt: Date
  readonly updatedAt: Date
}

/** Dotted lower-case segments: `invoice.paid`, `security.login-new-device`. */
export const categoryKeySchema = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/, {
    message: 'must be lower-case segments (a-z, 0-9) joined by single . - or _',
  })
