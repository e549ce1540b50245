import type { AuditEntry } from './domain/audit.js'
import type { Channel } from './domain/channel.js'
import type {
  AckInput,
  AddMemberInput,
  ChannelRefInput,
  ClaimInput,
  ConfigureChannelInput,
  CreateChannelInput,
  EnqueueInput,
  ListAuditInput,
  ListChannelsInput,
  ListMembershipsInput,
  ListMessagesInput,
  MemberRefInput,
  MessageRefInput,
  SetOptInInput,
} from './domain/inputs.js'
import type { Membership, MembershipView } from './domain/membership.js'
import type { ClaimedMessage, OutboxMessage } from './domain/outbox-message.js'
import type { AuditService } from './domain/services/audit-service.js'
import type { ChannelService } from './domain/services/channel-service.js'
import type { MembershipService } from './domain/services/membership-service.js'
import type { AckResult, EnqueueResult, OutboxService } from './domain/services/outbox-service.js'
import { type Principal, TenantScope } from './domain/tenant-scope.js'
import type { MessagingStorage } from './ports/unit-of-work.js'

/**
 * The module's facade. Every call takes the authenticated principal first; the module
 * checks its tenant scope and role before any store is touched, and the store checks again.
 *
 * @example
 * const { message } = await messaging.enqueue(principal, {
 *   infrastructureId, channelKey: 'ops-alerts', payload: { text: 'disk 91% full' }, idempotencyKey: 'disk-91',
 * })
 */
export class Messaging {
  constructor(
    private readonly channels: ChannelService,
    private readonly members: MembershipService,
    private readonly outbox: OutboxService,
    private readonly audit: AuditService,
    private readonly storage: MessagingStorage,
  ) {}

  /** Creates a channel (`infra_admin`). The returned config has its secrets redacted. */
  async createChannel(principal: Principal, input: CreateChannelInput): Promise<Channel> {
    return this.channels.create(TenantScope.of(principal), input)
  }

  /** Changes a channel's name, config, enabled flag or attempts (`infra_admin`). */
  async configureChannel(principal: Principal, input: ConfigureChannelInput): Promise<Channel> {
    return this.channels.configure(TenantScope.of(principal), input)
  }

  async getChannel(principal: Principal, input: ChannelRefInput): Promise<Channel> {
    return this.channels.get(TenantScope.of(principal), input)
  }

  async listChannels(principal: Principal, input: ListChannelsInput): Promise<Channel[]> {
    return this.channels.list(TenantScope.of(principal), input)
  }

  /** Links a user to a channel (`infra_admin`). */
  async addMember(principal: Principal, input: AddMemberInput): Promise<Membership> {
    return this.members.add(TenantScope.of(principal), input)
  }

  async removeMember(principal: Principal, input: MemberRefInput): Promise<void> {
    return this.members.remove(TenantScope.of(principal), input)
  }

  /** Opts the caller (or, for an `infra_admin`, any member) into or out of a channel's alerts. */
  async setOptIn(principal: Principal, input: SetOptInInput): Promise<Membership> {
    return this.members.setOptIn(TenantScope.of(principal), input)
  }

  async listMembers(principal: Principal, input: ChannelRefInput): Promise<Membership[]> {
    return this.members.listByChannel(TenantScope.of(principal), input)
  }

  /** Memberships with their channel's metadata, in one call. */
  async listMemberships(principal: Principal, input: ListMembershipsInput): Promise<MembershipView[]> {
    return this.members.listViews(TenantScope.of(principal), input)
  }

  /** Appends a message; a repeated idempotency key returns the first message. */
  async enqueue(principal: Principal, input: EnqueueInput): Promise<EnqueueResult> {
    return this.outbox.enqueue(TenantScope.of(principal), input)
  }

  async getMessage(principal: Principal, input: MessageRefInput): Promise<OutboxMessage> {
    return this.outbox.get(TenantScope.of(principal), input)
  }

  async listMessages(principal: Principal, input: ListMessagesInput): Promise<OutboxMessage[]> {
    return this.outbox.list(TenantScope.of(principal), input)
  }

  /** Leases a batch of due messages (`service`). */
  async claim(principal: Principal, input: ClaimInput = {}): Promise<ClaimedMessage[]> {
    return this.outbox.claim(TenantScope.of(principal), input)
  }

  /** Settles a held message, fenced by its lease token (`service`). */
  async ack(principal: Principal, input: AckInput): Promise<AckResult> {
    return this.outbox.ack(TenantScope.of(principal), input)
  }

  /** The audit trail of one infrastructure, newest first (`infra_admin` or `service`). */
  async listAudit(principal: Principal, input: ListAuditInput): Promise<AuditEntry[]> {
    return this.audit.list(TenantScope.of(principal), input)
  }

  /** Closes the store. */
  close(): Promise<void> {
    return this.storage.close()
  }
}
