import type { Channel } from '../domain/channel.js'
import { ChannelDisabledError, NotFoundError } from '../domain/errors.js'
import type { TenantScope } from '../domain/tenant-scope.js'
import type { AuditLog } from '../ports/audit-log.js'
import type { ChannelRepository } from '../ports/channel-repository.js'
import type { EnqueueCommand, EnqueueOutcome, OutboxRepository } from '../ports/outbox-repository.js'

/**
 * `OutboxRepository.enqueueMany` over the one-message ports, for stores where a call costs
 * no round trip (memory, SQLite): every channel is resolved and checked before the first
 * write, then each message is appended with its audit entry. The unit of work makes it all
 * or nothing.
 */
export async function enqueueEach(
  repos: {
    readonly channels: ChannelRepository
    readonly outbox: Pick<OutboxRepository, 'enqueue'>
    readonly audit: AuditLog
  },
  scope: TenantScope,
  commands: readonly EnqueueCommand[],
): Promise<EnqueueOutcome[]> {
  const found = new Map<string, Channel>()
  const channels: Channel[] = []
  for (const c of commands) {
    const infra = c.message.infrastructureId
    const ref = 'id' in c.channel ? c.channel.id : c.channel.key
    const cacheKey = `${infra}\u0000${'id' in c.channel ? 'id' : 'key'}\u0000${ref}`
    let channel = found.get(cacheKey)
    if (channel === undefined) {
      const hit =
        'id' in c.channel
          ? await repos.channels.findById(scope, infra, c.channel.id)
          : await repos.channels.findByKey(scope, infra, c.channel.key)
      if (!hit) throw new NotFoundError('channel', ref)
      channel = hit
      found.set(cacheKey, channel)
    }
    if (!channel.enabled) throw new ChannelDisabledError(channel.id)
    channels.push(channel)
  }
  const out: EnqueueOutcome[] = []
  for (const [i, c] of commands.entries()) {
    const channel = channels[i]!
    const r = await repos.outbox.enqueue(scope, {
      ...c.message,
      channelId: channel.id,
      maxAttempts: channel.maxAttempts ?? c.defaultMaxAttempts,
    })
    if (r.created) {
      await repos.audit.append(scope, {
        ...c.audit,
        details: { channelId: channel.id, ...(c.audit.details ?? {}) },
      })
    }
    out.push(r)
  }
  return out
}
