import type { AuditEntry } from '../../../domain/audit.js'
import type { DeliveryAttempt, QueueCounts } from '../../../domain/delivery.js'
import type { InboxEntry } from '../../../domain/inbox.js'
import {
  type DeliveryStatus,
  type JsonValue,
  type OutboxMessage,
  priorityOfRank,
  priorityRank,
} from '../../../domain/outbox-message.js'
import type { Role } from '../../../domain/tenant-scope.js'
import { type ColumnKinds, type Columns, type Json, type Mode, timeOrNull, toTimeOrNull } from './columns.js'

/** messaging_outbox (sql/0001 and later, SQLite v1 and later). A new column is added here once. */
export interface OutboxRow<K extends ColumnKinds, M extends Mode = 'read'> {
  infrastructure_id: string
  id: string
  business_id: string | null
  channel_id: string
  payload: Json<K, JsonValue, M>
  recipients: Json<K, string[], M> | null
  idempotency_key: string | null
  max_attempts: number
  created_by: string
  created_at: K['time']
  status: DeliveryStatus
  attempts: number
  available_at: K['time']
  lease_token: string | null
  leased_until: K['time'] | null
  last_error: string | null
  settled_at: K['time'] | null
  notification_id: string | null
  recipient_user_id: string | null
  category_key: string | null
  template_id: string | null
  /** The W3C trace context of the enqueue (sql/0060, SQLite v11); null when none was recording. */
  traceparent: string | null
  tracestate: string | null
  /** 0 high, 1 normal, 2 low (`priorityRank`; sql/0070, SQLite v12). */
  priority: number
  /**
   * The ordering key and the message's place in its key's order (sql/0053, SQLite v14):
   * both null, or both set. The place is the store's, never the caller's.
   */
  ordering_key: string | null
  ordering_seq: number | string | null
}

/** messaging_audit_log. */
export interface AuditRow<K extends ColumnKinds, M extends Mode = 'read'> {
  infrastructure_id: string
  id: string
  business_id: string | null
  actor_id: string
  actor_role: Role
  action: string
  target_type: AuditEntry['targetType']
  target_id: string | null
  outcome: AuditEntry['outcome']
  error_code: string | null
  details: Json<K, { [key: string]: JsonValue }, M> | null
  at: K['time']
}

/** messaging_delivery_attempts. */
export interface AttemptRow<K extends ColumnKinds> {
  infrastructure_id: string
  message_id: string
  id: string
  business_id: string | null
  attempt: number
  worker_id: string
  worker_host: string | null
  started_at: K['time']
  finished_at: K['time']
  duration_ms: number
  outcome: DeliveryAttempt['outcome']
  error_code: string | null
  error: string | null
  provider_message_id: string | null
  provider: string | null
}

/** messaging_inbox. */
export interface InboxRow<K extends ColumnKinds, M extends Mode = 'read'> {
  infrastructure_id: string
  id: string
  business_id: string | null
  user_id: string
  channel_id: string
  message_id: string
  payload: Json<K, JsonValue, M>
  created_at: K['time']
  seen_at: K['time'] | null
  read_at: K['time'] | null
  archived_at: K['time'] | null
}

/** A row of the per-channel counts (`OutboxRepository.stats`), as both stores' queries name them. */
export interface StatsRow {
  infrastructure_id: string
  channel_id: string
  pending: number
  in_flight: number
  processed: number
  failed: number
  dead: number
  cancelled: number
  confirmed: number
  bounced: number
  oldest_pending_age_ms: number | null
}

export const toChannelStats = (r: StatsRow): QueueCounts => ({
  infrastructureId: r.infrastructure_id,
  channelId: r.channel_id,
  pending: Number(r.pending),
  inFlight: Number(r.in_flight),
  processed: Number(r.processed),
  failed: Number(r.failed),
  dead: Number(r.dead),
  cancelled: Number(r.cancelled),
  confirmed: Number(r.confirmed),
  bounced: Number(r.bounced),
  oldestPendingAgeMs: r.oldest_pending_age_ms === null ? null : Number(r.oldest_pending_age_ms),
})

