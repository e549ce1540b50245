import type { JsonValue } from './outbox-message.js'
import type { Role } from './tenant-scope.js'

export type AuditOutcome = 'ok' | 'refused'

/** What an audit entry is about. The stores check only the shape (`^[a-z][a-z_]*$`), so a new kind needs no migration. */
export const AUDIT_TARGET_TYPES = [
  'channel',
  'membership',
  'message',
  'profile',
  'category',
  'preference',
  'notification',
  'template',
  'event_endpoint',
] as const
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
