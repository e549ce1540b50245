import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type BreakerPolicy, CLOSED_BREAKER } from '../../src/domain/breaker.js'
import {
  type BreakerKey,
  createMessaging,
  ForbiddenRoleError,
  type Messaging,
  type MessagingStorage,
  type Repositories,
  TenantScope,
  TenantScopeViolationError,
} from '../../src/index.js'
import { at, principal, scopeOf, T0, tenant, uuid } from '../support/fixtures.js'
import type { StoreClock } from '../support/store-clock.js'
import type { ClockedStorageFactory } from './repository-conformance.js'

const POLICY: BreakerPolicy = { failures: 3, windowMs: 10_000, coolDownMs: 5000 }

/**
 * Per-channel circuit breakers, shared by every worker of a store, on every store: failures
 * within the window open it, an open breaker holds deliveries for the cool-down, then one
 * probe goes at a time; its success closes it, its failure opens it again. Each opening and
 * closing is audited; tenants are kept apart by the store. Times are the store's clock.
 */
export function describeBreakerConformance(name: string, factory: ClockedStorageFactory): void {
  describe(`breaker conformance: ${name}`, () => {
    let storage: MessagingStorage
    let clock: StoreClock
    let messaging: Messaging
    beforeAll(async () => {
      ;({ storage, clock } = await factory())
      messaging = createMessaging({ storage })
    })
    afterAll(async () => {
      await storage?.close()
    })

    /** A tenant's worker port (its service principal) and a channel of it. */
    function breaker() {
      const t = tenant()
      const service = principal('service', [[t.infra, null]])
      const port = messaging.deliveryPort({ principal: service })
      const key: BreakerKey = { infrastructureId: t.infra, channelId: uuid() }
      const admin = principal('infra_admin', [[t.infra, null]])
      const fail = (k = key) => port.recordBreaker(k, POLICY, 'failure')
      const succeed = (k = key) => port.recordBreaker(k, POLICY, 'success')
      const admit = (k = key) => port.admitBreaker(k, POLICY)
      const audit = async () =>
        (await messaging.listAudit(admin, { infrastructureId: t.infra }))
          .filter((e) => e.action.startsWith('channel.breaker'))
          .reverse()
      return { t, service, port, key, admin, fail, succeed, admit, audit }
    }

    it('opens after the failures of one window, holds deliveries for the cool-down, and audits it', async () => {
      const b = breaker()
      await clock.set(at(0))
      expect(await b.admit()).toEqual({ decision: 'go', clean: true })
      expect(await b.fail()).toBeNull()
      await clock.set(at(1000))
      expect(await b.fail()).toBeNull()
      expect(await b.admit()).toEqual({ decision: 'go', clean: false })
      await clock.set(at(2000))
      const opened = await b.fail()
      expect(opened).toMatchObject({ transition: 'opened', at: at(2000).getTime() })
      expect(opened!.state).toMatchObject({ status: 'open', failures: 3, retryAt: at(7000).getTime() })
      await clock.set(at(3000))
      expect(await b.admit()).toEqual({ decision: 'wait', waitMs: 4000 })
      // An attempt that went before it opened and fails now changes nothing.
      expect(await b.fail()).toBeNull()
      const trail = await b.audit()
      expect(trail).toHaveLength(1)
      expect(trail[0]).toMatchObject({
        action: 'channel.breaker_open',
        targetType: 'channel',
        targetId: b.key.channelId,
        actorId: b.service.userId,
        details: { status: 'open', reopened: false, failures: 3, retryAt: at(7000).toISOString() },
      })
      expect(await messaging.listBreakers(b.admin, { infrastructureId: b.t.infra })).toEqual([
        {
          infrastructureId: b.t.infra,
          channelId: b.key.channelId,
          status: 'open',
          failures: 3,
          openedAt: at(2000),
          retryAt: at(7000),
        },
      ])
    })

    it('counts failures only within the window, and a success starts the count again', async () => {
      const b = breaker()
      await clock.set(at(0))
      await b.fail()
      await b.fail()
      // Past the window: the run starts again at this failure.
      await clock.set(at(10_001))
      expect(await b.fail()).toBeNull()
      expect(await b.fail()).toBeNull()
      expect(await b.succeed()).toBeNull()
      expect(await b.fail()).toBeNull()
      expect(await b.fail()).toBeNull()
      expect(await b.admit()).toMatchObject({ decision: 'go' })
      expect(await b.fail()).toMatchObject({ transition: 'opened' })
    })

    it('lets one probe through after the cool-down: its failure re-opens, its success closes', async () => {
      const b = breaker()
      await clock.set(at(0))
      for (let i = 0; i < 3; i++) await b.fail()
      await clock.set(at(5000))
      // Many workers ask at once: one becomes the probe, the others wait for it.
      const gates = await Promise.all(Array.from({ length: 8 }, () => b.admit()))
      expect(gates.filter((g) => g.decision === 'probe')).toHaveLength(1)
      for (const g of gates.filter((g) => g.decision !== 'probe'))
        expect(g).toEqual({ decision: 'wait', waitMs: 1000 })
      const reopened = await b.fail()
      expect(reopened).toMatchObject({ transition: 'reopened' })
      expect(reopened!.state.retryAt).toBe(at(10_000).getTime())
      await clock.set(at(9999))
      expect(await b.admit()).toEqual({ decision: 'wait', waitMs: 1 })
      await clock.set(at(10_000))
      expect(await b.admit()).toEqual({ decision: 'probe' })
      expect(await b.succeed()).toMatchObject({ transition: 'closed', state: { status: 'closed' } })
      expect(await b.admit()).toEqual({ decision: 'go', clean: true })
      // A success on a clean breaker writes nothing and reports nothing.
      expect(await b.succeed()).toBeNull()
      expect((await b.audit()).map((e) => [e.action, e.details?.status])).toEqual([
        ['channel.breaker_open', 'open'],
        ['channel.breaker_open', 'open'],
        ['channel.breaker_close', 'closed'],
      ])
      expect(await messaging.listBreakers(b.admin, { infrastructureId: b.t.infra })).toEqual([])
    })

    it('frees the way for the next probe when the last one never reported (its worker died)', async () => {
      const b = breaker()
      await clock.set(at(0))
      for (let i = 0; i < 3; i++) await b.fail()
      await clock.set(at(5000))
      expect(await b.admit()).toEqual({ decision: 'probe' })
      await clock.set(at(9999))
      expect(await b.admit()).toEqual({ decision: 'wait', waitMs: 1 })
      const [view] = await messaging.listBreakers(b.admin, { infrastructureId: b.t.infra })
      expect(view).toMatchObject({ status: 'half_open', retryAt: at(10_000) })
      await clock.set(at(10_000))
      expect(await b.admit()).toEqual({ decision: 'probe' })
    })

    it('keeps channels and tenants apart, and refuses a scope that does not reach the tenant', async () => {
      const victim = breaker()
      const outsider = breaker()
      await clock.set(at(0))
      for (let i = 0; i < 3; i++) await victim.fail()
      const sibling = { infrastructureId: victim.t.infra, channelId: uuid() }
      expect(await victim.admit(sibling)).toMatchObject({ decision: 'go' })
      expect(await outsider.admit()).toMatchObject({ decision: 'go' })
      // Another tenant's worker can neither read, trip nor close the victim's breaker.
      await expect(outsider.port.admitBreaker(victim.key, POLICY)).rejects.toBeInstanceOf(
        TenantScopeViolationError,
      )
      await expect(outsider.port.recordBreaker(victim.key, POLICY, 'success')).rejects.toBeInstanceOf(
        TenantScopeViolationError,
      )
      await expect(
        messaging.listBreakers(outsider.admin, { infrastructureId: victim.t.infra }),
      ).rejects.toBeInstanceOf(TenantScopeViolationError)
      // A member may read its tenant's breakers (the console's health view) but not move them.
      const member = principal('member', [[victim.t.infra, null]])
      expect(await messaging.listBreakers(member, { infrastructureId: victim.t.infra })).toHaveLength(1)
      expect(() => messaging.deliveryPort({ principal: member })).toThrow(ForbiddenRoleError)
      expect(await messaging.listBreakers(outsider.admin, { infrastructureId: outsider.t.infra })).toEqual([])
      expect(await victim.admit()).toMatchObject({ decision: 'wait' })
    })

    it('refuses the stores themselves a scope outside the tenant (the database decides on PostgreSQL)', async () => {
      const victim = breaker()
      const outsider = scopeOf('service', [[tenant().infra, null]])
      const run = <T>(scope: TenantScope, work: (r: Repositories) => Promise<T>) =>
        storage.unitOfWork.run(scope, work)
      await expect(
        run(outsider, (r) => r.breakers.save(outsider, victim.key, { ...CLOSED_BREAKER, failures: 2 })),
      ).rejects.toBeInstanceOf(TenantScopeViolationError)
      await expect(run(outsider, (r) => r.breakers.lock(outsider, victim.key))).rejects.toBeInstanceOf(
        TenantScopeViolationError,
      )
      const member = scopeOf('member', [[victim.t.infra, null]])
      await expect(
        run(member, (r) => r.breakers.save(member, victim.key, { ...CLOSED_BREAKER, failures: 2 })),
      ).rejects.toBeInstanceOf(TenantScopeViolationError)
      // The fleet worker reaches every tenant's breaker, shared with the tenant's own workers.
      const fleet = TenantScope.fleet(uuid())
      await clock.set(T0)
      await run(fleet, (r) =>
        r.breakers.save(fleet, victim.key, { ...CLOSED_BREAKER, failures: 2, windowStartedAt: T0.getTime() }),
      )
      expect(await victim.fail()).toMatchObject({ transition: 'opened' })
    })
  })
}
