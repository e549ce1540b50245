import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * Verifies a delivery as a Standard Webhooks receiver does (the specification's
 * "Verifying webhooks": HMAC-SHA256 of `id.timestamp.body` under the base64 key after
 * `whsec_`, any one `v1,` signature of the space-separated list matching, the timestamp
 * within the tolerance). Written apart from the transport's signer, so the demo checks the
 * signer against the specification rather than against itself; a test holds it to the
 * reference library.
 */
export function verifyStandardWebhook(
  secret: string,
  body: string,
  headers: Readonly<Record<string, string | undefined>>,
  nowSeconds = Math.floor(Date.now() / 1000),
  /** Five minutes, the specification's recommended tolerance against replays. */
  toleranceSeconds = 300,
): boolean {
  const id = headers['webhook-id']
  const timestamp = headers['webhook-timestamp']
  const signatures = headers['webhook-signature']
  if (!id || !timestamp || !signatures || !/^\d{1,12}$/.test(timestamp)) return false
  if (Math.abs(nowSeconds - Number(timestamp)) > toleranceSeconds) return false
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64')
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest()
  return signatures.split(' ').some((entry) => {
    const [version, value] = entry.split(',', 2)
    if (version !== 'v1' || !value) return false
    const given = Buffer.from(value, 'base64')
    return given.length === expected.length && timingSafeEqual(given, expected)
  })
}
