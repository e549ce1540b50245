import type { InboxStreamEvent } from '../application/inbox-stream.js'
import type { DeliveryEvent } from '../domain/events.js'
import type { FollowInboxInput } from '../domain/inputs.js'
import type { Principal } from '../domain/tenant-scope.js'
import type { Messaging } from '../messaging.js'

export const EVENT_STREAM_CONTENT_TYPE = 'text/event-stream; charset=utf-8'

/**
 * A comment line this often keeps the connection open through proxies and load balancers
 * that close one idle for 30 s or more (nginx's proxy_read_timeout defaults to 60 s, AWS's
 * ALB idle timeout to 60 s, some corporate proxies to 30 s): half the shortest.
 */
export const DEFAULT_HEARTBEAT_MS = 15_000

/** What the client waits before it reconnects (the EventSource `retry` field). */
const RETRY_MS = 2_000

/**
 * Bytes a stream may hold for a client that reads slower than its inbox fills (or a resume
 * from long ago: up to 16 entries of the 64 KiB payload cap). Past it the stream ends; the
 * client reconnects with its Last-Event-ID and goes on from there, so the server never
 * holds more than this per stream.
 */
export const MAX_BUFFERED_BYTES = 1024 * 1024

const encoder = new TextEncoder()

/** One event in the text/event-stream format; JSON has no raw newline, so `data` is one line. */
export function sseFrame(event: InboxStreamEvent): string {
  if (event.type === 'entry') return `id: ${event.id}\nevent: entry\ndata: ${JSON.stringify(event.entry)}\n\n`
  return `event: unread\ndata: ${JSON.stringify({ unread: event.unread })}\n\n`
}

/** One delivery event: named by its type, its id its cursor (what `Last-Event-ID` resumes from). */
export function eventFrame(event: DeliveryEvent): string {
  return `id: ${event.cursor}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`
}

/** Options of a text/event-stream body. */
export interface EventStreamOptions {
  readonly heartbeatMs: number
  readonly signal?: AbortSignal
  /** Sees the store error that ended the stream (the client only sees it end). */
  readonly onFailure?: (error: unknown) => void
  /** Default MAX_BUFFERED_BYTES. */
  readonly maxBufferedBytes?: number
}

/** What a stream body follows: `open` starts it and returns the function that stops it. */
export type StreamFollow<E> = (sink: {
  event(e: E): void
  failed(error: unknown): void
}) => Promise<() => void>

/**
 * The caller's live inbox as a text/event-stream body. Opens the follower before it
 * answers, so a refused or invalid request is a problem response, not a broken stream.
 * The body ends when the client goes away (the mount cancels it, or the request's signal
 * aborts): the follower stops and the heartbeat timer is cleared; a store error ends it
 * too, and the client reconnects with its `Last-Event-ID`.
 */
export function inboxEventStream(
  messaging: Messaging,
  principal: Principal,
  input: FollowInboxInput,
  options: EventStreamOptions,
): Promise<ReadableStream<Uint8Array>> {
  return sseBody((sink) => messaging.followInbox(principal, input, sink), sseFrame, 'inbox stream', options)
}

/** Any follower as a text/event-stream body: the work of `inboxEventStream`, for every live route. */
export async function sseBody<E>(
  follow: StreamFollow<E>,
  frame: (event: E) => string,
  name: string,
  options: EventStreamOptions,
): Promise<ReadableStream<Uint8Array>> {
  let controller!: ReadableStreamDefaultController<Uint8Array>
  let stop: (() => void) | null = null
  let heartbeat: ReturnType<typeof setInterval> | undefined
  let ended = false
  const maxBuffered = options.maxBufferedBytes ?? MAX_BUFFERED_BYTES
  const end = () => {
    if (ended) return
    ended = true
    clearInterval(heartbeat)
    options.signal?.removeEventListener('abort', onAbort)
    stop?.()
    stop = null
  }
  const write = (text: string) => {
    if (ended) return
    try {
      controller.enqueue(encoder.encode(text))
    } catch {
      end()
      return
    }
    // A client this far behind catches up by reconnecting, not in the server's memory.
    if ((controller.desiredSize ?? 0) < -maxBuffered) onAbort()
  }
  const onAbort = () => {
    end()
    try {
      controller.close()
    } catch {
      // Already closed or cancelled.
    }
  }
  const body = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c
      },
      cancel() {
        end()
      },
    },
    { highWaterMark: 0, size: (chunk) => chunk.byteLength },
  )
  write(`retry: ${RETRY_MS}\n: ${name}\n\n`)
  try {
    stop = await follow({
      event: (e) => write(frame(e)),
      failed: (error) => {
        onAbort()
        options.onFailure?.(error)
      },
    })
  } catch (e) {
    end()
    throw e
  }
  // The client may have gone while the follower opened.
  if (ended) stop()
  else {
    heartbeat = setInterval(() => write(': keep-alive\n\n'), options.heartbeatMs)
    options.signal?.addEventListener('abort', onAbort, { once: true })
    if (options.signal?.aborted) onAbort()
  }
  return body
}
