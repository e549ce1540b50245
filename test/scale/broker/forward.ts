import type { DeliveryOutcome, Transport } from '../../../src/index.js'
import { testChannelType } from '../../support/transports.js'

/**
 * A transport of the tests' `test` channel type that hands each message to a real HTTP
 * receiver on loopback (`<url>/in?id=<message id>&from=<worker>`): delivered on a 2xx.
 */
export function forwardingTransport(url: string, from: string): Transport {
  return {
    channelType: testChannelType,
    async send(message, _channel, context): Promise<DeliveryOutcome> {
      const res = await fetch(`${url}/in?id=${message.id}&from=${from}&attempt=${context.attempt}`, {
        method: 'POST',
        signal: context.signal,
      })
      await res.arrayBuffer()
      return res.ok
        ? { status: 'delivered', providerMessageId: `${from}:${message.id}` }
        : { status: 'retryable', code: `http_${res.status}`, error: 'receiver refused it' }
    },
  }
}
