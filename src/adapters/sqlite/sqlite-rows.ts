import { channelRows } from '../shared/rows/channel-rows.js'
import type { Columns } from '../shared/rows/columns.js'
import { notificationRows } from '../shared/rows/notification-rows.js'
import { outboxRows } from '../shared/rows/outbox-rows.js'
import { recipientRows } from '../shared/rows/recipient-rows.js'

/** SQLite's column kinds: epoch milliseconds, 0/1, JSON text. */
export interface SqliteKinds {
  readonly time: number
  readonly flag: number
  readonly jsonIn: string
  readonly jsonText: true
}

export const sqliteColumns: Columns<SqliteKinds> = {
  time: (ms) => new Date(ms),
  toTime: (d) => d.getTime(),
  flag: (v) => v === 1,
  toFlag: (b) => (b ? 1 : 0),
  json: <T>(text: string) => JSON.parse(text) as T,
  toJson: (v) => JSON.stringify(v),
}

/** Rows <-> entities: the shared mappers over SQLite's column kinds. */
export const { channelRow, toChannel, memberRow, toMembership, toMembershipView } = channelRows(sqliteColumns)
export const { outboxRow, toMessage, auditRow, toAuditEntry, toAttempt, inboxRow, toInboxEntry } =
  outboxRows(sqliteColumns)
export const {
  profileRow,
  toProfile,
  categoryRow,
  toCategory,
  preferenceRow,
  toPreference,
  tenantDefaultRow,
  toTenantDefault,
} = recipientRows(sqliteColumns)
export const {
  notificationRow,
  toNotification,
  skipRow,
  toDelivery,
  templateRow,
  toTemplate,
  settingsRow,
  toSettings,
} = notificationRows(sqliteColumns)
