/**
 * Building blocks for HTTP transports, the built-in ones and a host's own: the guarded
 * client (SSRF guard, pinned address, timeouts, capped read), the status and error
 * mapping, the module's redactor (for credentials a transport holds beyond the channel's,
 * which the context's `redact` already covers) and `{{var}}` templates.
 */
export { composeRedactors, createRedactor, type Redactor } from '../../../domain/redaction.js'
export type {
  DeliveryChannel,
  DeliveryContext,
  DeliveryOutcome,
  Transport,
} from '../../../ports/transport.js'
export {
  DestinationRefusedError,
  describe as describeProviderText,
  outcomeForError,
  outcomeForStatus,
  parseRetryAfter,
} from '../shared/outcome.js'
export {
  createOutboundHttp,
  type OutboundHttp,
  type OutboundHttpOptions,
  type OutboundRequest,
  type OutboundResponse,
} from '../shared/safe-http.js'
export {
  createSsrfGuard,
  HostResolutionError,
  type HostResolver,
  type ResolvedAddress,
  refusedRange,
  type SsrfGuard,
  type SsrfPolicy,
  SsrfRefusedError,
  systemResolver,
} from '../shared/ssrf-guard.js'
export { escapeHtml, renderTemplate, TemplateError } from '../shared/template.js'
