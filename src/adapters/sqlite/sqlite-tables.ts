/**
 * The tables as kysely sees them. Column names are the snake_case of the domain fields;
 * timestamps are integer epoch milliseconds, booleans 0/1, JSON columns text.
 */
export interface ChannelsTable {
  infrastructure_id: string
  id: string
  channel_key: string
  type: string
  name: string
  config: string
  enabled: number
  max_attempts: number | null
  created_by: string
  created_at: number
  updated_at: number
}

export interface ChannelMembersTable {
  infrastructure_id: string
  channel_id: string
  user_id: string
  business_id: string | null
  opted_in: number
  added_by: string
  created_at: number
  updated_at: number
}

export interface ChannelMembershipsView extends ChannelMembersTable {
  channel_key: string
  channel_type: string
  channel_name: string
  channel_enabled: number
}

export interface OutboxTable {
  infrastructure_id: string
  id: string
  business_id: string | null
  channel_id: string
  payload: string
  recipients: string | null
  idempotency_key: string | null
  max_attempts: number
  created_by: string
  created_at: number
  status: string
  attempts: number
  available_at: number
  lease_token: string | null
  leased_until: number | null
  last_error: string | null
  settled_at: number | null
  notification_id: string | null
  recipient_user_id: string | null
  category_key: string | null
  template_id: string | null
  /** 0 high, 1 normal, 2 low (`priorityRank`). */
  priority: number
  traceparent: string | null
  tracestate: string | null
}

export interface AuditLogTable {
  infrastructure_id: string
  id: string
  business_id: string | null
  actor_id: string
  actor_role: string
  action: string
  target_type: string
  target_id: string | null
  outcome: string
  error_code: string | null
  details: string | null
  at: number
}

export interface DeliveryAttemptsTable {
  infrastructure_id: string
  message_id: string
  id: string
  business_id: string | null
  attempt: number
  worker_id: string
  worker_host: string | null
  started_at: number
  finished_at: number
  duration_ms: number
  outcome: string
  error_code: string | null
  error: string | null
  provider_message_id: string | null
}

export interface RetentionGateTable {
  id: number
}

export interface InboxTable {
  infrastructure_id: string
  id: string
  business_id: string | null
  user_id: string
  channel_id: string
  message_id: string
  payload: string
  created_at: number
  seen_at: number | null
  read_at: number | null
  archived_at: number | null
}

export interface ProfilesTable {
  infrastructure_id: string
  user_id: string
  business_id: string | null
  email: string | null
  phone: string | null
  locale: string | null
  time_zone: string | null
  properties: string
  created_at: number
  updated_at: number
  updated_by: string
}

export interface CategoriesTable {
  infrastructure_id: string
  category_key: string
  name: string
  description: string | null
  critical: number
  channels: string
  created_by: string
  created_at: number
  updated_at: number
}

export interface PreferencesTable {
  infrastructure_id: string
  user_id: string
  category_key: string
  channel_type: string
  enabled: number
  updated_by: string
  updated_at: number
}

export interface TenantDefaultsTable {
  infrastructure_id: string
  business_id: string | null
  category_key: string
  channel_type: string
  enabled: number
  updated_by: string
  updated_at: number
}

export interface TemplatesTable {
  infrastructure_id: string
  id: string
  category_key: string
  channel_type: string
  locale: string
  version: number
  content: string
  created_by: string
  created_at: number
}

export interface TemplateSettingsTable {
  infrastructure_id: string
  default_locale: string
  updated_by: string
  updated_at: number
}

export interface NotificationsTable {
  infrastructure_id: string
  id: string
  business_id: string | null
  category_key: string
  target: string
  data: string
  idempotency_key: string | null
  created_by: string
  created_at: number
  available_at: number | null
  recipient_count: number
  message_count: number
  skipped_count: number
}

export interface NotificationSkipsTable {
  infrastructure_id: string
  notification_id: string
  user_id: string
  channel_type: string
  business_id: string | null
  reason: string
  created_at: number
}

export interface SqliteDatabase {
  messaging_channels: ChannelsTable
  messaging_channel_members: ChannelMembersTable
  messaging_channel_memberships: ChannelMembershipsView
  messaging_outbox: OutboxTable
  messaging_audit_log: AuditLogTable
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
