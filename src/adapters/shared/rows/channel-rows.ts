import type { Channel } from '../../../domain/channel.js'
import type { Membership, MembershipView } from '../../../domain/membership.js'
import type { ColumnKinds, Columns, Json, Mode } from './columns.js'

/** messaging_channels (sql/0001, SQLite v1). */
export interface ChannelRow<K extends ColumnKinds, M extends Mode = 'read'> {
  infrastructure_id: string
  id: string
  channel_key: string
  type: string
  name: string
  config: Json<K, Record<string, unknown>, M>
  enabled: K['flag']
  max_attempts: number | null
  created_by: string
  created_at: K['time']
  updated_at: K['time']
}

/** messaging_channel_members (sql/0001, SQLite v1). */
export interface MemberRow<K extends ColumnKinds> {
  infrastructure_id: string
  channel_id: string
  user_id: string
  business_id: string | null
  opted_in: K['flag']
  added_by: string
  created_at: K['time']
  updated_at: K['time']
}

/** The messaging_channel_memberships view: a member row with its channel's columns. */
export interface MembershipViewRow<K extends ColumnKinds> extends MemberRow<K> {
  channel_key: string
  channel_type: string
  channel_name: string
  channel_enabled: K['flag']
}

/** Channel and membership rows <-> entities, over a store's column kinds. */
export const channelRows = <K extends ColumnKinds>(c: Columns<K>) => {
  const toMembership = (r: MemberRow<K>): Membership => ({
    infrastructureId: r.infrastructure_id,
    channelId: r.channel_id,
    userId: r.user_id,
    businessId: r.business_id,
    optedIn: c.flag(r.opted_in),
    addedBy: r.added_by,
    createdAt: c.time(r.created_at),
    updatedAt: c.time(r.updated_at),
  })
  return {
    channelRow: (x: Channel): ChannelRow<K, 'write'> => ({
      infrastructure_id: x.infrastructureId,
      id: x.id,
      channel_key: x.channelKey,
      type: x.type,
      name: x.name,
      config: c.toJson(x.config),
      enabled: c.toFlag(x.enabled),
      max_attempts: x.maxAttempts,
      created_by: x.createdBy,
      created_at: c.toTime(x.createdAt),
      updated_at: c.toTime(x.updatedAt),
    }),
    toChannel: (r: ChannelRow<K>): Channel => ({
      id: r.id,
      infrastructureId: r.infrastructure_id,
      channelKey: r.channel_key,
      type: r.type,
      name: r.name,
      config: c.json(r.config),
      enabled: c.flag(r.enabled),
      maxAttempts: r.max_attempts,
      createdBy: r.created_by,
      createdAt: c.time(r.created_at),
      updatedAt: c.time(r.updated_at),
    }),
    memberRow: (m: Membership): MemberRow<K> => ({
      infrastructure_id: m.infrastructureId,
      channel_id: m.channelId,
      user_id: m.userId,
      business_id: m.businessId,
      opted_in: c.toFlag(m.optedIn),
      added_by: m.addedBy,
      created_at: c.toTime(m.createdAt),
      updated_at: c.toTime(m.updatedAt),
    }),
    toMembership,
    toMembershipView: (r: MembershipViewRow<K>): MembershipView => ({
      ...toMembership(r),
      channelKey: r.channel_key,
      channelType: r.channel_type,
      channelName: r.channel_name,
      channelEnabled: c.flag(r.channel_enabled),
    }),
  }
}
