import type { Generated } from 'kysely'
import type { ChannelRow, MemberRow, MembershipViewRow } from '../shared/rows/channel-rows.js'
import type {
  NotificationRow,
  SkipRow,
  TemplateRow,
  TemplateSettingsRow,
} from '../shared/rows/notification-rows.js'
import type { AttemptRow, AuditRow, InboxRow, OutboxRow } from '../shared/rows/outbox-rows.js'
import type {
  CategoryRow,
  PreferenceRow,
  ProfileRow,
  TenantDefaultRow,
} from '../shared/rows/recipient-rows.js'
import type { SqliteKinds } from './sqlite-rows.js'

/**
 * The tables as kysely sees them: the shared row types over SQLite's column kinds
 * (timestamps integer epoch milliseconds, booleans 0/1, JSON columns text).
 */
export type ChannelsTable = ChannelRow<SqliteKinds>
export type ChannelMembersTable = MemberRow<SqliteKinds>
export type ChannelMembershipsView = MembershipViewRow<SqliteKinds>
export type OutboxTable = OutboxRow<SqliteKinds>
export type AuditLogTable = AuditRow<SqliteKinds>
export type DeliveryAttemptsTable = AttemptRow<SqliteKinds>
export type InboxTable = InboxRow<SqliteKinds>
export type ProfilesTable = ProfileRow<SqliteKinds>
export type CategoriesTable = CategoryRow<SqliteKinds>
export type PreferencesTable = PreferenceRow<SqliteKinds>
export type TenantDefaultsTable = TenantDefaultRow<SqliteKinds>
export type TemplatesTable = TemplateRow<SqliteKinds>
export type TemplateSettingsTable = TemplateSettingsRow<SqliteKinds>
export type NotificationsTable = NotificationRow<SqliteKinds>
export type NotificationSkipsTable = SkipRow<SqliteKinds>

/** Delivery events (migration 20); `seq` is the store's own, never written. */
export interface EventsTable {
  seq: Generated<number>
  infrastructure_id: string
  id: string
  business_id: string | null
  type: string
  message_id: string | null
  notification_id: string | null
  channel_id: string | null
  data: string
  occurred_at: number
}

export interface RetentionGateTable {
  id: number
}

export interface SqliteDatabase {
  messaging_channels: ChannelsTable
  messaging_channel_members: ChannelMembersTable
  messaging_channel_memberships: ChannelMembershipsView
  messaging_outbox: OutboxTable
  messaging_audit_log: AuditLogTable
  messaging_events: EventsTable
  messaging_delivery_attempts: DeliveryAttemptsTable
  messaging_retention_gate: RetentionGateTable
  messaging_inbox: InboxTable
  messaging_profiles: ProfilesTable
  messaging_categories: CategoriesTable
  messaging_preferences: PreferencesTable
  messaging_tenant_defaults: TenantDefaultsTable
  messaging_templates: TemplatesTable
  messaging_template_settings: TemplateSettingsTable
  messaging_notifications: NotificationsTable
  messaging_notification_skips: NotificationSkipsTable
  messaging_security_log: SecurityLogTable
  messaging_rate_buckets: RateBucketsTable
  messaging_breakers: BreakersTable
  messaging_queue_minutes: QueueMinutesTable
  messaging_event_endpoints: EventEndpointsTable
}

export interface EventEndpointsTable {
  infrastructure_id: string
  id: string
  url: string
  event_types: string | null
  enabled: number
  secret: string
  cursor: string | null
  attempts: number
  next_attempt_at: number
  last_error: string | null
  failing_since: number | null
  lease_token: string | null
  leased_until: number | null
  created_at: number
  updated_at: number
}

/** The queue's per-minute rollup (domain/queue-history.ts). */
export interface QueueMinutesTable {
  infrastructure_id: string
  /** Epoch ms of the minute's start, by the store's clock. */
  minute: number
  enqueued: number
  delivered: number
  failed_attempts: number
  dead: number
  closed: number
  reopened: number
}

export interface SecurityLogTable {
  actor_id: string
  actor_role: string
  window_start: number
  action: string
  error_code: string
  refusals: number
  first_at: number
  last_at: number
  last_infrastructure_id: string
  last_business_id: string | null
}

export interface RateBucketsTable {
  infrastructure_id: string
  channel_id: string
  tokens: number
  /** Epoch ms of the store's clock: when `tokens` were counted. */
  refilled_at: number
  /** No token before this (a provider's Retry-After); null: not held. */
  held_until: number | null
}

export interface BreakersTable {
  infrastructure_id: string
  channel_id: string
  status: string
  failures: number
  /** Epoch ms of the store's clock, as every time of the table. */
  window_started_at: number | null
  opened_at: number | null
  retry_at: number | null
  updated_at: number
}
