import type { Command } from 'commander'
import { asFlags, type CliIo, principalOf, uuid } from '../context.js'
import { table } from '../format.js'
import {
  type ActorOptions,
  actorOptions,
  channelIdOf,
  channelRef,
  oneInfra,
  withMessaging,
} from './shared.js'

interface MemberOptions extends ActorOptions {
  channel: string
  user: string
  business?: string
}

const MEMBER_FLAGS = {
  channelId: '--channel',
  userId: '--user',
  businessId: '--business',
  optedIn: '--opted-out',
}

export function registerMember(program: Command, io: CliIo): void {
  const member = program
    .command('member')
    .description("Add, remove and list a channel's members (as the infrastructure's infra_admin)")

  actorOptions(member.command('add'), 'an infra_admin')
    .description('Add a user to a channel, opted in to its alerts unless --opted-out')
    .requiredOption('--channel <uuid|key>', 'the channel', channelRef)
    .requiredOption('--user <uuid>', "the host's user id", uuid)
    .option(
      '--business <uuid>',
      'the business the membership is for (default: the whole infrastructure)',
      uuid,
    )
    .option('--opted-out', 'add the member opted out (they can opt in themselves)')
    .option('--json', 'print the membership as JSON')
    .action(async (opts: MemberOptions & { optedOut?: boolean }) => {
      const principal = principalOf(opts, 'infra_admin')
      const infrastructureId = oneInfra(opts, principal)
      await withMessaging(opts, io, async (m) => {
        const channelId = await channelIdOf(m, principal, infrastructureId, opts.channel)
        const added = await asFlags(MEMBER_FLAGS, () =>
          m.addMember(principal, {
            infrastructureId,
            channelId,
            userId: opts.user,
            ...(opts.business !== undefined && { businessId: opts.business }),
            ...(opts.optedOut && { optedIn: false }),
          }),
        )
        io.out(
          opts.json
            ? `${JSON.stringify(added, null, 2)}\n`
            : `added ${added.userId} to ${opts.channel}${added.businessId ? ` for business ${added.businessId}` : ''} (${added.optedIn ? 'opted in' : 'opted out'})\n`,
        )
      })
    })

  actorOptions(member.command('remove'), 'an infra_admin')
    .description('Remove a user from a channel')
    .requiredOption('--channel <uuid|key>', 'the channel', channelRef)
    .requiredOption('--user <uuid>', "the host's user id", uuid)
    .action(async (opts: MemberOptions) => {
      const principal = principalOf(opts, 'infra_admin')
      const infrastructureId = oneInfra(opts, principal)
      await withMessaging(opts, io, async (m) => {
        const channelId = await channelIdOf(m, principal, infrastructureId, opts.channel)
        await m.removeMember(principal, { infrastructureId, channelId, userId: opts.user })
        io.out(`removed ${opts.user} from ${opts.channel}\n`)
      })
    })

  actorOptions(member.command('list'), 'an infra_admin')
    .description("A channel's members with their opt-in")
    .requiredOption('--channel <uuid|key>', 'the channel', channelRef)
    .option('--json', 'print JSON')
    .action(async (opts: ActorOptions & { channel: string }) => {
      const principal = principalOf(opts, 'infra_admin')
      const infrastructureId = oneInfra(opts, principal)
      await withMessaging(opts, io, async (m) => {
        const channelId = await channelIdOf(m, principal, infrastructureId, opts.channel)
        const members = await m.listMembers(principal, { infrastructureId, channelId })
        io.out(
          opts.json
            ? `${JSON.stringify(members, null, 2)}\n`
            : `${table(
                ['user', 'business', 'opted in'],
                members.map((x) => [x.userId, x.businessId ?? '(infrastructure)', x.optedIn ? 'yes' : 'no']),
              )}\n`,
        )
      })
    })
}
