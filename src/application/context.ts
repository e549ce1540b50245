import type { AuditEntry } from '../domain/audit.js'
import type { ChannelTypeRegistry } from '../domain/channel.js'
import type { CompiledDestinationPolicy } from '../domain/destinations.js'
import { isMessagingError } from '../domain/errors.js'
import type { JsonValue } from '../domain/outbox-message.js'
import type { TenantScope } from '../domain/tenant-scope.js'
import type { ChannelSecrets } from '../ports/channel-secrets.js'
import type { Clock } from '../ports/clock.js'
import type { EventFeed } from '../ports/event-feed.js'
import type { IdGenerator } from '../ports/id-generator.js'
import type { InboxFeed } from '../ports/inbox-feed.js'
import type { UnitOfWork } from '../ports/unit-of-work.js'
import type { WakeSignal } from '../ports/wake-signal.js'

export interface MessagingLimits {
  /** UTF-8 bytes of a payload's JSON. Default 64 KiB. */
  readonly maxPayloadBytes: number
  /** Delivery attempts before a retried message is dead, where its channel sets none. Default 5. */
  readonly defaultMaxAttempts: number
}

export const DEFAULT_LIMITS: MessagingLimits = { maxPayloadBytes: 64 * 1024, defaultMaxAttempts: 5 }

/** What every domain service shares: the ports and the settings. */
export interface ServiceContext {
  readonly uow: UnitOfWork
  readonly clock: Clock
  readonly ids: IdGenerator
  readonly channelTypes: ChannelTypeRegistry
  readonly limits: MessagingLimits
  /** Told after each enqueue commits, so idle workers wake at once. */
  readonly wake?: WakeSignal
  /** Told after inbox entries are written or marked: what live inbox streams follow. */
  readonly inboxFeed: InboxFeed
  /** Told after delivery events commit: what live event streams follow. */
  readonly eventFeed: EventFeed
  /** Seals channel credentials at rest. */
  readonly secrets: ChannelSecrets
  /** True for stores that persist: they refuse credentials when no key seals them. */
  readonly requireSealedSecrets: boolean
  /** Where channels may send: checked when a channel is saved (and by the SSRF guard at delivery). */
  readonly destinations: CompiledDestinationPolicy
  /** Channel types a recipient's quiet hours do not hold (default: `in_app`). */
  readonly quietHoursPassThrough?: ReadonlySet<string>
}

interface AuditTarget {
  readonly infrastructureId: string
  readonly businessId?: string | null
  readonly action: string
  readonly targetType: AuditEntry['targetType']
  readonly targetId?: string | null
  readonly details?: { [key: string]: JsonValue } | null
}

export function auditEntry(
  ctx: ServiceContext,
  scope: TenantScope,
  target: AuditTarget,
  errorCode?: string,
): AuditEntry {
  return {
    id: ctx.ids.next(),
    infrastructureId: target.infrastructureId,
    businessId: target.businessId ?? null,
    actorId: scope.userId,
    actorRole: scope.role,
    action: target.action,
    targetType: target.targetType,
    targetId: target.targetId ?? null,
    outcome: errorCode ? 'refused' : 'ok',
    errorCode: errorCode ?? null,
    details: target.details ?? null,
    at: ctx.clock.now(),
  }
}

/** Refusals of scope and role are recorded too; bad input is not (it writes nothing at all). */
const AUDITED_REFUSALS = new Set(['TENANT_SCOPE_VIOLATION', 'FORBIDDEN_ROLE'])

/**
 * Records a refusal where the caller may write: a `refused` entry in the audit trail of an
 * infrastructure the caller reaches (its own tenant: a member refused an admin's call, a
 * business grant used on another business); else a count in the module-level security log,
 * one row per caller, action and code an hour. Never a row in a tenant the caller has no
 * grant on: an outsider's flood of refused calls leaves every table of that tenant as it was.
 */
export function recordRefusal(
  ctx: ServiceContext,
  scope: TenantScope,
  target: AuditTarget,
  errorCode: string,
): Promise<void> {
  if (scope.canAccessInfrastructure(target.infrastructureId)) {
    return ctx.uow.run(scope, (r) => r.audit.append(scope, auditEntry(ctx, scope, target, errorCode)))
  }
  return ctx.uow.run(scope, (r) =>
    r.security.recordRefusal(scope, {
      action: target.action,
      errorCode,
      infrastructureId: target.infrastructureId,
      businessId: target.businessId ?? null,
      at: ctx.clock.now(),
    }),
  )
}

/**
 * Runs a mutating call; when it is refused for scope or role, records the refusal in a unit
 * of work of its own (the refused one rolled back; see `recordRefusal`) and rethrows.
 */
export async function audited<T>(
  ctx: ServiceContext,
  scope: TenantScope,
  target: AuditTarget,
  call: () => Promise<T>,
): Promise<T> {
  try {
    return await call()
  } catch (e) {
    if (isMessagingError(e) && AUDITED_REFUSALS.has(e.code)) await recordRefusal(ctx, scope, target, e.code)
    throw e
  }
}
