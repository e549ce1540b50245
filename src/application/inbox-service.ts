import { z } from 'zod'
import type { Channel } from '../domain/channel.js'
import { type InboxEntry, parseInboxCursor } from '../domain/inbox.js'
import {
  type FollowInboxInput,
  followInboxInput,
  type InboxRefInput,
  inboxRefInput,
  type ListInboxInput,
  listInboxInput,
  type MarkInboxInput,
  markInboxInput,
} from '../domain/inputs.js'
import type { OutboxMessage } from '../domain/outbox-message.js'
import { assertRole, assertTenantScope, type TenantScope } from '../domain/tenant-scope.js'
import { parseInput } from '../domain/validation.js'
import type { ServiceContext } from './context.js'
import { InboxStream, type InboxStreamSink } from './inbox-stream.js'

const userIdSchema = z.uuid()

/** What an in-app delivery came to. */
export type InboxDelivery =
  | { readonly ok: true; readonly recipients: number; readonly added: number }
  | { readonly ok: false; readonly error: string }

/** In-app inboxes: filled by the in-app transport, read and marked by each user alone. */
export class InboxService {
  constructor(private readonly ctx: ServiceContext) {}

  /**
   * Writes one entry per recipient: the message's own recipients (user ids) except members
   * of the channel who opted out of it, or else the channel's opted-in members of the
   * message's business (infrastructure-wide members too). Redelivery adds nothing.
   */
  async deliver(scope: TenantScope, message: OutboxMessage, channel: Channel): Promise<InboxDelivery> {
    assertRole(scope, 'inbox.deliver', 'service')
    if (message.recipients) {
      const bad = message.recipients.find((r) => !userIdSchema.safeParse(r).success)
      if (bad !== undefined) return { ok: false, error: 'in-app recipients must be user ids (UUIDs)' }
    }
    const result = await this.ctx.uow.run(scope, async (r) => {
      const members = await r.members.listByChannel(scope, message.infrastructureId, channel.id)
      // Preferences hold on every path: a recipient the message names explicitly is still
      // left out when they are a member of the channel and opted out of it.
      const optedOut = new Set(members.filter((m) => !m.optedIn).map((m) => m.userId))
      const users = message.recipients
        ? message.recipients.filter((u) => !optedOut.has(u))
        : members
            .filter((m) => m.optedIn && (m.businessId === null || m.businessId === message.businessId))
            .map((m) => m.userId)
      const now = this.ctx.clock.now()
      const entries: InboxEntry[] = [...new Set(users)].map((userId) => ({
        id: this.ctx.ids.next(),
        infrastructureId: message.infrastructureId,
        businessId: message.businessId,
        userId,
        channelId: channel.id,
        messageId: message.id,
        payload: message.payload,
        createdAt: now,
        seenAt: null,
        readAt: null,
        archivedAt: null,
      }))
      const added = entries.length > 0 ? await r.inbox.deliver(scope, entries) : 0
      return { ok: true as const, recipients: entries.length, added, entries }
    })
    // Committed: live streams read what is new (a redelivered entry was not written, and is
    // not found). Ids only; each stream reads the entry through its own user's scope.
    if (result.added > 0) {
      this.ctx.inboxFeed.publish(
        result.entries.map((e) => ({
          kind: 'entry' as const,
          infrastructureId: e.infrastructureId,
          userId: e.userId,
          entryId: e.id,
        })),
      )
    }
    return { ok: true, recipients: result.recipients, added: result.added }
  }

  /**
   * Follows the caller's own inbox live: `sink` gets each new entry and the unread count
   * whenever it moves (the count first, after what was missed since `after`). Resolves once
   * the stream listens; the returned function stops it.
   */
  async follow(scope: TenantScope, raw: FollowInboxInput, sink: InboxStreamSink): Promise<() => void> {
    const input = parseInput(followInboxInput, raw)
    assertTenantScope(scope, input.infrastructureId)
    const stream = new InboxStream(this.ctx, scope, input.infrastructureId, sink)
    await stream.open(input.after !== undefined ? parseInboxCursor(input.after) : null)
    return () => stream.close()
  }

  /** The caller's own inbox in one infrastructure, newest first. */
  async list(scope: TenantScope, raw: ListInboxInput): Promise<InboxEntry[]> {
    const input = parseInput(listInboxInput, raw)
    assertTenantScope(scope, input.infrastructureId)
    return this.ctx.uow.run(scope, (r) =>
      r.inbox.list(scope, {
        infrastructureId: input.infrastructureId,
        unreadOnly: input.unreadOnly,
        includeArchived: input.includeArchived,
        limit: input.limit,
        ...(input.before !== undefined && { before: input.before }),
      }),
    )
  }

  async countUnread(scope: TenantScope, raw: InboxRefInput): Promise<{ unread: number }> {
    const input = parseInput(inboxRefInput, raw)
    assertTenantScope(scope, input.infrastructureId)
    const unread = await this.ctx.uow.run(scope, (r) => r.inbox.countUnread(scope, input.infrastructureId))
    return { unread }
  }

  /** Marks the caller's own entries seen, read or archived; returns how many changed. */
  async mark(scope: TenantScope, raw: MarkInboxInput): Promise<{ changed: number }> {
    const input = parseInput(markInboxInput, raw)
    assertTenantScope(scope, input.infrastructureId)
    const changed = await this.ctx.uow.run(scope, (r) =>
      r.inbox.mark(scope, {
        infrastructureId: input.infrastructureId,
        entryIds: input.entryIds,
        mark: input.mark,
        at: this.ctx.clock.now(),
      }),
    )
    if (changed > 0 && input.mark !== 'seen') {
      this.ctx.inboxFeed.publish([
        { kind: 'marked', infrastructureId: input.infrastructureId, userId: scope.userId },
      ])
    }
    return { changed }
  }
}
