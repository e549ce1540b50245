import { createHmac } from 'node:crypto'

const PREFIX = 'whsec_'

/** The raw HMAC key of a `whsec_<base64>` secret (a secret without the prefix is taken as base64 too, as the reference libraries do). */
export function webhookKey(secret: string): Buffer {
  const b64 = secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret
  return Buffer.from(b64, 'base64')
}

/**
 * The Standard Webhooks `webhook-signature` value: `v1,<base64 HMAC-SHA256>` over
 * `${id}.${timestamp}.${body}` for each secret, space-separated, so a receiver that knows
 * either the old or the new secret verifies while keys rotate.
 *
 * @example
 * signWebhook(['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'], 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')
 * // 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='
 */
export function signWebhook(
  secrets: readonly string[],
  id: string,
  timestampSeconds: number,
  body: string | Uint8Array,
): string {
  const prefix = Buffer.from(`${id}.${timestampSeconds}.`)
  const bytes = typeof body === 'string' ? Buffer.from(body) : body
  return secrets
    .map((s) => `v1,${createHmac('sha256', webhookKey(s)).update(prefix).update(bytes).digest('base64')}`)
    .join(' ')
}
