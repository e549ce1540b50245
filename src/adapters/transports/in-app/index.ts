import { BUILTIN_CHANNEL_TYPE_DEFINITIONS } from '../../../domain/channel.js'
import type { Messaging } from '../../../messaging.js'
import type { DeliveryOutcome, Transport } from '../../../ports/transport.js'

export interface InAppTransportOptions {
  /** The module instance whose store holds the inboxes. */
  readonly messaging: Messaging
}

const inAppType = BUILTIN_CHANNEL_TYPE_DEFINITIONS.find((d) => d.type === 'in_app')!

/**
 * Delivers `in_app` messages into per-user inboxes in the module's own store: the
 * message's recipients (user ids) or the channel's opted-in members. Writes with the
 * delivering worker's scope, so the store's tenant rules apply to it as to anyone.
 *
 * @example
 * createDeliveryWorker({ messaging, principal, transports: [createInAppTransport({ messaging })] })
 */
export function createInAppTransport(options: InAppTransportOptions): Transport {
  return {
    channelType: inAppType,
    async send(message, channel, context): Promise<DeliveryOutcome> {
      const result = await options.messaging.inbox.deliver(context.scope, message, channel)
      if (!result.ok) return { status: 'permanent', code: 'invalid_recipient', error: result.error }
      return { status: 'delivered', providerMessageId: `inbox:${result.recipients}` }
    },
  }
}
