import { DEFAULT_STREAM, DEFAULT_SUBJECT_PREFIX } from './relay-stream.js'

/** A NATS user's `permissions` block (server configuration; JSON is valid NATS configuration). */
export interface NatsPermissions {
  readonly publish: { readonly allow: readonly string[] }
  readonly subscribe: { readonly allow: readonly string[] }
}

interface Common {
  /** Default `MESSAGING`. */
  readonly stream?: string
  /** Default `messaging`. */
  readonly subjectPrefix?: string
  /**
   * The user's own reply subjects (`connect({ inboxPrefix })`). A user who may subscribe to the
   * shared `_INBOX.>` could read every other user's replies, pulled messages included.
   */
  readonly inboxPrefix: string
}

/**
 * The relay's user: publishes on the relay's subjects and reads the stream's settings, no more.
 *
 * @example
 * relayPermissions({ inboxPrefix: '_INBOX_relay' })
 */
export function relayPermissions(options: Common): NatsPermissions {
  const stream = options.stream ?? DEFAULT_STREAM
  const prefix = options.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX
  return {
    publish: { allow: [`${prefix}.>`, '$JS.API.INFO', `$JS.API.STREAM.INFO.${stream}`] },
    subscribe: { allow: [`${options.inboxPrefix}.>`] },
  }
}

/**
 * A consumer's user: may create, read and pull one durable consumer of the stream and ack its
 * messages. With `infrastructureId` the consumer can only be created filtered to that tenant's
 * subjects (the server checks the filter named in the create subject against the config,
 * NATS 2.9+), so the user reads that tenant's messages and nobody else's; it cannot subscribe
 * to the subjects directly, read the stream, or touch another consumer.
 *
 * @example
 * consumerPermissions({ durable: `tenant-${infrastructureId}`, infrastructureId, inboxPrefix: `_INBOX_${infrastructureId}` })
 */
export function consumerPermissions(
  options: Common & { readonly durable: string; readonly infrastructureId?: string },
): NatsPermissions {
  const stream = options.stream ?? DEFAULT_STREAM
  const prefix = options.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX
  const filter = options.infrastructureId ? `${prefix}.${options.infrastructureId}.>` : `${prefix}.>`
  const d = options.durable
  return {
    publish: {
      allow: [
        '$JS.API.INFO',
        `$JS.API.CONSUMER.CREATE.${stream}.${d}.${filter}`,
        `$JS.API.CONSUMER.INFO.${stream}.${d}`,
        `$JS.API.CONSUMER.MSG.NEXT.${stream}.${d}`,
        `$JS.ACK.${stream}.${d}.>`,
      ],
    },
    subscribe: { allow: [`${options.inboxPrefix}.>`] },
  }
}
