export type { OutboundHttpOptions } from '../shared/safe-http.js'
export {
  createSsrfGuard,
  type HostResolver,
  type ResolvedAddress,
  refusedRange,
  type SsrfGuard,
  type SsrfPolicy,
  SsrfRefusedError,
} from '../shared/ssrf-guard.js'
export { signWebhook, webhookKey } from './signature.js'
export {
  createWebhookTransport,
  type WebhookTransportOptions,
  webhookChannelType,
} from './webhook-transport.js'
