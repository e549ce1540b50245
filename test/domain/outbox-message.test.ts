import { describe, expect, it } from 'vitest'
import { settle } from '../../src/domain/outbox-message.js'
import {
  assertTransition,
  canTransition,
  DELIVERY_STATUSES,
  type DeliveryStatus,
  IllegalTransitionError,
  isCancellable,
  isClaimable,
} from '../../src/index.js'
import { at, message, T0, uuid } from '../support/fixtures.js'

const LEGAL: Array<[DeliveryStatus, DeliveryStatus]> = [
  ['pending', 'processing'],
  ['processing', 'processed'],
  ['processing', 'failed'],
  ['processing', 'pending'],
  ['processing', 'dead'],
  ['processing', 'processing'],
  ['failed', 'pending'],
  ['dead', 'pending'],
  // A cancel: of a pending message, or of one whose holder's lease lapsed.
  ['pending', 'cancelled'],
  ['processing', 'cancelled'],
  // A provider's receipt for a delivered message.
  ['processed', 'confirmed'],
  ['processed', 'bounced'],
]

describe('the delivery state machine', () => {
  it('allows exactly the listed transitions and throws a typed error for every other', () => {
    for (const from of DELIVERY_STATUSES) {
      for (const to of DELIVERY_STATUSES) {
        const legal = LEGAL.some(([f, t]) => f === from && t === to)
        expect(canTransition(from, to), `${from} -> ${to}`).toBe(legal)
        if (legal) expect(() => assertTransition(from, to)).not.toThrow()
        else expect(() => assertTransition(from, to)).toThrow(IllegalTransitionError)
      }
    }
  })

  it('cancels only what nobody holds: pending (due or scheduled), or held under a lapsed lease', () => {
    const now = at(10_000)
    const of = (over: Parameters<typeof message>[2]) => isCancellable(message(uuid(), uuid(), over), now)
    expect(of({ status: 'pending', availableAt: at(0) })).toBe(true)
    expect(of({ status: 'pending', availableAt: at(99_000) })).toBe(true)
    expect(of({ status: 'processing', leaseToken: uuid(), leasedUntil: at(9_999) })).toBe(true)
    expect(of({ status: 'processing', leaseToken: uuid(), leasedUntil: at(10_001) })).toBe(false)
    for (const status of ['processed', 'failed', 'dead', 'cancelled', 'confirmed', 'bounced'] as const)
      expect(of({ status })).toBe(false)
  })

  it('settles a held message: processed, failed for good, retried, or dead when out of attempts', () => {
    const held = message(uuid(), uuid(), {
      status: 'processing',
      attempts: 1,
      maxAttempts: 2,
      leaseToken: uuid(),
    })
    // Times are the store's to stamp: a settlement carries only the retry's delay.
    expect(settle(held, { outcome: 'processed' })).toEqual({ status: 'processed', lastError: null })
    expect(settle(held, { outcome: 'failed', reason: 'no' })).toEqual({ status: 'failed', lastError: 'no' })
    expect(settle(held, { outcome: 'failed', reason: 'busy', retryAfterMs: 100 })).toEqual({
      status: 'pending',
      lastError: 'busy',
      retryAfterMs: 100,
    })
    const last = { ...held, attempts: 2 }
    expect(settle(last, { outcome: 'failed', reason: 'busy', retryAfterMs: 100 })).toEqual({
      status: 'dead',
      lastError: 'busy',
    })
    expect(() => settle({ ...held, status: 'pending' }, { outcome: 'processed' })).toThrow(
      IllegalTransitionError,
    )
  })

  it('makes pending messages claimable when due and held ones when their lease lapsed', () => {
    const m = message(uuid(), uuid(), { availableAt: at(10) })
    expect(isClaimable(m, T0)).toBe(false)
    expect(isClaimable(m, at(10))).toBe(true)
    const held = { ...m, status: 'processing' as const, leasedUntil: at(50), leaseToken: uuid() }
    expect(isClaimable(held, at(49))).toBe(false)
    expect(isClaimable(held, at(50))).toBe(true)
    for (const status of ['processed', 'failed', 'dead'] as const)
      expect(isClaimable({ ...m, status }, at(1e9))).toBe(false)
  })
})
