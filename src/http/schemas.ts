import { z } from 'zod'
import type { AuditEntry } from '../domain/audit.js'
import type { Channel } from '../domain/channel.js'
import type { Membership, MembershipView } from '../domain/membership.js'
import { DELIVERY_STATUSES, type OutboxMessage } from '../domain/outbox-message.js'
import type { AckResult, EnqueueResult } from '../domain/services/outbox-service.js'
import { ROLES } from '../domain/tenant-scope.js'

/**
 * Zod schemas of what the handler returns, for the OpenAPI document. Each is declared
 * against its domain type (every key, no extra one), so a field added to the domain
 * without its schema fails to compile.
 */
const shapeOf =
  <T>() =>
  <S extends { [K in keyof T]-?: z.ZodType }>(shape: S & Record<Exclude<keyof S, keyof T>, never>) =>
    z.object(shape)

const uuid = z.uuid()
const dateTime = z.iso.datetime()

export const channelSchema = shapeOf<Channel>()({
  id: uuid,
  infrastructureId: uuid,
  channelKey: z.string(),
  type: z.string(),
  name: z.string(),
  config: z
    .record(z.string(), z.unknown())
    .describe('Provider settings; secret fields read as "[redacted]".'),
  enabled: z.boolean(),
  maxAttempts: z.number().int().nullable(),
  createdBy: uuid,
  createdAt: dateTime,
  updatedAt: dateTime,
})

const membershipShape = {
  infrastructureId: uuid,
  channelId: uuid,
  userId: uuid,
  businessId: uuid.nullable(),
  optedIn: z.boolean(),
  addedBy: uuid,
  createdAt: dateTime,
  updatedAt: dateTime,
}
export const membershipSchema = shapeOf<Membership>()(membershipShape)

export const membershipViewSchema = shapeOf<MembershipView>()({
  ...membershipShape,
  channelKey: z.string(),
  channelType: z.string(),
  channelName: z.string(),
  channelEnabled: z.boolean(),
})

export const outboxMessageSchema = shapeOf<OutboxMessage>()({
  id: uuid,
  infrastructureId: uuid,
  businessId: uuid.nullable(),
  channelId: uuid,
  payload: z.unknown().describe('Any JSON value.'),
  recipients: z.array(z.string()).nullable(),
  idempotencyKey: z.string().nullable(),
  maxAttempts: z.number().int(),
  createdBy: uuid,
  createdAt: dateTime,
  status: z.enum(DELIVERY_STATUSES),
  attempts: z.number().int(),
  availableAt: dateTime,
  leaseToken: uuid.nullable(),
  leasedUntil: dateTime.nullable(),
  lastError: z.string().nullable(),
  settledAt: dateTime.nullable(),
})

export const enqueueResultSchema = shapeOf<EnqueueResult>()({
  message: outboxMessageSchema,
  created: z.boolean().describe('false: the idempotency key was seen before and `message` is the first one.'),
})

export const ackResultSchema = shapeOf<AckResult>()({
  acked: z.boolean().describe('false: the lease token no longer holds the message; nothing changed.'),
  status: z.enum(DELIVERY_STATUSES),
})

export const auditEntrySchema = shapeOf<AuditEntry>()({
  id: uuid,
  infrastructureId: uuid,
  businessId: uuid.nullable(),
  actorId: uuid,
  actorRole: z.enum(ROLES),
  action: z.string(),
  targetType: z.enum(['channel', 'membership', 'message']),
  targetId: z.string().nullable(),
  outcome: z.enum(['ok', 'refused']),
  errorCode: z.string().nullable(),
  details: z.record(z.string(), z.unknown()).nullable(),
  at: dateTime,
})

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    code: z.string().describe('Stable machine-readable code: VALIDATION_FAILED, TENANT_SCOPE_VIOLATION, ...'),
    detail: z.string().optional(),
    instance: z.string().optional(),
    errors: z
      .array(z.object({ path: z.string(), rule: z.string(), message: z.string() }))
      .optional()
      .describe('VALIDATION_FAILED: every broken field (dotted path) and rule.'),
  })
  .catchall(z.unknown())
