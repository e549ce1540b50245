import { z } from 'zod'
import type { ChannelTypeDefinition, Transport } from '../../src/index.js'

/** A channel type for the crash test: POST to a loopback receiver, no credentials. */
export const crashChannelType: ChannelTypeDefinition = {
  type: 'crash_http',
  configSchema: z.strictObject({ url: z.url() }),
  secretPaths: [],
}

/**
 * A plain HTTP transport that names the worker in a header, so the receiver can tell which
 * worker sent each delivery. 2xx is delivered, anything else retryable.
 */
export function crashTransport(workerId: string): Transport {
  return {
    channelType: crashChannelType,
    async send(message, channel, context) {
      const res = await fetch((channel.config as { url: string }).url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-worker': workerId, 'x-message': message.id },
        body: JSON.stringify(message.payload),
        signal: context.signal,
      })
      await res.arrayBuffer()
      return res.ok
        ? { status: 'delivered' }
        : { status: 'retryable', code: `http_${res.status}`, error: `receiver said ${res.status}` }
    },
  }
}
