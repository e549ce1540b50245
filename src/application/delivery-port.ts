import type { BreakerPolicy, BreakerResult } from '../domain/breaker.js'
import type { RateLimit } from '../domain/channel.js'
import type { ClaimedMessage } from '../domain/outbox-message.js'
import type { TenantScope } from '../domain/tenant-scope.js'
import type { BreakerKey } from '../ports/breaker-repository.js'
import type { RateBucketKey } from '../ports/rate-bucket-repository.js'
import type { WakeSignal } from '../ports/wake-signal.js'
import type { BreakerChange, BreakerGate } from './breaker-service.js'
import type { ChannelLookup } from './channel-opener.js'
import type { RenderStep } from './delivery-render.js'
import type { ClaimRequest, DeliveryService, LeaseRef, RetainItem } from './delivery-service.js'
import type { SettleItem, SettleResult } from './settle.js'
import type { TemplateService } from './template-service.js'

export type { RenderStep } from './delivery-render.js'

/**
 * What a delivery worker may do, and nothing else, bound to one scope (a service
 * principal's, or the fleet's). The facade hands it out (`messaging.deliveryPort(...)`);
 * every call goes through the same claim and settle paths as the facade's own.
 *
 * @example
 * const port = messaging.deliveryPort({ fleet: true, workerId })
 * const held = await port.claim({ limit: 10, leaseMs: 30_000 })
 */
export interface DeliveryPort {
  /** The scope every call runs in. */
  readonly scope: TenantScope
  /** Leases due messages, fairly across the tenants the scope reaches (or of one of them). */
  claim(request: ClaimRequest): Promise<ClaimedMessage[]>
  /** Extends a held lease by `leaseMs`; false once the lease was lost. */
  renew(held: LeaseRef, leaseMs: number): Promise<boolean>
  /** Hands a held message back uncounted, due after `delayMs`; false once the lease was lost. */
  release(held: LeaseRef, delayMs: number): Promise<boolean>
  /** Settles held messages, each fenced by its lease, recording and auditing each attempt. */
  settle(items: readonly SettleItem[]): Promise<SettleResult[]>
  /**
   * Records failed attempts of held messages that stay held, their leases extended: for a
   * broker's workers, which retry a message themselves (false: the lease was lost).
   */
  retain(items: readonly RetainItem[]): Promise<boolean[]>
  /** A held message's channel, opened for delivery (plaintext secrets: for transports only). */
  openChannel(infrastructureId: string, channelId: string): Promise<ChannelLookup>
  /** Takes a token of the channel's rate bucket, shared by every worker: 0 = go, else ms until one is due. */
  takeToken(channel: RateBucketKey, limit: RateLimit): Promise<number>
  /** A provider's Retry-After: no worker takes the channel's next token before `afterMs` from the store's now. */
  deferChannel(channel: RateBucketKey, afterMs: number): Promise<void>
  /** Whether a delivery on the channel may go now, by its circuit breaker shared by every worker. */
  admitBreaker(channel: BreakerKey, policy: BreakerPolicy): Promise<BreakerGate>
  /** Counts an attempt's result on the channel's breaker; the transition it caused (audited), if any. */
  recordBreaker(
    channel: BreakerKey,
    policy: BreakerPolicy,
    result: BreakerResult,
  ): Promise<BreakerChange | null>
  /**
   * The payload a held message goes out with over a channel of `channelType`: a message of a
   * notification rendered with the template version it recorded (see `renderHeld`), any other
   * as written; a render failure is the template's error, which fails the message for good.
   */
  render(held: ClaimedMessage, channelType: string): Promise<RenderStep>
  /** Called when messages may have become due (an enqueue committed); returns the unsubscribe. */
  onWake(listener: () => void): () => void
}

/** A DeliveryPort over the delivery service, bound to `scope`. Plain closures: a test may wrap any of them. */
export function createDeliveryPort(
  service: DeliveryService,
  scope: TenantScope,
  wake: WakeSignal,
  templates: TemplateService,
): DeliveryPort {
  return {
    scope,
    claim: (request) => service.claim(scope, request),
    renew: (held, leaseMs) => service.renew(scope, held, leaseMs),
    release: (held, delayMs) => service.release(scope, held, delayMs),
    settle: (items) => service.settle(scope, items),
    retain: (items) => service.retain(scope, items),
    openChannel: (infrastructureId, channelId) => service.openChannel(scope, infrastructureId, channelId),
    takeToken: (channel, limit) => service.takeToken(scope, channel, limit),
    deferChannel: (channel, afterMs) => service.deferChannel(scope, channel, afterMs),
    admitBreaker: (channel, policy) => service.admitBreaker(scope, channel, policy),
    recordBreaker: (channel, policy, result) => service.recordBreaker(scope, channel, policy, result),
    render: (held, channelType) => service.render(scope, templates, held, channelType),
    onWake: (listener) => wake.subscribe(() => listener()),
  }
}
