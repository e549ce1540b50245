import {
  type Channel,
  type ChannelView,
  concretePaths,
  configValueAt,
  mergeSecrets,
  redactConfig,
  secretValues,
} from '../domain/channel.js'
import { destinationIssue } from '../domain/destinations.js'
import { NotFoundError, ValidationError, type ValidationIssue } from '../domain/errors.js'
import {
  type ChannelRefInput,
  type ConfigureChannelInput,
  type CreateChannelInput,
  channelRefInput,
  configureChannelInput,
  createChannelInput,
  type ListChannelsInput,
  listChannelsInput,
  type ResealSecretsInput,
  resealSecretsInput,
} from '../domain/inputs.js'
import { assertRole, assertTenantScope, type TenantScope } from '../domain/tenant-scope.js'
import { parseInput } from '../domain/validation.js'
import type { SecretOwner } from '../ports/channel-secrets.js'
import { auditEntry, audited, type ServiceContext } from './context.js'

/** Channel administration: created and configured by `infra_admin`, read by anyone in the infrastructure. */
export class ChannelService {
  constructor(private readonly ctx: ServiceContext) {}

  /** The channel as callers see it: secrets replaced by REDACTED. */
  redact(channel: Channel): ChannelView {
    const def = this.ctx.channelTypes.has(channel.type) ? this.ctx.channelTypes.get(channel.type) : null
    return {
      ...channel,
      config: def ? redactConfig(def, channel.config) : {},
      secrets: def ? this.ctx.secrets.describe(def, channel.config) : [],
    }
  }

  /** Seals a validated config's secrets; a persistent store without a key may not keep any. */
  private seal(type: string, config: Record<string, unknown>, owner: SecretOwner): Record<string, unknown> {
    const def = this.ctx.channelTypes.get(type)
    if (!this.ctx.secrets.encrypts && this.ctx.requireSealedSecrets && secretValues(def, config).length > 0) {
      throw ValidationError.single(
        'config',
        'secret_key_required',
        'this store keeps credentials only sealed: configure a secret key (MESSAGING_SECRET_KEYS or the secrets option)',
      )
    }
    return this.ctx.secrets.seal(def, config, owner)
  }

  /**
   * The URLs a channel's transport will call, against the destination policy: refused on
   * save as the SSRF guard would refuse them at delivery, so a bad URL is a 400 naming
   * `config.<path>` now rather than a dead message later.
   */
  private checkDestinations(type: string, config: Readonly<Record<string, unknown>>): void {
    const issues: ValidationIssue[] = []
    const paths = this.ctx.channelTypes.get(type).destinationPaths ?? []
    for (const path of paths.flatMap((p) => concretePaths(config, p))) {
      const url = configValueAt(config, path)
      if (typeof url !== 'string') continue
      const broken = destinationIssue(url, this.ctx.destinations)
      if (broken) issues.push({ path: `config.${path}`, ...broken })
    }
    if (issues.length > 0) throw new ValidationError(issues)
  }

  /** The stored channel with its secrets opened: for transports only, never for a response. */
  open(channel: Channel): Channel {
    const def = this.ctx.channelTypes.get(channel.type)
    return {
      ...channel,
      config: this.ctx.secrets.open(def, channel.config, {
        infrastructureId: channel.infrastructureId,
        channelId: channel.id,
      }),
    }
  }

  async create(scope: TenantScope, raw: CreateChannelInput): Promise<ChannelView> {
    const input = parseInput(createChannelInput, raw)
    const config = this.ctx.channelTypes.parseConfig(input.type, input.config)
    this.checkDestinations(input.type, config)
    const id = this.ctx.ids.next()
    const target = {
      infrastructureId: input.infrastructureId,
      action: 'channel.create',
      targetType: 'channel' as const,
      targetId: id,
      details: { channelKey: input.channelKey, type: input.type },
    }
    return audited(this.ctx, scope, target, async () => {
      assertTenantScope(scope, input.infrastructureId)
      assertRole(scope, 'channel.create', 'infra_admin')
      const now = this.ctx.clock.now()
      const channel: Channel = {
        id,
        infrastructureId: input.infrastructureId,
        channelKey: input.channelKey,
        type: input.type,
        name: input.name ?? input.channelKey,
        config: this.seal(input.type, config, { infrastructureId: input.infrastructureId, channelId: id }),
        enabled: input.enabled,
        maxAttempts: input.maxAttempts,
        createdBy: scope.userId,
        createdAt: now,
        updatedAt: now,
      }
      const created = await this.ctx.uow.run(scope, async (r) => {
        // The store's unique key (infrastructure, channel key) answers a taken key with ConflictError.
        const c = await r.channels.insert(scope, channel)
        await r.audit.append(scope, auditEntry(this.ctx, scope, target))
        return c
      })
      return this.redact(created)
    })
  }

