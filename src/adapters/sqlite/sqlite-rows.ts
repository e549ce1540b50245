import type { Selectable } from 'kysely'
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
  priorityRank,
} from '../../domain/outbox-message.js'
import type { Role } from '../../domain/tenant-scope.js'
import type {
  AuditLogTable,
  ChannelMembershipsView,
  ChannelMembersTable,
  ChannelsTable,
  DeliveryAttemptsTable,
  InboxTable,
  OutboxTable,
} from './sqlite-tables.js'

/** Rows <-> entities. Dates are epoch milliseconds, booleans 0/1, JSON text. */

const date = (ms: number) => new Date(ms)
const dateOrNull = (ms: number | null) => (ms === null ? null : new Date(ms))
const ms = (d: Date) => d.getTime()
const msOrNull = (d: Date | null) => (d === null ? null : d.getTime())

export function channelRow(c: Channel): ChannelsTable {
  return {
    infrastructure_id: c.infrastructureId,
    id: c.id,
    channel_key: c.channelKey,
    type: c.type,
    name: c.name,
    config: JSON.stringify(c.config),
    enabled: c.enabled ? 1 : 0,
    max_attempts: c.maxAttempts,
    created_by: c.createdBy,
    created_at: ms(c.createdAt),
    updated_at: ms(c.updatedAt),
  }
}

export function toChannel(r: Selectable<ChannelsTable>): Channel {
  return {
    id: r.id,
    infrastructureId: r.infrastructure_id,
    channelKey: r.channel_key,
    type: r.type,
    name: r.name,
    config: JSON.parse(r.config) as Record<string, unknown>,
    enabled: r.enabled === 1,
    maxAttempts: r.max_attempts,
    createdBy: r.created_by,
    createdAt: date(r.created_at),
    updatedAt: date(r.updated_at),
  }
}

export function memberRow(m: Membership): ChannelMembersTable {
  return {
    infrastructure_id: m.infrastructureId,
    channel_id: m.channelId,
    user_id: m.userId,
    business_id: m.businessId,
    opted_in: m.optedIn ? 1 : 0,
    added_by: m.addedBy,
    created_at: ms(m.createdAt),
    updated_at: ms(m.updatedAt),
  }
}

export function toMembership(r: Selectable<ChannelMembersTable>): Membership {
  return {
    infrastructureId: r.infrastructure_id,
    channelId: r.channel_id,
    userId: r.user_id,
    businessId: r.business_id,
    optedIn: r.opted_in === 1,
    addedBy: r.added_by,
    createdAt: date(r.created_at),
    updatedAt: date(r.updated_at),
  }
}

export function toMembershipView(r: Selectable<ChannelMembershipsView>): MembershipView {
  return {
    ...toMembership(r),
    channelKey: r.channel_key,
    channelType: r.channel_type,
    channelName: r.channel_name,
    channelEnabled: r.channel_enabled === 1,
  }
}

export function outboxRow(m: OutboxMessage): OutboxTable {
  return {
    infrastructure_id: m.infrastructureId,
    id: m.id,
    business_id: m.businessId,
    channel_id: m.channelId,
    payload: JSON.stringify(m.payload),
    recipients: m.recipients === null ? null : JSON.stringify(m.recipients),
    idempotency_key: m.idempotencyKey,
    max_attempts: m.maxAttempts,
    created_by: m.createdBy,
    created_at: ms(m.createdAt),
    status: m.status,
    attempts: m.attempts,
    available_at: ms(m.availableAt),
    lease_token: m.leaseToken,
    leased_until: msOrNull(m.leasedUntil),
    last_error: m.lastError,
    settled_at: msOrNull(m.settledAt),
    notification_id: m.notification?.id ?? null,
    recipient_user_id: m.notification?.userId ?? null,
    category_key: m.notification?.categoryKey ?? null,
    template_id: m.notification?.templateId ?? null,
    priority: priorityRank(m.priority),
    traceparent: m.traceContext?.traceparent ?? null,
    tracestate: m.traceContext?.tracestate ?? null,
  }
}

export function toMessage(r: Selectable<OutboxTable>): OutboxMessage {
  return {
    id: r.id,
    infrastructureId: r.infrastructure_id,
    businessId: r.business_id,
    channelId: r.channel_id,
    payload: JSON.parse(r.payload) as JsonValue,
    recipients: r.recipients === null ? null : (JSON.parse(r.recipients) as string[]),
    idempotencyKey: r.idempotency_key,
    maxAttempts: r.max_attempts,
    createdBy: r.created_by,
    createdAt: date(r.created_at),
    status: r.status as DeliveryStatus,
    attempts: r.attempts,
    availableAt: date(r.available_at),
    leaseToken: r.lease_token,
    leasedUntil: dateOrNull(r.leased_until),
    lastError: r.last_error,
    settledAt: dateOrNull(r.settled_at),
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
  }
}

export function auditRow(e: AuditEntry): AuditLogTable {
  return {
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
    details: e.details === null ? null : JSON.stringify(e.details),
    at: ms(e.at),
  }
}

export function toAuditEntry(r: Selectable<AuditLogTable>): AuditEntry {
  return {
    id: r.id,
    infrastructureId: r.infrastructure_id,
    businessId: r.business_id,
    actorId: r.actor_id,
    actorRole: r.actor_role as Role,
    action: r.action,
    targetType: r.target_type as AuditEntry['targetType'],
    targetId: r.target_id,
    outcome: r.outcome as AuditEntry['outcome'],
    errorCode: r.error_code,
    details: r.details === null ? null : (JSON.parse(r.details) as AuditEntry['details']),
    at: date(r.at),
  }
}

export function toDeliveryAttempt(r: Selectable<DeliveryAttemptsTable>): DeliveryAttempt {
  return {
    id: r.id,
    infrastructureId: r.infrastructure_id,
    messageId: r.message_id,
    attempt: r.attempt,
    workerId: r.worker_id,
    workerHost: r.worker_host,
    startedAt: date(r.started_at),
    finishedAt: date(r.finished_at),
    durationMs: r.duration_ms,
    outcome: r.outcome as DeliveryAttempt['outcome'],
    errorCode: r.error_code,
    error: r.error,
    providerMessageId: r.provider_message_id,
  }
}

export function toInboxEntry(r: Selectable<InboxTable>): InboxEntry {
  return {
    id: r.id,
    infrastructureId: r.infrastructure_id,
    businessId: r.business_id,
    userId: r.user_id,
    channelId: r.channel_id,
    messageId: r.message_id,
    payload: JSON.parse(r.payload) as JsonValue,
    createdAt: date(r.created_at),
    seenAt: dateOrNull(r.seen_at),
    readAt: dateOrNull(r.read_at),
    archivedAt: dateOrNull(r.archived_at),
  }
}
