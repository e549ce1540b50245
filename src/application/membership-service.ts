import { NotFoundError } from '../domain/errors.js'
import {
  type AddMemberInput,
  addMemberInput,
  type ChannelRefInput,
  channelRefInput,
  type ListMembershipsInput,
  listMembershipsInput,
  type MemberRefInput,
  memberRefInput,
  type SetOptInInput,
  setOptInInput,
} from '../domain/inputs.js'
import type { Membership, MembershipView } from '../domain/membership.js'
import { assertRole, assertTenantScope, type TenantScope } from '../domain/tenant-scope.js'
import { parseInput } from '../domain/validation.js'
import { auditEntry, audited, type ServiceContext } from './context.js'

/** Who belongs to which channel, and who opted into its alerts. */
export class MembershipService {
  constructor(private readonly ctx: ServiceContext) {}

  async add(scope: TenantScope, raw: AddMemberInput): Promise<Membership> {
    const input = parseInput(addMemberInput, raw)
    const target = {
      infrastructureId: input.infrastructureId,
      businessId: input.businessId,
      action: 'member.add',
      targetType: 'membership' as const,
      targetId: input.channelId,
      details: { userId: input.userId },
    }
    return audited(this.ctx, scope, target, async () => {
      assertTenantScope(scope, input.infrastructureId)
      assertRole(scope, 'member.add', 'infra_admin')
      return this.ctx.uow.run(scope, async (r) => {
        const channel = await r.channels.findById(scope, input.infrastructureId, input.channelId)
        if (!channel) throw new NotFoundError('channel', input.channelId)
        const now = this.ctx.clock.now()
        const m = await r.members.insert(scope, {
          ...input,
          addedBy: scope.userId,
          createdAt: now,
          updatedAt: now,
        })
        await r.audit.append(scope, auditEntry(this.ctx, scope, target))
        return m
      })
    })
  }

  async remove(scope: TenantScope, raw: MemberRefInput): Promise<void> {
    const input = parseInput(memberRefInput, raw)
    const target = {
      infrastructureId: input.infrastructureId,
      action: 'member.remove',
      targetType: 'membership' as const,
      targetId: input.channelId,
      details: { userId: input.userId },
    }
    await audited(this.ctx, scope, target, async () => {
      assertTenantScope(scope, input.infrastructureId)
      assertRole(scope, 'member.remove', 'infra_admin')
      await this.ctx.uow.run(scope, async (r) => {
        const removed = await r.members.delete(scope, input.infrastructureId, input.channelId, input.userId)
        if (!removed) throw new NotFoundError('membership', `${input.channelId}/${input.userId}`)
        await r.audit.append(scope, auditEntry(this.ctx, scope, target))
      })
    })
  }

  /** A member opts itself in or out; an `infra_admin` may do it for anyone in its infrastructure. */
  async setOptIn(scope: TenantScope, raw: SetOptInInput): Promise<Membership> {
    const input = parseInput(setOptInInput, raw)
    const userId = input.userId ?? scope.userId
    const target = {
      infrastructureId: input.infrastructureId,
      action: input.optedIn ? 'member.opt_in' : 'member.opt_out',
      targetType: 'membership' as const,
      targetId: input.channelId,
      details: { userId },
    }
    return audited(this.ctx, scope, target, async () => {
      assertTenantScope(scope, input.infrastructureId)
      if (userId !== scope.userId) assertRole(scope, 'member.opt_in for another user', 'infra_admin')
      return this.ctx.uow.run(scope, async (r) => {
        const key = { infrastructureId: input.infrastructureId, channelId: input.channelId, userId }
        const m = await r.members.setOptIn(scope, key, input.optedIn, this.ctx.clock.now())
        if (!m) throw new NotFoundError('membership', `${input.channelId}/${userId}`)
        await r.audit.append(scope, auditEntry(this.ctx, scope, target))
        return m
      })
    })
  }

  async listByChannel(scope: TenantScope, raw: ChannelRefInput): Promise<Membership[]> {
    const input = parseInput(channelRefInput, raw)
    assertTenantScope(scope, input.infrastructureId)
    return this.ctx.uow.run(scope, async (r) => {
      const channel = await r.channels.findById(scope, input.infrastructureId, input.channelId)
      if (!channel) throw new NotFoundError('channel', input.channelId)
      return r.members.listByChannel(scope, input.infrastructureId, input.channelId)
    })
  }

  async listViews(scope: TenantScope, raw: ListMembershipsInput): Promise<MembershipView[]> {
    const input = parseInput(listMembershipsInput, raw)
    assertTenantScope(scope, input.infrastructureId)
    return this.ctx.uow.run(scope, (r) =>
      r.members.listViews(scope, {
        infrastructureId: input.infrastructureId,
        ...(input.userId !== undefined && { userId: input.userId }),
        ...(input.channelId !== undefined && { channelId: input.channelId }),
      }),
    )
  }
}