/** Outbox, audit, attempt and inbox rows <-> entities, over a store's column kinds. */
export const outboxRows = <K extends ColumnKinds>(c: Columns<K>) => ({
  outboxRow: (m: OutboxMessage): OutboxRow<K, 'write'> => ({
    infrastructure_id: m.infrastructureId,
    id: m.id,
    business_id: m.businessId,
    channel_id: m.channelId,
    payload: c.toJson(m.payload),
    recipients: m.recipients === null ? null : c.toJson(m.recipients),
    idempotency_key: m.idempotencyKey,
    max_attempts: m.maxAttempts,
    created_by: m.createdBy,
    created_at: c.toTime(m.createdAt),
    status: m.status,
    attempts: m.attempts,
    available_at: c.toTime(m.availableAt),
    lease_token: m.leaseToken,
    leased_until: toTimeOrNull(c, m.leasedUntil),
    last_error: m.lastError,
    settled_at: toTimeOrNull(c, m.settledAt),
    notification_id: m.notification?.id ?? null,
    recipient_user_id: m.notification?.userId ?? null,
    category_key: m.notification?.categoryKey ?? null,
    template_id: m.notification?.templateId ?? null,
    traceparent: m.traceContext?.traceparent ?? null,
    tracestate: m.traceContext?.tracestate ?? null,
    priority: priorityRank(m.priority),
    ordering_key: m.orderingKey,
    // Assigned by the store as it inserts (SQLite's insert, PostgreSQL's enqueue function).
    ordering_seq: null,
  }),
  toMessage: (r: OutboxRow<K>): OutboxMessage => ({
    id: r.id,
    infrastructureId: r.infrastructure_id,
    businessId: r.business_id,
    channelId: r.channel_id,
    payload: c.json(r.payload),
    recipients: r.recipients === null ? null : c.json(r.recipients),
    idempotencyKey: r.idempotency_key,
    maxAttempts: r.max_attempts,
    createdBy: r.created_by,
    createdAt: c.time(r.created_at),
    status: r.status,
    attempts: r.attempts,
    availableAt: c.time(r.available_at),
    leaseToken: r.lease_token,
    leasedUntil: timeOrNull(c, r.leased_until),
    lastError: r.last_error,
    settledAt: timeOrNull(c, r.settled_at),
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
    priority: priorityOfRank(r.priority),
    orderingKey: r.ordering_key ?? null,
  }),
  auditRow: (e: AuditEntry): AuditRow<K, 'write'> => ({
    infrastructure_id: e.infrastructureId,
    id: e.id,
    business_id: e.businessId,
    actor_id: e.actorId,
    actor_role: e.actorRole,
    action: e.action,
    target_type: e.targetType,
    target_id: e.targetId,
    outcome: e.outcome,
    error_code: e.errorCode,
    details: e.details === null ? null : c.toJson(e.details),
    at: c.toTime(e.at),
  }),
  toAuditEntry: (r: AuditRow<K>): AuditEntry => ({
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
    details: r.details === null ? null : c.json(r.details),
    at: c.time(r.at),
  }),
  toAttempt: (r: AttemptRow<K>): DeliveryAttempt => ({
    id: r.id,
    infrastructureId: r.infrastructure_id,
    messageId: r.message_id,
    attempt: r.attempt,
    workerId: r.worker_id,
    workerHost: r.worker_host,
    startedAt: c.time(r.started_at),
    finishedAt: c.time(r.finished_at),
    durationMs: r.duration_ms,
    outcome: r.outcome,
    errorCode: r.error_code,
    error: r.error,
    providerMessageId: r.provider_message_id,
    provider: r.provider ?? null,
  }),
  inboxRow: (e: InboxEntry): InboxRow<K, 'write'> => ({
    infrastructure_id: e.infrastructureId,
    id: e.id,
    business_id: e.businessId,
    user_id: e.userId,
    channel_id: e.channelId,
    message_id: e.messageId,
    payload: c.toJson(e.payload),
    created_at: c.toTime(e.createdAt),
    seen_at: toTimeOrNull(c, e.seenAt),
    read_at: toTimeOrNull(c, e.readAt),
    archived_at: toTimeOrNull(c, e.archivedAt),
  }),
  toInboxEntry: (r: InboxRow<K>): InboxEntry => ({
    id: r.id,
    infrastructureId: r.infrastructure_id,
    businessId: r.business_id,
    userId: r.user_id,
    channelId: r.channel_id,
    messageId: r.message_id,
    payload: c.json(r.payload),
    createdAt: c.time(r.created_at),
    seenAt: timeOrNull(c, r.seen_at),
    readAt: timeOrNull(c, r.read_at),
    archivedAt: timeOrNull(c, r.archived_at),
  }),
})
