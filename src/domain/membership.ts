/** A user's link to a channel, with the user's own opt-in to its alerts. */
export interface Membership {
  readonly infrastructureId: string
  readonly channelId: string
  readonly userId: string
  /** The business the member operates for, when the membership is business-specific. */
  readonly businessId: string | null
  /** Business operators opt into (or out of) a channel's alerts; delivery targets opted-in members. */
  readonly optedIn: boolean
  readonly addedBy: string
  readonly createdAt: Date
  readonly updatedAt: Date
}

/** A membership joined with its channel's metadata: the `messaging_channel_memberships` view. */
export interface MembershipView extends Membership {
  readonly channelKey: string
  readonly channelType: string
  readonly channelName: string
  readonly channelEnabled: boolean
}
