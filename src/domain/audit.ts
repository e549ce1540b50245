import type { JsonValue } from './outbox-message.js'
import type { Role } from './tenant-scope.js'

export type AuditOutcome = 'ok' | 'refused'

/** What an audited call acted on: the closed list (the tables keep only the shape of a name). */
export const AUDIT_TARGET_TYPES = ['channel', 'membership', 'message', 'template'] as const
export type AuditTargetType = (typeof AUDIT_TARGET_TYPES)[number]

/** One append-only record of a mutating call: who, which tenant, what, on what, and how it ended. */
export interface AuditEntry {
  readonly id: string
  readonly infrastructureId: string
  readonly businessId: string | null
  readonly actorId: string
  readonly actorRole: Role
  /** `channel.create`, `outbox.enqueue`, `outbox.ack`, ... */
  readonly action: string
  readonly targetType: AuditTargetType
  readonly targetId: string | null
  readonly outcome: AuditOutcome
  /** The error code of a refused call. */
  readonly errorCode: string | null
  readonly details: { readonly [key: string]: JsonValue } | null
  readonly at: Date
}
