import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ConflictError,
  type EnqueueCommand,
  ForbiddenRoleError,
  type MessagingStorage,
  NotFoundError,
  type OutboxMessage,
  type Repositories,
  type TenantScope,
  TenantScopeViolationError,
  ValidationError,
} from '../../src/index.js'
import {
  at,
  channel,
  enqueueCommand,
  enqueueOne,
  message,
  scopeOf,
  T0,
  tenant,
  uuid,
} from '../support/fixtures.js'
import type { StoreClock } from '../support/store-clock.js'

/** How a suite gets a store: a fresh one, or one shared by the file (tests use fresh tenant ids). */
export type StorageFactory = () => Promise<MessagingStorage> | MessagingStorage

/** A store and the clock it resolves its times against, which the suite moves (see store-clock.ts). */
export type ClockedStorageFactory = () =>
  | Promise<{ storage: MessagingStorage; clock: StoreClock }>
  | { storage: MessagingStorage; clock: StoreClock }

/**
 * Every repository behaviour, once, for every storage adapter. It never branches on an
 * adapter's name: a store that passes here keeps the scope, key, lease and idempotency
 * rules the domain relies on.
 */
export function describeRepositoryConformance(name: string, factory: ClockedStorageFactory): void {
  describe(`repository conformance: ${name}`, () => {
    let storage: MessagingStorage
    let clock: StoreClock
    beforeAll(async () => {
      ;({ storage, clock } = await factory())
    })
    afterAll(async () => {
      await storage?.close()
    })
    const run = <T>(scope: TenantScope, work: (r: Repositories) => Promise<T>) =>
      storage.unitOfWork.run(scope, work)
    /** A claim at `now` by the store's clock (the suite sets it first). */
    const claimAt = async (
      scope: TenantScope,
      { now, ...options }: { limit: number; leaseMs: number; now: Date; infrastructureId?: string },
    ) => {
      await clock.set(now)
      return run(scope, (r) => r.outbox.claim(scope, options))
    }

    /** A tenant with one webhook channel, its admin, a worker and a plain member. */
    async function seeded() {
      const t = tenant()
      const admin = scopeOf('infra_admin', [[t.infra, null]])
      const worker = scopeOf('service', [[t.infra, null]])
      const member = scopeOf('member', [[t.infra, null]])
      const ch = channel(t.infra, { createdBy: admin.userId })
      await run(admin, (r) => r.channels.insert(admin, ch))
      return { t, admin, worker, member, ch }
    }

    describe('channels', () => {
      it('stores a channel and reads it back by id, by key and in the list', async () => {
        const { t, admin, member, ch } = await seeded()
        const byId = await run(member, (r) => r.channels.findById(member, t.infra, ch.id))
        expect(byId).toEqual(ch)
        expect(await run(member, (r) => r.channels.findByKey(member, t.infra, ch.channelKey))).toEqual(ch)
        const other = channel(t.infra, {
          channelKey: 'aaa-first',
          type: 'in_app',
          config: { retentionDays: null },
        })
        await run(admin, (r) => r.channels.insert(admin, other))
        const list = await run(member, (r) => r.channels.list(member, { infrastructureId: t.infra }))
        expect(list.map((c) => c.channelKey)).toEqual(['aaa-first', ch.channelKey])
        expect(
          await run(member, (r) => r.channels.list(member, { infrastructureId: t.infra, type: 'in_app' })),
        ).toEqual([other])
        expect(
          await run(member, (r) => r.channels.list(member, { infrastructureId: t.infra, enabled: false })),
        ).toEqual([])
      })

      it('refuses a second channel with the same key in one infrastructure, allows it in another', async () => {
        const { t, admin, ch } = await seeded()
        await expect(
          run(admin, (r) => r.channels.insert(admin, channel(t.infra, { channelKey: ch.channelKey }))),
        ).rejects.toBeInstanceOf(ConflictError)
        const t2 = tenant()
        const admin2 = scopeOf('infra_admin', [[t2.infra, null]])
        const twin = channel(t2.infra, { channelKey: ch.channelKey })
        await expect(run(admin2, (r) => r.channels.insert(admin2, twin))).resolves.toEqual(twin)
      })

      it('refuses a channel written outside the scope or by a role other than infra_admin', async () => {
        const t = tenant()
        const stranger = scopeOf('infra_admin', [[uuid(), null]])
        await expect(
          run(stranger, (r) => r.channels.insert(stranger, channel(t.infra))),
        ).rejects.toBeInstanceOf(TenantScopeViolationError)
        const member = scopeOf('member', [[t.infra, null]])
        await expect(run(member, (r) => r.channels.insert(member, channel(t.infra)))).rejects.toBeInstanceOf(
          ForbiddenRoleError,
        )
        const admin = scopeOf('infra_admin', [[t.infra, null]])
        expect(await run(admin, (r) => r.channels.list(admin, { infrastructureId: t.infra }))).toEqual([])
      })

      it('hides channels of other infrastructures from every read', async () => {
        const { t, ch } = await seeded()
        const outsider = scopeOf('infra_admin', [[uuid(), null]])
        expect(await run(outsider, (r) => r.channels.findById(outsider, t.infra, ch.id))).toBeNull()
        expect(await run(outsider, (r) => r.channels.findByKey(outsider, t.infra, ch.channelKey))).toBeNull()
        expect(await run(outsider, (r) => r.channels.list(outsider, { infrastructureId: t.infra }))).toEqual(
          [],
        )
      })

      it('updates a channel for its infra_admin only, leaving it untouched for anyone else', async () => {
        const { t, admin, member, ch } = await seeded()
        const patch = { enabled: false, name: 'Renamed', updatedAt: at(1000) }
        expect(await run(member, (r) => r.channels.update(member, t.infra, ch.id, patch))).toBeNull()
        const outsider = scopeOf('infra_admin', [[uuid(), null]])
        expect(await run(outsider, (r) => r.channels.update(outsider, t.infra, ch.id, patch))).toBeNull()
        expect(await run(admin, (r) => r.channels.findById(admin, t.infra, ch.id))).toEqual(ch)
        const updated = await run(admin, (r) =>
          r.channels.update(admin, t.infra, ch.id, {
            ...patch,
            config: { url: 'https://x.example/2', secrets: [] },
          }),
        )
        expect(updated).toMatchObject({
          enabled: false,
          name: 'Renamed',
          updatedAt: at(1000),
          channelKey: ch.channelKey,
        })
        expect(updated?.config).toEqual({ url: 'https://x.example/2', secrets: [] })
        expect(await run(admin, (r) => r.channels.update(admin, t.infra, uuid(), patch))).toBeNull()
      })
    })

    describe('memberships', () => {
      const membership = (
        infrastructureId: string,
        channelId: string,
        userId = uuid(),
        businessId: string | null = null,
      ) => ({
        infrastructureId,
        channelId,
        userId,
        businessId,
        optedIn: false,
        addedBy: uuid(),
        createdAt: T0,
        updatedAt: T0,
      })

      it('adds a member once; a repeat is a conflict', async () => {
        const { t, admin, member, ch } = await seeded()
        const m = membership(t.infra, ch.id, member.userId, t.bizA)
        expect(await run(admin, (r) => r.members.insert(admin, m))).toEqual(m)
        await expect(run(admin, (r) => r.members.insert(admin, m))).rejects.toBeInstanceOf(ConflictError)
        expect(await run(member, (r) => r.members.listByChannel(member, t.infra, ch.id))).toEqual([m])
        const key = { infrastructureId: t.infra, channelId: ch.id, userId: member.userId }
        expect(await run(member, (r) => r.members.find(member, key))).toEqual(m)
      })

      it("never links a member to another infrastructure's channel", async () => {
        const a = await seeded()
        const b = await seeded()
        const both = scopeOf('infra_admin', [
          [a.t.infra, null],
          [b.t.infra, null],
        ])
        await expect(
          run(both, (r) => r.members.insert(both, membership(a.t.infra, b.ch.id))),
        ).rejects.toBeInstanceOf(NotFoundError)
        await expect(
          run(a.admin, (r) => r.members.insert(a.admin, membership(b.t.infra, b.ch.id))),
        ).rejects.toBeInstanceOf(TenantScopeViolationError)
        await expect(
          run(a.member, (r) => r.members.insert(a.member, membership(a.t.infra, a.ch.id))),
        ).rejects.toBeInstanceOf(ForbiddenRoleError)
        expect(await run(both, (r) => r.members.listByChannel(both, b.t.infra, b.ch.id))).toEqual([])
      })

      it('lets a member opt itself in, an admin opt anyone, and nobody else', async () => {
        const { t, admin, member, ch } = await seeded()
        const m = membership(t.infra, ch.id, member.userId)
        await run(admin, (r) => r.members.insert(admin, m))
        const key = { infrastructureId: t.infra, channelId: ch.id, userId: member.userId }
        const other = scopeOf('member', [[t.infra, null]])
        expect(await run(other, (r) => r.members.setOptIn(other, key, true, at(1)))).toBeNull()
        const outsider = scopeOf('infra_admin', [[uuid(), null]], member.userId)
        expect(await run(outsider, (r) => r.members.setOptIn(outsider, key, true, at(1)))).toBeNull()
        expect(await run(member, (r) => r.members.find(member, key))).toMatchObject({ optedIn: false })
        expect(await run(member, (r) => r.members.setOptIn(member, key, true, at(2)))).toMatchObject({
          optedIn: true,
          updatedAt: at(2),
        })
        expect(await run(admin, (r) => r.members.setOptIn(admin, key, false, at(3)))).toMatchObject({
          optedIn: false,
        })
        expect(
          await run(member, (r) => r.members.setOptIn(member, { ...key, channelId: uuid() }, true, at(4))),
        ).toBeNull()
      })

      it('removes a member for an admin only, once', async () => {
        const { t, admin, member, ch } = await seeded()
        await run(admin, (r) => r.members.insert(admin, membership(t.infra, ch.id, member.userId)))
        expect(await run(member, (r) => r.members.delete(member, t.infra, ch.id, member.userId))).toBe(false)
        expect(await run(admin, (r) => r.members.delete(admin, t.infra, ch.id, member.userId))).toBe(true)
        expect(await run(admin, (r) => r.members.delete(admin, t.infra, ch.id, member.userId))).toBe(false)
        expect(await run(admin, (r) => r.members.listByChannel(admin, t.infra, ch.id))).toEqual([])
      })

      it('joins channel metadata in the memberships view, within the scope only', async () => {
        const { t, admin, member, ch } = await seeded()
        const second = channel(t.infra, {
          channelKey: 'aaa-inbox',
          type: 'in_app',
          name: 'Inbox',
          config: {},
        })
        await run(admin, (r) => r.channels.insert(admin, second))
        const m1 = membership(t.infra, ch.id, member.userId)
        const m2 = membership(t.infra, second.id, member.userId)
        const m3 = membership(t.infra, second.id)
        for (const m of [m1, m2, m3]) await run(admin, (r) => r.members.insert(admin, m))
        const mine = await run(member, (r) =>
          r.members.listViews(member, { infrastructureId: t.infra, userId: member.userId }),
        )
        expect(mine).toEqual([
          {
            ...m2,
            channelKey: 'aaa-inbox',
            channelType: 'in_app',
            channelName: 'Inbox',
            channelEnabled: true,
          },
          {
            ...m1,
            channelKey: ch.channelKey,
            channelType: 'webhook',
            channelName: ch.name,
            channelEnabled: true,
          },
        ])
        const ofSecond = await run(member, (r) =>
          r.members.listViews(member, { infrastructureId: t.infra, channelId: second.id }),
        )
        expect(ofSecond.map((v) => v.userId).sort()).toEqual([m2.userId, m3.userId].sort())
        const outsider = scopeOf('infra_admin', [[uuid(), null]])
        expect(
          await run(outsider, (r) => r.members.listViews(outsider, { infrastructureId: t.infra })),
        ).toEqual([])
      })
    })

    describe('outbox', () => {
      it('appends a message and reads it back unchanged', async () => {
        const { t, member, ch } = await seeded()
        const m = message(t.infra, ch.id, {
          businessId: t.bizA,
          recipients: ['u1', 'ops@example.com'],
          payload: { text: 'ünïcødé ✓', deep: { a: [1, 2.5, { b: null }] }, empty: {} },
        })
        expect(await run(member, (r) => enqueueOne(r, member, m))).toEqual({ message: m, created: true })
        expect(await run(member, (r) => r.outbox.findById(member, t.infra, m.id))).toEqual(m)
      })

      it('stores the trace context of an enqueue with its message and hands it to the claim', async () => {
        const { t, worker, member, ch } = await seeded()
        const traced = message(t.infra, ch.id, {
          availableAt: at(-1_000),
          traceContext: {
            traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
            tracestate: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE',
          },
        })
        const parentOnly = message(t.infra, ch.id, {
          availableAt: at(-500),
          traceContext: {
            traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00',
            tracestate: null,
          },
        })
        const untraced = message(t.infra, ch.id, { availableAt: at(0) })
        for (const m of [traced, parentOnly, untraced]) {
          expect(await run(member, (r) => enqueueOne(r, member, m))).toEqual({ message: m, created: true })
          expect(await run(member, (r) => r.outbox.findById(member, t.infra, m.id))).toEqual(m)
        }
        const claimed = await claimAt(worker, { limit: 3, leaseMs: 1000, now: T0 })
        expect(claimed.map((c) => c.traceContext)).toEqual([
          traced.traceContext,
          parentOnly.traceContext,
          null,
        ])
      })

      it('refuses a malformed trace context and writes nothing', async () => {
        const { t, member, ch } = await seeded()
        for (const traceContext of [
          { traceparent: 'not-a-traceparent', tracestate: null },
          {
            traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
            tracestate: 'x'.repeat(513),
          },
        ]) {
          const m = message(t.infra, ch.id, { traceContext })
          await expect(run(member, (r) => enqueueOne(r, member, m))).rejects.toMatchObject({
            code: 'VALIDATION_FAILED',
            field: 'items.0.traceContext',
          })
          expect(await run(member, (r) => r.outbox.findById(member, t.infra, m.id))).toBeNull()
        }
      })

      it('returns the first message for a repeated idempotency key and writes nothing else', async () => {
        const { t, member, ch } = await seeded()
        const first = message(t.infra, ch.id, { idempotencyKey: 'order-42' })
        const again = message(t.infra, ch.id, { idempotencyKey: 'order-42', payload: { other: true } })
        await run(member, (r) => enqueueOne(r, member, first))
        expect(await run(member, (r) => enqueueOne(r, member, again))).toEqual({
          message: first,
          created: false,
        })
        expect(await run(member, (r) => r.outbox.findById(member, t.infra, again.id))).toBeNull()
        // Keys are per (infrastructure, business): another business of the tenant has its own.
        const inBiz = message(t.infra, ch.id, { idempotencyKey: 'order-42', businessId: t.bizA })
        expect(await run(member, (r) => enqueueOne(r, member, inBiz))).toMatchObject({ created: true })
        const list = await run(member, (r) => r.outbox.list(member, { infrastructureId: t.infra, limit: 10 }))
        expect(list.map((x) => x.id).sort()).toEqual([first.id, inBiz.id].sort())
      })

      it('keeps concurrent enqueues with one idempotency key to one message', async () => {
        const { t, member, ch } = await seeded()
        const results = await Promise.all(
          Array.from({ length: 8 }, () =>
            run(member, (r) => enqueueOne(r, member, message(t.infra, ch.id, { idempotencyKey: 'burst' }))),
          ),
        )
        expect(results.filter((r) => r.created)).toHaveLength(1)
        expect(new Set(results.map((r) => r.message.id)).size).toBe(1)
      })

      it('refuses messages outside the scope: other infrastructure, other business, infrastructure-level', async () => {
        const { t, ch } = await seeded()
        const bizA = scopeOf('member', [[t.infra, t.bizA]])
        await expect(
          run(bizA, (r) => enqueueOne(r, bizA, message(t.infra, ch.id, { businessId: t.bizB }))),
        ).rejects.toBeInstanceOf(TenantScopeViolationError)
        await expect(run(bizA, (r) => enqueueOne(r, bizA, message(t.infra, ch.id)))).rejects.toBeInstanceOf(
          TenantScopeViolationError,
        )
        const outsider = scopeOf('member', [[uuid(), null]])
        await expect(
          run(outsider, (r) => enqueueOne(r, outsider, message(t.infra, ch.id))),
        ).rejects.toBeInstanceOf(TenantScopeViolationError)
        await expect(
          run(bizA, (r) => enqueueOne(r, bizA, message(t.infra, ch.id, { businessId: t.bizA }))),
        ).resolves.toMatchObject({ created: true })
      })

      /** An enqueueMany command for `m`, its channel by id or key, with its audit entry. */
      const command = (
        scope: TenantScope,
        m: OutboxMessage,
        channelRef: { id: string } | { key: string },
      ): EnqueueCommand => {
        const c = enqueueCommand(scope, { ...m, createdBy: scope.userId })
        return {
          ...c,
          channel: channelRef,
          defaultMaxAttempts: 7,
          audit: { ...c.audit, details: { bytes: 1 }, at: T0 },
        }
      }
      /** The message a command creates: pending, unclaimed, due when it said. */
      const created = (c: EnqueueCommand, channelId: string, maxAttempts: number): OutboxMessage => ({
        ...c.message,
        notification: c.message.notification ?? null,
        priority: c.message.priority ?? 'normal',
        orderingKey: c.message.orderingKey ?? null,
        traceContext: c.message.traceContext ?? null,
        channelId,
        maxAttempts,
        status: 'pending',
        attempts: 0,
        availableAt: 'at' in c.due ? c.due.at : T0,
        leaseToken: null,
        leasedUntil: null,
        lastError: null,
        settledAt: null,
      })

      it('enqueues a batch in order, by channel id or key, idempotent within and across batches, one audit entry per message created', async () => {
        const { t, admin, member, ch } = await seeded()
        const capped = channel(t.infra, { maxAttempts: 2 })
        await run(admin, (r) => r.channels.insert(admin, capped))
        const before = message(t.infra, ch.id, { idempotencyKey: 'k-before' })
        await run(member, (r) => enqueueOne(r, member, { ...before, createdBy: member.userId }))
        const ms = [
          message(t.infra, ch.id, { payload: { n: 0 } }),
          message(t.infra, capped.id, { businessId: t.bizA, idempotencyKey: 'k-dup', payload: { n: 1 } }),
          message(t.infra, ch.id, { idempotencyKey: 'k-before', payload: { n: 2 } }),
          message(t.infra, capped.id, { businessId: t.bizA, idempotencyKey: 'k-dup', payload: { n: 3 } }),
        ]
        const commands = [
          command(member, ms[0]!, { key: ch.channelKey }),
          command(member, ms[1]!, { id: capped.id }),
          command(member, ms[2]!, { id: ch.id }),
          command(member, ms[3]!, { key: capped.channelKey }),
        ]
        // As a facade enqueue runs it: the batch is the unit's only call.
        const out = await run(member, (r) => r.outbox.enqueueMany(member, commands))
        expect(out.map((o) => o.created)).toEqual([true, true, false, false])
        expect(out[0]!.message).toEqual(created(commands[0]!, ch.id, 7))
        expect(out[1]!.message).toEqual(created(commands[1]!, capped.id, 2))
        expect(out[2]!.message.id).toBe(before.id)
        expect(out[3]!.message).toEqual(out[1]!.message)
        for (const o of out) {
          expect(await run(member, (r) => r.outbox.findById(member, t.infra, o.message.id))).toEqual(
            o.message,
          )
        }
        expect(await run(member, (r) => r.outbox.findById(member, t.infra, ms[3]!.id))).toBeNull()
        const audit = await run(admin, (r) =>
          r.audit.list(admin, { infrastructureId: t.infra, action: 'outbox.enqueue', limit: 10 }),
        )
        // The batch's two created messages, and `before` from its own enqueue.
        expect(audit.map((a) => a.targetId).sort()).toEqual([before.id, ms[0]!.id, ms[1]!.id].sort())
        expect(audit.find((a) => a.targetId === ms[1]!.id)).toEqual({
          ...commands[1]!.audit,
          details: { channelId: capped.id, bytes: 1 },
        })
      })

      it('writes nothing of a batch when one channel is missing or disabled', async () => {
        const { t, admin, member, ch } = await seeded()
        const off = channel(t.infra, { enabled: false })
        await run(admin, (r) => r.channels.insert(admin, off))
        const other = await seeded()
        const good = command(member, message(t.infra, ch.id), { id: ch.id })
        const batches: [ReturnType<typeof command>[], string][] = [
          [[good, command(member, message(t.infra, ch.id), { key: 'no-such-channel' })], 'NOT_FOUND'],
          [[good, command(member, message(t.infra, ch.id), { id: other.ch.id })], 'NOT_FOUND'],
          [[good, command(member, message(t.infra, off.id), { id: off.id })], 'CHANNEL_DISABLED'],
        ]
        for (const [batch, code] of batches) {
          await expect(run(member, (r) => r.outbox.enqueueMany(member, batch))).rejects.toMatchObject({
            code,
          })
        }
        expect(
          await run(member, (r) => r.outbox.list(member, { infrastructureId: t.infra, limit: 10 })),
        ).toEqual([])
        expect(
          await run(admin, (r) => r.audit.list(admin, { infrastructureId: t.infra, limit: 10 })),
        ).toEqual([])
      })

      it("refuses a message aimed at another infrastructure's channel", async () => {
        const a = await seeded()
        const b = await seeded()
        const both = scopeOf('member', [
          [a.t.infra, null],
          [b.t.infra, null],
        ])
        await expect(
          run(both, (r) => enqueueOne(r, both, message(a.t.infra, b.ch.id))),
        ).rejects.toBeInstanceOf(NotFoundError)
        expect(
          await run(both, (r) => r.outbox.list(both, { infrastructureId: a.t.infra, limit: 10 })),
        ).toEqual([])
      })

      it('shows a business-scoped principal only its business, and lists in pages', async () => {
        const { t, member, ch } = await seeded()
        const msgs = [
          message(t.infra, ch.id, { businessId: t.bizA, createdAt: at(1) }),
          message(t.infra, ch.id, { businessId: t.bizB, createdAt: at(2) }),
          message(t.infra, ch.id, { businessId: null, createdAt: at(3) }),
          message(t.infra, ch.id, { businessId: t.bizA, createdAt: at(4) }),
          message(t.infra, ch.id, { businessId: t.bizA, createdAt: at(5) }),
        ]
        for (const m of msgs) await run(member, (r) => enqueueOne(r, member, m))
        const bizA = scopeOf('member', [[t.infra, t.bizA]])
        const seen = await run(bizA, (r) => r.outbox.list(bizA, { infrastructureId: t.infra, limit: 100 }))
        expect(seen.map((m) => m.id)).toEqual([msgs[0]!.id, msgs[3]!.id, msgs[4]!.id])
        expect(await run(bizA, (r) => r.outbox.findById(bizA, t.infra, msgs[1]!.id))).toBeNull()
        expect(await run(bizA, (r) => r.outbox.findById(bizA, t.infra, msgs[2]!.id))).toBeNull()
        const page1 = await run(member, (r) => r.outbox.list(member, { infrastructureId: t.infra, limit: 2 }))
        expect(page1.map((m) => m.id)).toEqual([msgs[0]!.id, msgs[1]!.id])
        const page2 = await run(member, (r) =>
          r.outbox.list(member, { infrastructureId: t.infra, limit: 2, after: page1[1]!.id }),
        )
        expect(page2.map((m) => m.id)).toEqual([msgs[2]!.id, msgs[3]!.id])
        const infraOnly = await run(member, (r) =>
          r.outbox.list(member, { infrastructureId: t.infra, limit: 10, businessId: null }),
        )
        expect(infraOnly.map((m) => m.id)).toEqual([msgs[2]!.id])
        const pending = await run(member, (r) =>
          r.outbox.list(member, { infrastructureId: t.infra, limit: 10, status: 'processed' }),
        )
        expect(pending).toEqual([])
      })

      it('claims due messages oldest first, leasing each, for the service role in scope only', async () => {
        const { t, worker, member, ch } = await seeded()
        const late = message(t.infra, ch.id, { availableAt: at(5_000) })
        const m1 = message(t.infra, ch.id, { availableAt: at(-2_000) })
        const m2 = message(t.infra, ch.id, { availableAt: at(-1_000) })
        const m3 = message(t.infra, ch.id, { availableAt: at(0) })
        for (const m of [late, m3, m1, m2]) await run(member, (r) => enqueueOne(r, member, m))
        expect(await claimAt(member, { limit: 10, leaseMs: 1000, now: T0 })).toEqual([])
        const outsider = scopeOf('service', [[uuid(), null]])
        expect(await claimAt(outsider, { limit: 10, leaseMs: 1000, now: T0 })).toEqual([])
        const first = await claimAt(worker, { limit: 2, leaseMs: 1000, now: T0 })
        expect(first.map((m) => m.id)).toEqual([m1.id, m2.id])
        for (const c of first) {
          expect(c).toMatchObject({
            status: 'processing',
            attempts: 1,
            leasedUntil: at(1000),
            payload: m1.payload,
          })
          expect(c.leaseToken).toMatch(/^[0-9a-f-]{36}$/)
        }
        expect(first[0]!.leaseToken).not.toEqual(first[1]!.leaseToken)
        const second = await claimAt(worker, { limit: 10, leaseMs: 1000, now: T0 })
        expect(second.map((m) => m.id)).toEqual([m3.id])
        expect(await run(worker, (r) => r.outbox.findById(worker, t.infra, late.id))).toMatchObject({
          status: 'pending',
        })
      })

      it('claims only the business a business-scoped worker holds, and only one infrastructure when asked', async () => {
        const { t, member, ch } = await seeded()
        const other = await seeded()
        const a = message(t.infra, ch.id, { businessId: t.bizA })
        const b = message(t.infra, ch.id, { businessId: t.bizB })
        await run(member, (r) => enqueueOne(r, member, a))
        await run(member, (r) => enqueueOne(r, member, b))
        await run(other.member, (r) => enqueueOne(r, other.member, message(other.t.infra, other.ch.id)))
        const bizWorker = scopeOf('service', [[t.infra, t.bizA]])
        const got = await claimAt(bizWorker, { limit: 10, leaseMs: 1000, now: T0 })
        expect(got.map((m) => m.id)).toEqual([a.id])
        const fleet = scopeOf('service', [
          [t.infra, null],
          [other.t.infra, null],
        ])
        const only = await claimAt(fleet, {
          limit: 10,
          leaseMs: 1000,
          now: T0,
          infrastructureId: other.t.infra,
        })
        expect(only.map((m) => m.infrastructureId)).toEqual([other.t.infra])
      })

      it('fills a claim from a tenant with a long backlog when the others run short, oldest first', async () => {
        const [a, b, c] = [await seeded(), await seeded(), await seeded()]
        const one = message(a.t.infra, a.ch.id, { availableAt: at(-3_000) })
        const two = message(b.t.infra, b.ch.id, { availableAt: at(-2_000) })
        const long = Array.from({ length: 20 }, (_, i) =>
          message(c.t.infra, c.ch.id, { availableAt: at(-1_000 + i) }),
        )
        await run(a.member, (r) => enqueueOne(r, a.member, one))
        await run(b.member, (r) => enqueueOne(r, b.member, two))
        for (const m of long) await run(c.member, (r) => enqueueOne(r, c.member, m))
        const worker = scopeOf('service', [
          [a.t.infra, null],
          [b.t.infra, null],
          [c.t.infra, null],
        ])
        // A claim of 10 over three tenants: one each, then the long backlog fills the rest.
        const got = await claimAt(worker, { limit: 10, leaseMs: 1000, now: T0 })
        expect(got).toHaveLength(10)
        expect(
          got
            .slice(0, 3)
            .map((m) => m.infrastructureId)
            .sort(),
        ).toEqual([a.t.infra, b.t.infra, c.t.infra].sort())
        expect(got.filter((m) => m.infrastructureId === c.t.infra).map((m) => m.id)).toEqual(
          long.slice(0, 8).map((m) => m.id),
        )
        const rest = await claimAt(worker, { limit: 100, leaseMs: 1000, now: T0 })
        expect(rest.map((m) => m.id)).toEqual(long.slice(8).map((m) => m.id))
      })

      it('never hands one message to two concurrent claimers', async () => {
        const { t, worker, member, ch } = await seeded()
        const ids = new Set<string>()
        for (let i = 0; i < 30; i++) {
          const m = message(t.infra, ch.id, { availableAt: at(-i) })
          ids.add(m.id)
          await run(member, (r) => enqueueOne(r, member, m))
        }
        const batches = await Promise.all(
          Array.from({ length: 6 }, () => claimAt(worker, { limit: 7, leaseMs: 60_000, now: T0 })),
        )
        const claimed = batches.flat().map((m) => m.id)
        expect(new Set(claimed).size).toBe(claimed.length)
        expect(claimed.length).toBe(30)
        expect(new Set(claimed)).toEqual(ids)
      })

      it('claims a message again once its lease lapses, with a new token, and not before', async () => {
        const { t, worker, member, ch } = await seeded()
        const m = message(t.infra, ch.id)
        await run(member, (r) => enqueueOne(r, member, m))
        const [first] = await claimAt(worker, { limit: 1, leaseMs: 1000, now: T0 })
        expect(await claimAt(worker, { limit: 1, leaseMs: 1000, now: at(999) })).toEqual([])
        const [second] = await claimAt(worker, { limit: 1, leaseMs: 1000, now: at(1000) })
        expect(second).toMatchObject({ id: m.id, attempts: 2, leasedUntil: at(2000) })
        expect(second!.leaseToken).not.toEqual(first!.leaseToken)
      })

      it('settles a held message under its lease token only; a stale or repeated ack changes nothing', async () => {
        const { t, worker, member, ch } = await seeded()
        const m = message(t.infra, ch.id)
        const bystander = message(t.infra, ch.id, { availableAt: at(10) })
        await run(member, (r) => enqueueOne(r, member, m))
        await run(member, (r) => enqueueOne(r, member, bystander))
        const [held] = await claimAt(worker, { limit: 1, leaseMs: 1000, now: T0 })
        // Settled 5 ms later by the store's clock: that is the time it stamps.
        await clock.set(at(5))
        const done = { status: 'processed' as const, lastError: null }
        const cmd = { infrastructureId: t.infra, id: m.id, leaseToken: held!.leaseToken, settlement: done }
        expect(await run(worker, (r) => r.outbox.settle(worker, { ...cmd, leaseToken: uuid() }))).toBe(false)
        expect(await run(member, (r) => r.outbox.settle(member, cmd))).toBe(false)
        const outsider = scopeOf('service', [[uuid(), null]])
        expect(await run(outsider, (r) => r.outbox.settle(outsider, cmd))).toBe(false)
        expect(await run(worker, (r) => r.outbox.findById(worker, t.infra, m.id))).toMatchObject({
          status: 'processing',
        })
        expect(await run(worker, (r) => r.outbox.settle(worker, cmd))).toBe(true)
        expect(await run(worker, (r) => r.outbox.settle(worker, cmd))).toBe(false)
        expect(await run(worker, (r) => r.outbox.findById(worker, t.infra, m.id))).toMatchObject({
          status: 'processed',
          settledAt: at(5),
          leaseToken: null,
          leasedUntil: null,
          payload: m.payload,
        })
        expect(await run(worker, (r) => r.outbox.findById(worker, t.infra, bystander.id))).toEqual(bystander)
      })

      it('refuses the ack of a lease that lapsed and was claimed by another worker', async () => {
        const { t, worker, member, ch } = await seeded()
        const m = message(t.infra, ch.id)
        await run(member, (r) => enqueueOne(r, member, m))
        const [old] = await claimAt(worker, { limit: 1, leaseMs: 1000, now: T0 })
        const [fresh] = await claimAt(worker, { limit: 1, leaseMs: 1000, now: at(1500) })
        const done = { status: 'processed' as const, lastError: null }
        const base = { infrastructureId: t.infra, id: m.id, settlement: done }
        expect(
          await run(worker, (r) => r.outbox.settle(worker, { ...base, leaseToken: old!.leaseToken })),
        ).toBe(false)
        expect(
          await run(worker, (r) => r.outbox.settle(worker, { ...base, leaseToken: fresh!.leaseToken })),
        ).toBe(true)
      })

      it('returns a retried message to pending, due at its retry time, with its last error kept', async () => {
        const { t, worker, member, ch } = await seeded()
        const m = message(t.infra, ch.id)
        await run(member, (r) => enqueueOne(r, member, m))
        const [held] = await claimAt(worker, { limit: 1, leaseMs: 1000, now: T0 })
        const retry = { status: 'pending' as const, lastError: 'HTTP 503', retryAfterMs: 30_000 }
        expect(
          await run(worker, (r) =>
            r.outbox.settle(worker, {
              infrastructureId: t.infra,
              id: m.id,
              leaseToken: held!.leaseToken,
              settlement: retry,
            }),
          ),
        ).toBe(true)
        expect(await run(worker, (r) => r.outbox.findById(worker, t.infra, m.id))).toMatchObject({
          status: 'pending',
          attempts: 1,
          lastError: 'HTTP 503',
          availableAt: at(30_000),
          leaseToken: null,
        })
        expect(await claimAt(worker, { limit: 1, leaseMs: 1000, now: at(29_999) })).toEqual([])
        const [again] = await claimAt(worker, { limit: 1, leaseMs: 1000, now: at(30_000) })
        expect(again).toMatchObject({ id: m.id, attempts: 2 })
      })

      it("resolves relative times against the store's clock: due after a delay, a lease renewed and released from its now", async () => {
        const { t, worker, member, ch } = await seeded()
        await clock.set(T0)
        const c = { ...enqueueCommand(member, message(t.infra, ch.id)), due: { afterMs: 5_000 } }
        const [enqueued] = await run(member, (r) => r.outbox.enqueueMany(member, [c]))
        const m = enqueued!.message
        expect(m.availableAt).toEqual(at(5_000))
        expect(await claimAt(worker, { limit: 1, leaseMs: 1000, now: at(4_999) })).toEqual([])
        const [held] = await claimAt(worker, { limit: 1, leaseMs: 1000, now: at(5_000) })
        expect(held).toMatchObject({ id: m.id, leasedUntil: at(6_000) })
        // Renewed at 5.5 s for 1 s: held until 6.5 s, so a claim at 6.2 s finds nothing.
        await clock.set(at(5_500))
        const lease = { infrastructureId: t.infra, id: m.id, leaseToken: held!.leaseToken }
        expect(await run(worker, (r) => r.outbox.renew(worker, { ...lease, leaseMs: 1000 }))).toBe(true)
        expect(await run(worker, (r) => r.outbox.findById(worker, t.infra, m.id))).toMatchObject({
          leasedUntil: at(6_500),
        })
        expect(await claimAt(worker, { limit: 1, leaseMs: 1000, now: at(6_200) })).toEqual([])
        // Released at 6.2 s for 2 s: pending, its attempt given back, due at 8.2 s.
        expect(await run(worker, (r) => r.outbox.release(worker, { ...lease, delayMs: 2_000 }))).toBe(true)
        expect(await run(worker, (r) => r.outbox.findById(worker, t.infra, m.id))).toMatchObject({
          status: 'pending',
          attempts: 0,
          availableAt: at(8_200),
          leaseToken: null,
        })
        expect(await claimAt(worker, { limit: 1, leaseMs: 1000, now: at(8_199) })).toEqual([])
        expect(await claimAt(worker, { limit: 1, leaseMs: 1000, now: at(8_200) })).toMatchObject([
          { id: m.id, attempts: 1 },
        ])
      })

      it("stamps a final settle, redrives a dead message due at the store's now, and counts queue ages by its clock", async () => {
        const { t, admin, worker, member, ch } = await seeded()
        const due = message(t.infra, ch.id, { availableAt: at(-4_000) })
        const later = message(t.infra, ch.id, { availableAt: at(60_000) })
        const doomed = message(t.infra, ch.id, { availableAt: at(-10_000) })
        for (const m of [due, later, doomed]) await run(member, (r) => enqueueOne(r, member, m))
        const [held] = await claimAt(worker, { limit: 1, leaseMs: 1000, now: T0 })
        expect(held!.id).toBe(doomed.id)
        await clock.set(at(1_000))
        const dead = { status: 'dead' as const, lastError: 'gone' }
        const lease = { infrastructureId: t.infra, id: doomed.id, leaseToken: held!.leaseToken }
        expect(await run(worker, (r) => r.outbox.settle(worker, { ...lease, settlement: dead }))).toBe(true)
        expect(await run(worker, (r) => r.outbox.findById(worker, t.infra, doomed.id))).toMatchObject({
          status: 'dead',
          settledAt: at(1_000),
          availableAt: at(-10_000),
        })
        const stats = (scope: TenantScope) =>
          run(scope, (r) => r.outbox.stats(scope, { infrastructureId: t.infra }))
        // The oldest due pending message (due at -4 s) is 5 s old at 1 s; the one due at 60 s is not due.
        expect(await stats(admin)).toEqual([
          {
            infrastructureId: t.infra,
            channelId: ch.id,
            pending: 2,
            inFlight: 0,
            processed: 0,
            failed: 0,
            dead: 1,
            cancelled: 0,
            confirmed: 0,
            bounced: 0,
            oldestPendingAgeMs: 5_000,
          },
        ])
        await clock.set(at(2_000))
        expect(
          await run(admin, (r) => r.outbox.redrive(admin, { infrastructureId: t.infra, id: doomed.id })),
        ).toMatchObject({
          status: 'pending',
          attempts: 0,
          availableAt: at(2_000),
          settledAt: null,
          lastError: 'gone',
        })
        expect(await stats(admin)).toMatchObject([{ pending: 3, dead: 0, oldestPendingAgeMs: 6_000 }])
      })

      it('settles whatever texts a receiver sent: U+0000, lone surrogates and overlong texts are cleaned, never fatal', async () => {
        const { t, admin, worker, member, ch } = await seeded()
        const ms = [message(t.infra, ch.id), message(t.infra, ch.id)]
        for (const m of ms) await run(member, (r) => enqueueOne(r, member, m))
        const held = await claimAt(worker, { limit: 2, leaseMs: 1000, now: T0 })
        const hostile = `gz\u0000body \ud800x \udc00 ${'z'.repeat(5_000)}`
        const attempt = (h: (typeof held)[number]) => ({
          id: uuid(),
          infrastructureId: t.infra,
          messageId: h.id,
          attempt: 1,
          workerId: uuid(),
          workerHost: null,
          startedAt: T0,
          finishedAt: T0,
          durationMs: 0,
          outcome: 'permanent' as const,
          errorCode: `http_500\u0000${'c'.repeat(200)}`,
          error: hostile,
          providerMessageId: `id\u0000${'p'.repeat(600)}`,
        })
        const failed = { status: 'failed' as const, lastError: hostile }
        // One through the batch, one alone: both paths keep the same texts.
        expect(
          await run(worker, (r) =>
            r.outbox.completeMany(worker, [
              {
                settle: {
                  infrastructureId: t.infra,
                  id: held[0]!.id,
                  leaseToken: held[0]!.leaseToken,
                  settlement: failed,
                },
                attempt: attempt(held[0]!),
              },
            ]),
          ),
        ).toEqual([true])
        expect(
          await run(worker, (r) =>
            r.outbox.settle(worker, {
              infrastructureId: t.infra,
              id: held[1]!.id,
              leaseToken: held[1]!.leaseToken,
              settlement: failed,
            }),
          ),
        ).toBe(true)
        const clean = (text: string | null) => {
          expect(text).not.toBeNull()
          expect(text).not.toContain('\u0000')
          // No surrogate at all: the hostile text held only lone ones.
          expect(/[\ud800-\udfff]/.test(text!)).toBe(false)
        }
        for (const m of ms) {
          const stored = await run(admin, (r) => r.outbox.findById(admin, t.infra, m.id))
          expect(stored).toMatchObject({ status: 'failed', leaseToken: null })
          clean(stored!.lastError)
          expect(stored!.lastError!.startsWith('gz\ufffdbody \ufffdx \ufffd zzz')).toBe(true)
          expect(stored!.lastError!.length).toBe(4_000)
        }
        const [a] = await run(admin, (r) => r.outbox.listAttempts(admin, t.infra, held[0]!.id))
        for (const text of [a!.error, a!.errorCode, a!.providerMessageId]) clean(text)
        expect([a!.error!.length, a!.errorCode!.length, a!.providerMessageId!.length]).toEqual([
          4_000, 100, 500,
        ])
      })
    })

    describe('retaining a held message for a broker', () => {
      it('extends a held lease from the store clock and records the attempt; a stale token or a non-service role changes nothing', async () => {
        const { t, admin, worker, member, ch } = await seeded()
        const m = message(t.infra, ch.id)
        await run(member, (r) => enqueueOne(r, member, m))
        const [held] = await claimAt(worker, { limit: 1, leaseMs: 1000, now: T0 })
        const attempt = {
          id: uuid(),
          infrastructureId: t.infra,
          messageId: held!.id,
          attempt: 1,
          workerId: uuid(),
          workerHost: null,
          startedAt: T0,
          finishedAt: T0,
          durationMs: 0,
          outcome: 'retryable' as const,
          errorCode: 'nak',
          error: 'broker retry\u0000',
          providerMessageId: null,
        }
        const lease = (leaseToken: string) => ({
          infrastructureId: t.infra,
          id: held!.id,
          leaseToken,
          leaseMs: 60_000,
        })
        expect(
          await run(worker, (r) =>
            r.outbox.retainMany(worker, [
              { lease: lease(held!.leaseToken), attempt },
              { lease: lease(uuid()), attempt: { ...attempt, id: uuid() } },
            ]),
          ),
        ).toEqual([true, false])
        expect(
          await run(member, (r) =>
            r.outbox.retainMany(member, [
              { lease: lease(held!.leaseToken), attempt: { ...attempt, id: uuid() } },
            ]),
          ),
        ).toEqual([false])
        const stored = await run(admin, (r) => r.outbox.findById(admin, t.infra, m.id))
        expect(stored).toMatchObject({ status: 'processing', leaseToken: held!.leaseToken })
        expect(stored!.leasedUntil!.getTime()).toBeGreaterThanOrEqual(T0.getTime() + 60_000)
        const attempts = await run(admin, (r) => r.outbox.listAttempts(admin, t.infra, m.id))
        expect(attempts).toHaveLength(1)
        expect(attempts[0]).toMatchObject({ id: attempt.id, outcome: 'retryable', errorCode: 'nak' })
        expect(attempts[0]!.error).not.toContain('\u0000')
      })
    })

    describe('unit of work and audit log', () => {
      it('rolls back every write of a unit of work that throws', async () => {
        const { t, admin, member, ch } = await seeded()
        const extra = channel(t.infra)
        const m = message(t.infra, ch.id)
        await expect(
          run(admin, async (r) => {
            await r.channels.insert(admin, extra)
            await enqueueOne(r, admin, m)
            await r.channels.update(admin, t.infra, ch.id, { enabled: false, updatedAt: at(1) })
            throw new Error('boom')
          }),
        ).rejects.toThrow('boom')
        expect(await run(member, (r) => r.channels.findById(member, t.infra, extra.id))).toBeNull()
        expect(await run(member, (r) => r.outbox.findById(member, t.infra, m.id))).toBeNull()
        expect(await run(member, (r) => r.channels.findById(member, t.infra, ch.id))).toEqual(ch)
      })

      it('appends audit entries of the caller and lists them newest first, to admins and workers in scope', async () => {
        const { t, admin, worker, member } = await seeded()
        const entry = (action: string, ms: number) => ({
          id: uuid(),
          infrastructureId: t.infra,
          businessId: null,
          actorId: member.userId,
          actorRole: member.role,
          action,
          targetType: 'message' as const,
          targetId: uuid(),
          outcome: 'ok' as const,
          errorCode: null,
          details: { bytes: 12, nested: { ok: true } },
          at: at(ms),
        })
        const e1 = entry('outbox.enqueue', 1)
        const e2 = entry('channel.create', 2)
        const e3 = { ...entry('outbox.enqueue', 3), outcome: 'refused' as const, errorCode: 'FORBIDDEN_ROLE' }
        for (const e of [e1, e2, e3]) await run(member, (r) => r.audit.append(member, e))
        await expect(
          run(member, (r) => r.audit.append(member, { ...entry('x', 4), actorId: uuid() })),
        ).rejects.toBeInstanceOf(ValidationError)
        expect(
          await run(admin, (r) => r.audit.list(admin, { infrastructureId: t.infra, limit: 10 })),
        ).toEqual([e3, e2, e1])
        expect(
          await run(worker, (r) =>
            r.audit.list(worker, { infrastructureId: t.infra, limit: 10, action: 'outbox.enqueue' }),
          ),
        ).toEqual([e3, e1])
        expect(await run(admin, (r) => r.audit.list(admin, { infrastructureId: t.infra, limit: 1 }))).toEqual(
          [e3],
        )
        expect(
          await run(member, (r) => r.audit.list(member, { infrastructureId: t.infra, limit: 10 })),
        ).toEqual([])
        const outsider = scopeOf('infra_admin', [[uuid(), null]])
        expect(
          await run(outsider, (r) => r.audit.list(outsider, { infrastructureId: t.infra, limit: 10 })),
        ).toEqual([])
      })

      it("appends a batch of entries across the caller's tenants at once, and nothing of a batch with one it may not write", async () => {
        const [a, b] = [await seeded(), await seeded()]
        const worker = scopeOf('service', [
          [a.t.infra, null],
          [b.t.infra, null],
        ])
        const entry = (infrastructureId: string, ms: number) => ({
          id: uuid(),
          infrastructureId,
          businessId: null,
          actorId: worker.userId,
          actorRole: worker.role,
          action: 'outbox.ack',
          targetType: 'message' as const,
          targetId: null,
          outcome: 'ok' as const,
          errorCode: null,
          details: { messages: [{ id: uuid(), attempt: 1, status: 'processed' }] },
          at: at(ms),
        })
        const [ea1, eb, ea2] = [entry(a.t.infra, 1), entry(b.t.infra, 2), entry(a.t.infra, 3)]
        await run(worker, (r) => r.audit.appendMany(worker, [ea1, eb, ea2]))
        await run(worker, (r) => r.audit.appendMany(worker, []))
        const list = (adm: TenantScope, infra: string) =>
          run(adm, (r) => r.audit.list(adm, { infrastructureId: infra, limit: 10 }))
        expect(await list(a.admin, a.t.infra)).toEqual([ea2, ea1])
        expect(await list(b.admin, b.t.infra)).toEqual([eb])
        // One entry outside the caller's tenants, or naming someone else: the batch is refused whole.
        const outside = entry(uuid(), 4)
        await expect(
          run(worker, (r) => r.audit.appendMany(worker, [entry(a.t.infra, 5), outside])),
        ).rejects.toBeInstanceOf(TenantScopeViolationError)
        await expect(
          run(worker, (r) =>
            r.audit.appendMany(worker, [entry(b.t.infra, 6), { ...entry(b.t.infra, 7), actorId: uuid() }]),
          ),
        ).rejects.toBeInstanceOf(ValidationError)
        expect(await list(a.admin, a.t.infra)).toEqual([ea2, ea1])
        expect(await list(b.admin, b.t.infra)).toEqual([eb])
      })
    })
  })
}
