import type { Category, CategoryChannel } from '../domain/category.js'
import { NotFoundError, ValidationError, type ValidationIssue } from '../domain/errors.js'
import {
  type CategoryRefInput,
  type CreateCategoryInput,
  categoryRefInput,
  createCategoryInput,
  type ListCategoriesInput,
  listCategoriesInput,
  throttleNeedsDigest,
  type UpdateCategoryInput,
  updateCategoryInput,
} from '../domain/notify-inputs.js'
import { assertRole, assertTenantScope, type TenantScope } from '../domain/tenant-scope.js'
import { parseInput } from '../domain/validation.js'
import type { Repositories } from '../ports/unit-of-work.js'
import { auditEntry, audited, type ServiceContext } from './context.js'

type Channels = Readonly<Record<string, CategoryChannel>>

const channelSummary = (channels: Channels) =>
  Object.fromEntries(Object.entries(channels).map(([t, c]) => [t, c.channelKey]))

/** Notification categories (`infra_admin` writes; everyone of the infrastructure reads). */
export class CategoryService {
  constructor(private readonly ctx: ServiceContext) {}

  /** Every channel type must be one this instance knows. */
  private checkTypes(channels: Channels): void {
    const issues: ValidationIssue[] = Object.keys(channels)
      .filter((t) => !this.ctx.channelTypes.has(t))
      .map((t) => ({
        path: `channels.${t}`,
        rule: 'unknown_channel_type',
        message: `unknown channel type ${t}`,
      }))
    if (issues.length > 0) throw new ValidationError(issues)
  }

  /** Every channel named must exist in the infrastructure, with the type it serves. */
  private async checkChannels(
    scope: TenantScope,
    r: Repositories,
    infrastructureId: string,
    channels: Channels,
  ): Promise<void> {
    const issues: ValidationIssue[] = []
    for (const [type, { channelKey }] of Object.entries(channels)) {
      const channel = await r.channels.findByKey(scope, infrastructureId, channelKey)
      const path = `channels.${type}.channelKey`
      if (!channel) issues.push({ path, rule: 'unknown_channel', message: `no channel ${channelKey}` })
      else if (channel.type !== type) {
        issues.push({
          path,
          rule: 'channel_type_mismatch',
          message: `channel ${channelKey} is of type ${channel.type}, not ${type}`,
        })
      }
    }
    if (issues.length > 0) throw new ValidationError(issues)
  }

  /** Creates a category (`infra_admin`); marking it critical is audited on its own as well. */
  async create(scope: TenantScope, raw: CreateCategoryInput): Promise<Category> {
    const input = parseInput(createCategoryInput, raw)
    this.checkTypes(input.channels)
    const target = {
      infrastructureId: input.infrastructureId,
      action: 'category.create',
      targetType: 'category' as const,
      targetId: input.key,
      details: {
        critical: input.critical,
        channels: channelSummary(input.channels),
        throttle: input.throttle,
        digest: input.digest,
      },
    }
    return audited(this.ctx, scope, target, async () => {
      assertTenantScope(scope, input.infrastructureId)
      assertRole(scope, 'category.create', 'infra_admin')
      return this.ctx.uow.run(scope, async (r) => {
        await this.checkChannels(scope, r, input.infrastructureId, input.channels)
        const now = this.ctx.clock.now()
        const category = await r.categories.insert(scope, {
          infrastructureId: input.infrastructureId,
          key: input.key,
          name: input.name,
          description: input.description,
          critical: input.critical,
          channels: input.channels,
          throttle: input.throttle,
          digest: input.digest,
          createdBy: scope.userId,
          createdAt: now,
          updatedAt: now,
        })
        await r.audit.append(scope, auditEntry(this.ctx, scope, target))
        if (category.critical) {
          await r.audit.append(
            scope,
            auditEntry(this.ctx, scope, { ...target, action: 'category.mark_critical' }),
          )
        }
        return category
      })
    })
  }

  /** Changes name, description, critical flag, the channel map or the throttle (`infra_admin`). */
  async update(scope: TenantScope, raw: UpdateCategoryInput): Promise<Category> {
    const input = parseInput(updateCategoryInput, raw)
    if (input.channels !== undefined) this.checkTypes(input.channels)
    const target = {
      infrastructureId: input.infrastructureId,
      action: 'category.update',
      targetType: 'category' as const,
      targetId: input.categoryKey,
      details: {
        fields: (['name', 'description', 'critical', 'channels', 'throttle', 'digest'] as const).filter(
          (f) => input[f] !== undefined,
        ),
        // The new throttle itself: who limited (or freed) a category's reach, and to what.
        ...(input.throttle !== undefined && { throttle: input.throttle }),
        ...(input.digest !== undefined && { digest: input.digest }),
      },
    }
    return audited(this.ctx, scope, target, async () => {
      assertTenantScope(scope, input.infrastructureId)
      assertRole(scope, 'category.update', 'infra_admin')
      return this.ctx.uow.run(scope, async (r) => {
        const current = await r.categories.find(scope, input.infrastructureId, input.categoryKey)
        if (!current) throw new NotFoundError('category', input.categoryKey)
        // The rule of the create input, on the category as it will be: a throttle folding into a digest needs one.
        const throttle = input.throttle === undefined ? current.throttle : input.throttle
        const digest = input.digest === undefined ? current.digest : input.digest
        if (throttle?.onExceed === 'digest' && digest === null) {
          throw ValidationError.single('throttle.onExceed', 'requires_digest', throttleNeedsDigest.message)
        }
        if (input.channels !== undefined) {
          await this.checkChannels(scope, r, input.infrastructureId, input.channels)
        }
        const next = await r.categories.update(scope, input.infrastructureId, input.categoryKey, {
          updatedAt: this.ctx.clock.now(),
          ...(input.name !== undefined && { name: input.name }),
          ...(input.description !== undefined && { description: input.description }),
          ...(input.critical !== undefined && { critical: input.critical }),
          ...(input.channels !== undefined && { channels: input.channels }),
          ...(input.throttle !== undefined && { throttle: input.throttle }),
          ...(input.digest !== undefined && { digest: input.digest }),
        })
        if (!next) throw new NotFoundError('category', input.categoryKey)
        await r.audit.append(scope, auditEntry(this.ctx, scope, target))
        if (next.critical !== current.critical) {
          await r.audit.append(
            scope,
            auditEntry(this.ctx, scope, {
              ...target,
              action: next.critical ? 'category.mark_critical' : 'category.unmark_critical',
              details: { critical: next.critical },
            }),
          )
        }
        return next
      })
    })
  }

  async get(scope: TenantScope, raw: CategoryRefInput): Promise<Category> {
    const input = parseInput(categoryRefInput, raw)
    assertTenantScope(scope, input.infrastructureId)
    const c = await this.ctx.uow.run(scope, (r) =>
      r.categories.find(scope, input.infrastructureId, input.categoryKey),
    )
    if (!c) throw new NotFoundError('category', input.categoryKey)
    return c
  }

  async list(scope: TenantScope, raw: ListCategoriesInput): Promise<Category[]> {
    const input = parseInput(listCategoriesInput, raw)
    assertTenantScope(scope, input.infrastructureId)
    return this.ctx.uow.run(scope, (r) => r.categories.list(scope, input.infrastructureId))
  }
}
