import { createEmailTransport, type SmtpRelay } from '../adapters/transports/email/index.js'
import { createInAppTransport } from '../adapters/transports/in-app/index.js'
import { createSmsTransport } from '../adapters/transports/sms/index.js'
import { createWebhookTransport } from '../adapters/transports/webhook/index.js'
import type { Messaging } from '../messaging.js'
import type { Transport } from '../ports/transport.js'
import { CliError } from './context.js'

export interface BuiltinTransportOptions {
  /** Permit `http:` webhook and SMS provider URLs (never for production receivers). */
  readonly allowHttp?: boolean
  /** The host's SMTP relay for email channels that configure none. */
  readonly relay?: SmtpRelay
}

/**
 * The four built-in transports as the CLI runs them. The worker opens sealed channel
 * secrets before it calls a transport, so none needs a secret box of its own here. The SSRF
 * guard reads `messaging.destinations`: the allow-list channels were checked against on save.
 */
export function builtinTransports(messaging: Messaging, options: BuiltinTransportOptions = {}): Transport[] {
  const { allowedRanges = [], allowedPorts = [] } = messaging.destinations
  const network = {
    ...(options.allowHttp && { allowHttp: true }),
    ...((allowedRanges.length > 0 || allowedPorts.length > 0) && { ssrf: messaging.destinations }),
  }
  return [
    createInAppTransport({ messaging }),
    createWebhookTransport(network),
    createSmsTransport(network),
    createEmailTransport({
      ...(options.relay && { relay: options.relay }),
      ...(network.ssrf && { ssrf: network.ssrf }),
    }),
  ]
}

/**
 * The relay of `SMTP_URL` (`smtp://user:pass@host:587`, `smtps://...` for TLS from the
 * first byte; `?requireTls=true` refuses to send without STARTTLS).
 */
export function relayFromUrl(text: string | undefined): SmtpRelay | undefined {
  if (!text) return undefined
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new CliError('SMTP_URL is not a URL (smtp://user:pass@host:587)')
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:')
    throw new CliError('SMTP_URL must be smtp:// or smtps://')
  const secure = url.protocol === 'smtps:'
  return {
    host: url.hostname,
    port: url.port ? Number(url.port) : secure ? 465 : 587,
    secure,
    requireTls: url.searchParams.get('requireTls') === 'true',
    ...(url.username && {
      auth: { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) },
    }),
  }
}
