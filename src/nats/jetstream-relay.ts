import type { JetStreamClient, PubAck } from 'nats'
import type { Channel, ChannelTypeDefinition } from '../domain/channel.js'
import type { OutboxMessage } from '../domain/outbox-message.js'
import type {
  DeliveryContext,
  DeliveryOutcome,
  HandOff,
  RelayTransport,
  Transport,
} from '../ports/transport.js'
import { encodeEnvelope, type RelaySettle, relaySubject, toEnvelope } from './relay-envelope.js'
import { DEFAULT_DUPLICATE_WINDOW_MS, DEFAULT_STREAM, DEFAULT_SUBJECT_PREFIX } from './relay-stream.js'

export interface JetStreamRelayOptions {
  /** `nc.jetstream()` of a connection whose user may publish on the relay's subjects. */
  readonly jetstream: JetStreamClient
  /** The stream the subjects must land in (each publish names it). Default `MESSAGING`. */
  readonly stream?: string
  /** Subjects are `<subjectPrefix>.<infrastructureId>.<channelKey>`. Default `messaging`. */
  readonly subjectPrefix?: string
  /**
   * `published` (default): the message settles as processed once the stream acknowledged it;
   * from then on the broker and its consumers own it. `delivered`: the module's broker
   * workers (`createJetStreamDeliveryWorker`) settle it after delivering it; until then the
   * outbox holds it (in flight) for `holdMs`.
   */
  readonly settle?: RelaySettle
  /**
   * With `settle: 'delivered'`, how long the outbox holds a relayed message for the broker's
   * workers; one they have not settled by then is relayed again. Long enough for the broker's
   * backlog plus every retry of the message. Default 1 h.
   */
  readonly holdMs?: number
  /** The stream's duplicate window (`ensureRelayStream`'s). Default 2 min. */
  readonly duplicateWindowMs?: number
  /** How long a publish waits for the stream's acknowledgement; past it the attempt is retried. Default 5 s. */
  readonly publishTimeoutMs?: number
}

/** What `createJetStreamRelay` gives: relaying transports for chosen channel types or channels. */
export interface JetStreamRelay {
  /**
   * A transport that relays every message of a channel type (the relaying host needs no
   * transport of its own for that type).
   */
  transport(type: ChannelTypeDefinition): RelayTransport
  /**
   * Wraps a transport: the messages of channels `when` chooses are relayed, the others
   * `local` delivers as usual.
   */
  transport(local: Transport, options: { when(channel: Channel): boolean }): RelayTransport
}

/** NATS client errors by the codes it gives them (nats.js `ErrorCode`). */
const TOO_LARGE = new Set(['MAX_PAYLOAD_EXCEEDED'])
// JetStream API error codes (`err_code`): 10054 message size exceeds maximum allowed.
const TOO_LARGE_API = new Set([10054])

function failure(e: unknown): DeliveryOutcome {
  const err = e as {
    code?: string
    message?: string
    api_error?: { err_code?: number; description?: string }
  }
  const text = err.api_error?.description ?? err.message ?? String(e)
  if ((err.code && TOO_LARGE.has(err.code)) || TOO_LARGE_API.has(err.api_error?.err_code ?? 0))
    return { status: 'permanent', code: 'message_too_large', error: `the broker refused it: ${text}` }
  // No stream answered (503), no answer in time, a connection between servers: the stream
  // may or may not have stored it; the next attempt publishes it again under the same
  // Nats-Msg-Id, and the stream keeps one copy within its duplicate window.
  const code =
    err.code === '503'
      ? 'jetstream_unavailable'
      : err.code === 'TIMEOUT'
        ? 'publish_timeout'
        : 'publish_failed'
  return { status: 'retryable', code, error: `publish failed: ${text}` }
}

/**
 * The transactional outbox's relay to NATS JetStream: a transport that publishes each claimed
 * message on `messaging.<infrastructureId>.<channelKey>` with `Nats-Msg-Id` set to the message
 * id and answers only once the stream has acknowledged it (PubAck). It runs inside the
 * delivery worker, so it claims fairly between tenants, leases, retries with backoff and
 * shuts down exactly as the worker does.
 *
 * @example
 * const nc = await connect({ servers: 'nats://127.0.0.1:4222' })
 * await ensureRelayStream(await nc.jetstreamManager(), { replicas: 3 })
 * const relay = createJetStreamRelay({ jetstream: nc.jetstream() })
 * const worker = createDeliveryWorker({ messaging, fleet: true, transports: [relay.transport(webhookType)] })
 */
export function createJetStreamRelay(options: JetStreamRelayOptions): JetStreamRelay {
  const js = options.jetstream
  const stream = options.stream ?? DEFAULT_STREAM
  const prefix = options.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX
  const settle = options.settle ?? 'published'
  const holdMs = options.holdMs ?? 3_600_000
  const duplicateWindowMs = options.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS
  const timeout = options.publishTimeoutMs ?? 5000

  async function publish(message: OutboxMessage, channel: Channel): Promise<DeliveryOutcome | HandOff> {
    const envelope = toEnvelope(message, channel, settle, new Date())
    let ack: PubAck
    try {
      ack = await js.publish(
        relaySubject(prefix, message.infrastructureId, channel.channelKey),
        encodeEnvelope(envelope),
        {
          msgID: message.id,
          expect: { streamName: stream },
          timeout,
        },
      )
    } catch (e) {
      return failure(e)
    }
    const reference = `${ack.stream}:${ack.seq}${ack.duplicate ? ' (duplicate)' : ''}`
    if (settle === 'published') return { status: 'delivered', providerMessageId: reference }
    // A duplicate: the stream had this id within its window. Either an earlier relay of this
    // claim round is still there (its workers settle it), or it was delivered already and the
    // message was sent round again: then it comes back once the window has passed.
    return { status: 'relayed', holdMs: ack.duplicate ? duplicateWindowMs : holdMs, reference }
  }

  function transport(typeOrLocal: ChannelTypeDefinition | Transport, opts?: { when(c: Channel): boolean }) {
    if ('send' in typeOrLocal) {
      const local = typeOrLocal
      const when = opts?.when ?? (() => true)
      return {
        channelType: local.channelType,
        send: (message: OutboxMessage, channel: Channel, context: DeliveryContext) =>
          when(channel) ? publish(message, channel) : local.send(message, channel, context),
      }
    }
    return {
      channelType: typeOrLocal,
      send: (message: OutboxMessage, channel: Channel) => publish(message, channel),
    }
  }
  return { transport } as JetStreamRelay
}
