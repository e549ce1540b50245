/**
 * The typed client of the HTTP surface, for browsers and Node. It imports no server code:
 * the domain's error classes and types only.
 *
 * @example
 * import { createMessagingClient } from 'messaging/client'
 * const client = createMessagingClient({ baseUrl: '/functions/v1/messaging', getToken, infrastructureId })
 * const members = await client.listChannelMembers(channelId)
 */
export { errorFromProblem, MessagingHttpError } from './errors.js'
export {
  type BreakerView,
  type CancelResult,
  type ChannelTypeInfo,
  createMessagingClient,
  type JsonSchema,
  MessagingClient,
  type MessagingClientOptions,
  type QueueMinute,
  type Scoped,
} from './messaging-client.js'