  async configure(scope: TenantScope, raw: ConfigureChannelInput): Promise<ChannelView> {
    const input = parseInput(configureChannelInput, raw)
    const target = {
      infrastructureId: input.infrastructureId,
      action: 'channel.configure',
      targetType: 'channel' as const,
      targetId: input.channelId,
    }
    return audited(this.ctx, scope, target, async () => {
      assertTenantScope(scope, input.infrastructureId)
      assertRole(scope, 'channel.configure', 'infra_admin')
      const updated = await this.ctx.uow.run(scope, async (r) => {
        const current = await r.channels.findById(scope, input.infrastructureId, input.channelId)
        if (!current) throw new NotFoundError('channel', input.channelId)
        let config: Record<string, unknown> | undefined
        if (input.config !== undefined) {
          const def = this.ctx.channelTypes.get(current.type)
          const owner = { infrastructureId: current.infrastructureId, channelId: current.id }
          // Merge against the opened secrets (a REDACTED marker keeps one), validate, seal again.
          const stored = this.ctx.secrets.open(def, current.config, owner)
          const merged = this.ctx.channelTypes.parseConfig(
            current.type,
            mergeSecrets(def, input.config, stored),
          )
          this.checkDestinations(current.type, merged)
          config = this.seal(current.type, merged, owner)
        }
        const next = await r.channels.update(scope, input.infrastructureId, input.channelId, {
          ...(input.name !== undefined && { name: input.name }),
          ...(config !== undefined && { config }),
          ...(input.enabled !== undefined && { enabled: input.enabled }),
          ...(input.maxAttempts !== undefined && { maxAttempts: input.maxAttempts }),
          updatedAt: this.ctx.clock.now(),
        })
        if (!next) throw new NotFoundError('channel', input.channelId)
        const changed = [
          ...(input.name !== undefined ? ['name'] : []),
          ...(input.config !== undefined ? ['config'] : []),
          ...(input.enabled !== undefined ? ['enabled'] : []),
          ...(input.maxAttempts !== undefined ? ['maxAttempts'] : []),
        ]
        await r.audit.append(scope, auditEntry(this.ctx, scope, { ...target, details: { changed } }))
        return next
      })
      return this.redact(updated)
    })
  }

  /**
   * Key rotation: seals every channel secret of the infrastructure again under the active
   * key, so the old key can be retired once `secrets[].keyIds` no longer name it.
   * `infra_admin`; audited; one unit of work per channel.
   */
  async resealSecrets(scope: TenantScope, raw: ResealSecretsInput): Promise<{ resealed: number }> {
    const input = parseInput(resealSecretsInput, raw)
    const target = {
      infrastructureId: input.infrastructureId,
      action: 'channel.reseal_secrets',
      targetType: 'channel' as const,
    }
    return audited(this.ctx, scope, target, async () => {
      assertTenantScope(scope, input.infrastructureId)
      assertRole(scope, 'channel.reseal_secrets', 'infra_admin')
      const channels = await this.ctx.uow.run(scope, (r) =>
        r.channels.list(scope, { infrastructureId: input.infrastructureId }),
      )
      let resealed = 0
      for (const c of channels) {
        if (!this.ctx.channelTypes.has(c.type)) continue
        const def = this.ctx.channelTypes.get(c.type)
        if (!def.secretPaths.length || !this.ctx.secrets.describe(def, c.config).some((d) => d.set)) continue
        const config = this.ctx.secrets.reseal(def, c.config, {
          infrastructureId: c.infrastructureId,
          channelId: c.id,
        })
        await this.ctx.uow.run(scope, (r) =>
          r.channels.update(scope, c.infrastructureId, c.id, { config, updatedAt: this.ctx.clock.now() }),
        )
        resealed++
      }
      await this.ctx.uow.run(scope, (r) =>
        r.audit.append(scope, auditEntry(this.ctx, scope, { ...target, details: { resealed } })),
      )
      return { resealed }
    })
  }

  async get(scope: TenantScope, raw: ChannelRefInput): Promise<ChannelView> {
    const input = parseInput(channelRefInput, raw)
    assertTenantScope(scope, input.infrastructureId)
    const channel = await this.ctx.uow.run(scope, (r) =>
      r.channels.findById(scope, input.infrastructureId, input.channelId),
    )
    if (!channel) throw new NotFoundError('channel', input.channelId)
    return this.redact(channel)
  }

  async list(scope: TenantScope, raw: ListChannelsInput): Promise<ChannelView[]> {
    const input = parseInput(listChannelsInput, raw)
    assertTenantScope(scope, input.infrastructureId)
    const channels = await this.ctx.uow.run(scope, (r) =>
      r.channels.list(scope, {
        infrastructureId: input.infrastructureId,
        ...(input.type !== undefined && { type: input.type }),
        ...(input.enabled !== undefined && { enabled: input.enabled }),
      }),
    )
    return channels.map((c) => this.redact(c))
  }
}
