import { createMessagingClient, type MessagingClient, type MessagingClientOptions } from '../client/index.js'

export type { ChannelTypeInfo, JsonSchema } from '../client/index.js'

/** The client the components take: the typed client, which carries every read they need. */
export type MessagingUiClient = MessagingClient

/**
 * @example
 * const client = createUiClient({ baseUrl: '/functions/v1/messaging', getToken, infrastructureId })
 * document.querySelector('messaging-channels').client = client
 */
export function createUiClient(options: MessagingClientOptions): MessagingUiClient {
  return createMessagingClient(options)
}
