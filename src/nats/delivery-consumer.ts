import type { ConsumerConfig, ConsumerInfo, JetStreamManager } from 'nats'

export interface DeliveryConsumerOptions {
  readonly stream: string
  /** The durable consumer's name: every worker of one name shares its messages. */
  readonly durable: string
  /** `<prefix>.>`, or `<prefix>.<infrastructureId>.>` for one tenant's consumer. */
  readonly filterSubject: string
  /** Past this without an ack (or a progress note) the broker hands the message to another worker. */
  readonly ackWaitMs: number
  /** Messages handed out and not yet acknowledged, across every worker of the consumer. */
  readonly maxAckPending: number
}

const ns = (ms: number) => ms * 1_000_000

/**
 * Creates the durable pull consumer the broker's delivery workers share, or takes the one that
 * is there. Explicit acks; no `max_deliver`: the module decides when a message is dead (its
 * channel's max attempts), the broker only redelivers. Created through the consumer-create
 * subject that names the filter, so a tenant's user limited by `consumerPermissions` may
 * create its own.
 */
export async function ensureDeliveryConsumer(
  jsm: JetStreamManager,
  options: DeliveryConsumerOptions,
): Promise<ConsumerInfo> {
  const config: Partial<ConsumerConfig> = {
    durable_name: options.durable,
    // String values of nats.js's AckPolicy / DeliverPolicy: this entry imports only types.
    ack_policy: 'explicit' as ConsumerConfig['ack_policy'],
    deliver_policy: 'all' as ConsumerConfig['deliver_policy'],
    filter_subject: options.filterSubject,
    ack_wait: ns(options.ackWaitMs),
    max_ack_pending: options.maxAckPending,
    max_deliver: -1,
  }
  try {
    return await jsm.consumers.add(options.stream, config)
  } catch (e) {
    // It exists with other settings (another release of the workers made it): use it as it is.
    const existing = await jsm.consumers.info(options.stream, options.durable).catch(() => null)
    if (existing && existing.config.filter_subject === options.filterSubject) return existing
    throw e
  }
}
