import { type RawBuilder, sql } from 'kysely'
import type {
  ChannelRow as SharedChannelRow,
  MemberRow as SharedMemberRow,
  MembershipViewRow as SharedMembershipViewRow,
} from '../shared/rows/channel-rows.js'
import { channelRows } from '../shared/rows/channel-rows.js'
import type { Columns } from '../shared/rows/columns.js'
import { notificationRows } from '../shared/rows/notification-rows.js'
import type {
  AttemptRow as SharedAttemptRow,
  AuditRow as SharedAuditRow,
  InboxRow as SharedInboxRow,
  OutboxRow as SharedOutboxRow,
} from '../shared/rows/outbox-rows.js'
import { outboxRows } from '../shared/rows/outbox-rows.js'
import { recipientRows } from '../shared/rows/recipient-rows.js'
import type { RecipientTables } from './recipient-schema.js'

/** PostgreSQL's column kinds as `pg` returns them: timestamptz a Date, boolean, jsonb parsed (and sent as text cast to jsonb). */
export interface PostgresKinds {
  readonly time: Date
  readonly flag: boolean
  /** Typed `never` so that it fits any jsonb column's declared type in kysely's insert and update checks. */
  readonly jsonIn: RawBuilder<never>
  readonly jsonText: false
}

/** A jsonb parameter. `pg` would turn a JS array into a PostgreSQL array, so JSON is always sent as text. */
export const json = (value: unknown): string => JSON.stringify(value)

export const postgresColumns: Columns<PostgresKinds> = {
  time: (d) => d,
  toTime: (d) => d,
  flag: (b) => b,
  toFlag: (b) => b,
  json: <T>(v: T) => v,
  toJson: (v) => sql<never>`${json(v)}::jsonb`,
}

/** Rows as `pg` returns them (uuid as string, timestamptz as Date, jsonb parsed): the shared row types. */
export type ChannelRow = SharedChannelRow<PostgresKinds>
export type MemberRow = SharedMemberRow<PostgresKinds>
export type MembershipViewRow = SharedMembershipViewRow<PostgresKinds>
export type OutboxRow = SharedOutboxRow<PostgresKinds>
export type AuditRow = SharedAuditRow<PostgresKinds>
export type AttemptRow = SharedAttemptRow<PostgresKinds>
export type InboxRow = SharedInboxRow<PostgresKinds>

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

/** Rows <-> entities: the shared mappers over PostgreSQL's column kinds. */
export const { channelRow, toChannel, memberRow, toMembership, toMembershipView } =
  channelRows(postgresColumns)
export const { toMessage, auditRow, toAuditEntry, toAttempt, inboxRow, toInboxEntry } =
  outboxRows(postgresColumns)
export const {
  profileRow,
  toProfile,
  categoryRow,
  toCategory,
  preferenceRow,
  toPreference,
  tenantDefaultRow,
  toTenantDefault,
} = recipientRows(postgresColumns)
export const { toNotification, toDelivery, templateRow, toTemplate, settingsRow, toSettings } =
  notificationRows(postgresColumns)
