import { randomUUID } from 'node:crypto'
import type {
  AuditEntry,
  Channel,
  EnqueueCommand,
  EnqueueOutcome,
  OutboxMessage,
  Principal,
  Repositories,
  Role,
} from '../../src/index.js'
import { TenantScope } from '../../src/index.js'

export const uuid = (): string => randomUUID()

/** A fresh tenant per test: suites share one database, so every test works on its own ids. */
export function tenant() {
  return { infra: uuid(), bizA: uuid(), bizB: uuid() }
}

export function principal(role: Role, grants: Array<[string, string | null]>, userId = uuid()): Principal {
  return {
    userId,
    role,
    grants: grants.map(([infrastructureId, businessId]) => ({ infrastructureId, businessId })),
  }
}

export const scopeOf = (role: Role, grants: Array<[string, string | null]>, userId?: string) =>
  TenantScope.of(principal(role, grants, userId))

export const T0 = new Date('2026-01-01T00:00:00.000Z')
export const at = (ms: number) => new Date(T0.getTime() + ms)

export function channel(infrastructureId: string, over: Partial<Channel> = {}): Channel {
  return {
    id: uuid(),
    infrastructureId,
    channelKey: `ch-${uuid().slice(0, 8)}`,
    type: 'webhook',
    name: 'Ops alerts',
    config: { url: 'https://hooks.example.com/x', secrets: ['whsec_c2VjcmV0c2VjcmV0'], timeoutMs: 5000 },
    enabled: true,
    maxAttempts: null,
    createdBy: uuid(),
    createdAt: T0,
    updatedAt: T0,
    ...over,
  }
}

export function message(
  infrastructureId: string,
  channelId: string,
  over: Partial<OutboxMessage> = {},
): OutboxMessage {
  return {
    id: uuid(),
    infrastructureId,
    businessId: null,
    channelId,
    payload: { text: 'hello', n: 1, nested: { list: [1, 'two', null, true] } },
    recipients: null,
    idempotencyKey: null,
    maxAttempts: 3,
    createdBy: uuid(),
    createdAt: T0,
    status: 'pending',
    attempts: 0,
    availableAt: T0,
    leaseToken: null,
    leasedUntil: null,
    lastError: null,
    settledAt: null,
    notification: null,
    priority: 'normal',
    orderingKey: null,
    traceContext: null,
    ...over,
  }
}

/** A controllable clock for facade tests. */
export class ManualClock {
  constructor(private t: number = T0.getTime()) {}
  now = () => new Date(this.t)
  advance(ms: number) {
    this.t += ms
  }
}

/**
 * The `enqueueMany` command that appends `m` as it is (its own channel, due time, max
 * attempts where the channel sets none), with the audit entry a caller in `scope` writes.
 */
export function enqueueCommand(
  scope: TenantScope,
  m: OutboxMessage,
): EnqueueCommand & { readonly audit: AuditEntry } {
  return {
    message: {
      id: m.id,
      infrastructureId: m.infrastructureId,
      businessId: m.businessId,
      payload: m.payload,
      recipients: m.recipients,
      idempotencyKey: m.idempotencyKey,
      createdBy: m.createdBy,
      createdAt: m.createdAt,
      notification: m.notification,
      traceContext: m.traceContext,
    },
    due: { at: m.availableAt },
    channel: { id: m.channelId },
    defaultMaxAttempts: m.maxAttempts,
    audit: {
      id: uuid(),
      infrastructureId: m.infrastructureId,
      businessId: m.businessId,
      actorId: scope.userId,
      actorRole: scope.role,
      action: 'outbox.enqueue',
      targetType: 'message',
      targetId: m.id,
      outcome: 'ok',
      errorCode: null,
      details: null,
      at: m.createdAt,
    },
  }
}

/** Appends one message through the batch port, inside the caller's unit of work. */
export async function enqueueOne(
  repos: Repositories,
  scope: TenantScope,
  m: OutboxMessage,
): Promise<EnqueueOutcome> {
  const [outcome] = await repos.outbox.enqueueMany(scope, [enqueueCommand(scope, m)])
  return outcome!
}
