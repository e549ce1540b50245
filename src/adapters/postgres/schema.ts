import type { AuditEntry } from '../../domain/audit.js'
import type { Channel } from '../../domain/channel.js'
import type { DeliveryAttempt } from '../../domain/delivery.js'
import type { InboxEntry } from '../../domain/inbox.js'
import type { Membership, MembershipView } from '../../domain/membership.js'
import {
  type DeliveryStatus,
  type JsonValue,
  type OutboxMessage,
  priorityOfRank,
} from '../../domain/outbox-message.js'
import type { Role } from '../../domain/tenant-scope.js'
import type { RecipientTables } from './recipient-schema.js'

/** Rows as `pg` returns them (uuid as string, timestamptz as Date, jsonb parsed). */
export interface ChannelRow {
  infrastructure_id: string
  id: string
  channel_key: string
  type: string
  name: string
  config: Record<string, unknown>
  enabled: boolean
  max_attempts: number | null
  created_by: string
  created_at: Date
  updated_at: Date
}

export interface MemberRow {
  infrastructure_id: string
  channel_id: string
  user_id: string
  business_id: string | null
  opted_in: boolean
  added_by: string
  created_at: Date
  updated_at: Date
}

export interface MembershipViewRow extends MemberRow {
  channel_key: string
  channel_type: string
  channel_name: string
  channel_enabled: boolean
}

export interface OutboxRow {
  infrastructure_id: string
  id: string
  business_id: string | null
  channel_id: string
  payload: JsonValue
  recipients: string[] | null
  idempotency_key: string | null
  max_attempts: number
  created_by: string
  created_at: Date
  status: DeliveryStatus
  attempts: number
  available_at: Date
  lease_token: string | null
  leased_until: Date | null
  last_error: string | null
  settled_at: Date | null
  notification_id: string | null
  recipient_user_id: string | null
  category_key: string | null
  template_id: string | null
  /** 0 high, 1 normal, 2 low (`priorityRank`). */
  priority: number
  traceparent: string | null
  tracestate: string | null
}

export interface AuditRow {
  infrastructure_id: string
  actor_id: string
  id: string
  business_id: string | null
  actor_role: Role
  action: string
  target_type: AuditEntry['targetType']
  target_id: string | null
  outcome: AuditEntry['outcome']
  error_code: string | null
  details: { [key: string]: JsonValue } | null
  at: Date
}

export interface AttemptRow {
  infrastructure_id: string
  message_id: string
  id: string
  business_id: string | null
  attempt: number
  worker_id: string
  worker_host: string | null
  started_at: Date
  finished_at: Date
  duration_ms: number
  outcome: DeliveryAttempt['outcome']
  error_code: string | null
  error: string | null
  provider_message_id: string | null
}

export interface InboxRow {
  infrastructure_id: string
  id: string
  business_id: string | null
  user_id: string
  channel_id: string
  message_id: string
  payload: JsonValue
  created_at: Date
  seen_at: Date | null
  read_at: Date | null
  archived_at: Date | null
}

/** The module's tables and view, for kysely. */
export interface MessagingDatabase extends RecipientTables {
  messaging_channels: ChannelRow
  messaging_channel_members: MemberRow
  messaging_outbox: OutboxRow
  messaging_audit_log: AuditRow
  messaging_channel_memberships: MembershipViewRow
  messaging_delivery_attempts: AttemptRow
  messaging_inbox: InboxRow
}

export const toChannel = (r: ChannelRow): Channel => ({
  id: r.id,
  infrastructureId: r.infrastructure_id,
  channelKey: r.channel_key,
  type: r.type,
  name: r.name,
  config: r.config,
  enabled: r.enabled,
  maxAttempts: r.max_attempts,
  createdBy: r.created_by,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
})

export const toMembership = (r: MemberRow): Membership => ({
  infrastructureId: r.infrastructure_id,
  channelId: r.channel_id,
  userId: r.user_id,
  businessId: r.business_id,
  optedIn: r.opted_in,
  addedBy: r.added_by,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
})

export const toMembershipView = (r: MembershipViewRow): MembershipView => ({
  ...toMembership(r),
  channelKey: r.channel_key,
  channelType: r.channel_type,
  channelName: r.channel_name,
  channelEnabled: r.channel_enabled,
})

export const toMessage = (r: OutboxRow): OutboxMessage => ({
  id: r.id,
  infrastructureId: r.infrastructure_id,
  businessId: r.business_id,
  channelId: r.channel_id,
  payload: r.payload,
  recipients: r.recipients,
  idempotencyKey: r.idempotency_key,
  maxAttempts: r.max_attempts,
  createdBy: r.created_by,
  createdAt: r.created_at,
  status: r.status,
  attempts: r.attempts,
  availableAt: r.available_at,
  leaseToken: r.lease_token,
  leasedUntil: r.leased_until,
  lastError: r.last_error,
  settledAt: r.settled_at,
  priority: priorityOfRank(r.priority),
  notification:
    r.notification_id === null
      ? null
      : {
          id: r.notification_id,
          userId: r.recipient_user_id!,
          categoryKey: r.category_key!,
          templateId: r.template_id,
        },
  traceContext: r.traceparent === null ? null : { traceparent: r.traceparent, tracestate: r.tracestate },
})

export const toAuditEntry = (r: AuditRow): AuditEntry => ({
  id: r.id,
  infrastructureId: r.infrastructure_id,
  businessId: r.business_id,
  actorId: r.actor_id,
  actorRole: r.actor_role,
  action: r.action,
  targetType: r.target_type,
  targetId: r.target_id,
  outcome: r.outcome,
  errorCode: r.error_code,
  details: r.details,
  at: r.at,
})

export const toAttempt = (r: AttemptRow): DeliveryAttempt => ({
  id: r.id,
  infrastructureId: r.infrastructure_id,
  messageId: r.message_id,
  attempt: r.attempt,
  workerId: r.worker_id,
  workerHost: r.worker_host,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  durationMs: r.duration_ms,
  outcome: r.outcome,
  errorCode: r.error_code,
  error: r.error,
  providerMessageId: r.provider_message_id,
})

export const toInboxEntry = (r: InboxRow): InboxEntry => ({
  id: r.id,
  infrastructureId: r.infrastructure_id,
  businessId: r.business_id,
  userId: r.user_id,
  channelId: r.channel_id,
  messageId: r.message_id,
  payload: r.payload,
  createdAt: r.created_at,
  seenAt: r.seen_at,
  readAt: r.read_at,
  archivedAt: r.archived_at,
})

/** A jsonb parameter. `pg` would turn a JS array into a PostgreSQL array, so JSON is always sent as text. */
export const json = (value: unknown): string => JSON.stringify(value)
