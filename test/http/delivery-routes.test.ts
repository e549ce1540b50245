import { describe, expect, it } from 'vitest'
import { createInAppTransport } from '../../src/adapters/transports/in-app/index.js'
import { type OutboxMessage, TenantScopeViolationError } from '../../src/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { type Behaviour, scriptedTransport, testChannelType, until } from '../support/transports.js'
import { type Fixture, fixture, problem } from './support.js'

/** A fixture whose facade knows the scripted `test` channel type, and a worker over it. */
function deliveryFixture(options: Parameters<typeof fixture>[0] = {}) {
  const f = fixture(options, { channelTypes: [testChannelType] })
  const transport = scriptedTransport()
  const worker = () =>
    createDeliveryWorker({
      messaging: f.messaging,
      principal: f.principals.serviceA,
      transports: [transport, createInAppTransport({ messaging: f.messaging })],
      pollIntervalMs: 10,
      retry: { baseMs: 5, maxMs: 10 },
      random: () => 1,
    })
  return { f, transport, worker }
}

async function json<T>(res: Response, status = 200): Promise<T> {
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${await res.text()}`)
  return (await res.json()) as T
}

async function runUntil(
  f: Fixture,
  w: ReturnType<typeof createDeliveryWorker>,
  done: () => Promise<boolean>,
) {
  const stop = new AbortController()
  const running = w.run(stop.signal)
  try {
    await until(done)
  } finally {
    stop.abort()
    await running
  }
  return f
}

describe('delivery routes: dead letters, attempts, redrive, stats', () => {
  it('lists dead letters and their attempts, redrives one and a channel, and counts it all in stats', async () => {
    const { f, worker } = deliveryFixture()
    const admin = f.principals.adminA
    const channel = await f.messaging.createChannel(admin, {
      infrastructureId: f.infraA,
      channelKey: 'hooks',
      type: 'test',
      maxAttempts: 2,
    })
    const enqueue = async (behaviour: Behaviour) =>
      (
        await f.messaging.enqueue(admin, {
          infrastructureId: f.infraA,
          channelId: channel.id,
          payload: { behaviour },
        })
      ).message
    // Two failures use up both attempts; the third call (after a redrive) delivers.
    const [a, b, c] = [
      await enqueue({ do: 'retry', times: 2, error: 'provider busy' }),
      await enqueue({ do: 'retry', times: 2, error: 'provider busy' }),
      await enqueue({ do: 'retry', times: 2, error: 'provider busy' }),
    ]
    const ok = await enqueue({ do: 'deliver' })
    const status = async (m: OutboxMessage) =>
      (await f.messaging.getMessage(admin, { infrastructureId: f.infraA, messageId: m.id })).status
    const w = worker()
    await runUntil(f, w, async () => {
      const s = await Promise.all([a, b, c, ok].map(status))
      return s.join() === 'dead,dead,dead,processed'
    })

    const dead = await json<OutboxMessage[]>(
      await f.call('GET', `/dead-letters?infrastructureId=${f.infraA}&channelId=${channel.id}`, {
        who: 'memberA',
      }),
    )
    expect(dead.map((m) => m.id).sort()).toEqual([a!.id, b!.id, c!.id].sort())
    expect(
      dead.every((m) => m.status === 'dead' && m.attempts === 2 && m.lastError === 'provider busy'),
    ).toBe(true)
    expect(
      await json(await f.call('GET', `/dead-letters?infrastructureId=${f.infraA}&limit=1`)),
    ).toHaveLength(1)

    const attempts = await json<Array<Record<string, unknown>>>(
      await f.call('GET', `/messages/${a!.id}/attempts?infrastructureId=${f.infraA}`),
    )
    expect(attempts).toMatchObject([
      {
        attempt: 1,
        outcome: 'retryable',
        errorCode: 'http_503',
        error: 'provider busy',
        workerId: w.workerId,
      },
      { attempt: 2, outcome: 'retryable', errorCode: 'http_503' },
    ])
    expect(typeof attempts[0]!.startedAt).toBe('string')

    const stats = await json(await f.call('GET', `/stats?infrastructureId=${f.infraA}`, { who: 'serviceA' }))
    expect(stats).toEqual([
      {
        infrastructureId: f.infraA,
        channelId: channel.id,
        pending: 0,
        inFlight: 0,
        processed: 1,
        failed: 0,
        dead: 3,
        cancelled: 0,
        confirmed: 0,
        bounced: 0,
        oldestPendingAgeMs: null,
        digested: 0,
      },
    ])
    // Without a tenant: every tenant of the grants (here one).
    expect(await json(await f.call('GET', '/stats'))).toEqual(stats)

    // A member may not redrive; the refusal is audited.
    const refused = await f.call('POST', `/messages/${a!.id}/redrive`, {
      who: 'memberA',
      body: { infrastructureId: f.infraA },
    })
    expect(refused.status).toBe(403)
    expect((await problem(refused)).code).toBe('FORBIDDEN_ROLE')

    const redriven = await json<OutboxMessage>(
      await f.call('POST', `/messages/${a!.id}/redrive`, { body: { infrastructureId: f.infraA } }),
    )
    expect(redriven).toMatchObject({ id: a!.id, status: 'pending', attempts: 0 })
    const twice = await f.call('POST', `/messages/${a!.id}/redrive`, { body: { infrastructureId: f.infraA } })
    expect(twice.status).toBe(409)
    expect(await problem(twice)).toMatchObject({ code: 'ILLEGAL_TRANSITION', from: 'pending', to: 'pending' })

    // The channel redrive takes the two still dead, and leaves the delivered one alone.
    expect(
      await json(
        await f.call('POST', `/channels/${channel.id}/redrive`, {
          who: 'serviceA',
          body: { infrastructureId: f.infraA },
        }),
      ),
    ).toEqual({ redriven: 2 })
    await runUntil(f, worker(), async () =>
      (await Promise.all([a, b, c].map(status))).every((s) => s === 'processed'),
    )
    expect(await json(await f.call('GET', `/dead-letters?infrastructureId=${f.infraA}`))).toEqual([])
    expect(await json(await f.call('GET', `/stats?infrastructureId=${f.infraA}`))).toMatchObject([
      { processed: 4, dead: 0, pending: 0 },
    ])

    const audit = await f.messaging.listAudit(admin, { infrastructureId: f.infraA, limit: 100 })
    const of = (action: string) => audit.filter((e) => e.action === action)
    expect(of('outbox.redrive').map((e) => [e.outcome, e.errorCode, e.targetId])).toEqual([
      ['ok', null, a!.id],
      ['refused', 'FORBIDDEN_ROLE', a!.id],
    ])
    expect(of('outbox.redrive_channel')).toMatchObject([
      {
        outcome: 'ok',
        actorId: f.principals.serviceA.userId,
        targetId: channel.id,
        details: { redriven: 2 },
      },
    ])
    expect(f.errors).toEqual([])
  })

  it('records the attempt of a message acked over HTTP, and audits the ack, as a worker settle does', async () => {
    const { f } = deliveryFixture()
    const { channelId } = await f.seed()
    const enqueue = async () =>
      (await f.messaging.enqueue(f.principals.adminA, { infrastructureId: f.infraA, channelId, payload: 1 }))
        .message
    const [done, retried, failed] = [await enqueue(), await enqueue(), await enqueue()]
    const held = await json<Array<{ id: string; leaseToken: string }>>(
      await f.call('POST', '/claim', { who: 'serviceA', body: { infrastructureId: f.infraA, limit: 10 } }),
    )
    expect(held.map((h) => h.id).sort()).toEqual([done.id, retried.id, failed.id].sort())
    const tokenOf = (id: string) => held.find((h) => h.id === id)!.leaseToken
    const ack = (messageId: string, body: Record<string, unknown>) =>
      f.call('POST', '/ack', {
        who: 'serviceA',
        body: { infrastructureId: f.infraA, messageId, leaseToken: tokenOf(messageId), ...body },
      })
    expect(await json(await ack(done.id, { outcome: 'processed' }))).toEqual({
      acked: true,
      status: 'processed',
    })
    expect(
      await json(await ack(retried.id, { outcome: 'failed', reason: 'smtp busy', retryAfterMs: 60_000 })),
    ).toEqual({ acked: true, status: 'pending' })
    expect(await json(await ack(failed.id, { outcome: 'failed', reason: 'no such mailbox' }))).toEqual({
      acked: true,
      status: 'failed',
    })
    // A repeated ack changes nothing and records nothing.
    expect(await json(await ack(done.id, { outcome: 'processed' }))).toEqual({
      acked: false,
      status: 'processed',
    })

    const attempts = async (id: string) =>
      json<Array<Record<string, unknown>>>(
        await f.call('GET', `/messages/${id}/attempts?infrastructureId=${f.infraA}`),
      )
    const by = f.principals.serviceA.userId
    expect(await attempts(done.id)).toMatchObject([
      { attempt: 1, outcome: 'delivered', error: null, workerId: by, durationMs: 0 },
    ])
    expect(await attempts(retried.id)).toMatchObject([
      { attempt: 1, outcome: 'retryable', error: 'smtp busy', workerId: by },
    ])
    expect(await attempts(failed.id)).toMatchObject([
      { attempt: 1, outcome: 'permanent', error: 'no such mailbox', workerId: by },
    ])
    const audit = await f.messaging.listAudit(f.principals.adminA, {
      infrastructureId: f.infraA,
      action: 'outbox.ack',
    })
    expect(audit.map((e) => [e.targetId, e.actorId, e.outcome, e.details])).toEqual([
      [failed.id, by, 'ok', { messages: [{ id: failed.id, attempt: 1, status: 'failed' }] }],
      [retried.id, by, 'ok', { messages: [{ id: retried.id, attempt: 1, status: 'pending' }] }],
      [done.id, by, 'ok', { messages: [{ id: done.id, attempt: 1, status: 'processed' }] }],
    ])
    expect(f.errors).toEqual([])
  })

  it("keeps tenants apart: another tenant's admin sees no dead letters, attempts or stats of this one", async () => {
    const { f } = deliveryFixture()
    const { channelId } = await f.seed()
    const { message } = await f.messaging.enqueue(f.principals.adminA, {
      infrastructureId: f.infraA,
      channelId,
      payload: 1,
    })
    for (const path of [
      `/dead-letters?infrastructureId=${f.infraA}`,
      `/messages/${message.id}/attempts?infrastructureId=${f.infraA}`,
      `/stats?infrastructureId=${f.infraA}`,
    ]) {
      const res = await f.call('GET', path, { who: 'adminB' })
      expect(res.status, path).toBe(403)
      expect((await problem(res)).code).toBe('TENANT_SCOPE_VIOLATION')
    }
    // Its own view of the world holds nothing of tenant A.
    expect(await json(await f.call('GET', '/stats', { who: 'adminB' }))).toEqual([])
    const other = await f.call('POST', `/messages/${message.id}/redrive`, {
      who: 'adminB',
      body: { infrastructureId: f.infraB },
    })
    expect(other.status).toBe(404)
  })
})

describe('queue history route: GET /stats/history', () => {
  it("answers a tenant's admin and service the last minutes, refuses members and other tenants, and names a bad field", async () => {
    const { f } = deliveryFixture()
    const { channelId } = await f.seed()
    for (const payload of [1, 2]) {
      await f.messaging.enqueue(f.principals.adminA, { infrastructureId: f.infraA, channelId, payload })
    }
    type Minute = { minute: string; enqueued: number; backlog: number }
    for (const who of ['adminA', 'serviceA'] as const) {
      const rows = await json<Minute[]>(
        await f.call('GET', `/stats/history?infrastructureId=${f.infraA}&minutes=2`, { who }),
      )
      expect(rows).toHaveLength(2)
      // The two enqueues fall in the current minute or the one before (the clock is the real one).
      expect(rows[0]!.enqueued + rows[1]!.enqueued).toBe(2)
      expect(rows[1]!.backlog).toBe(2)
      expect(Date.parse(rows[1]!.minute) % 60_000).toBe(0)
    }
    const sixty = await json<Minute[]>(await f.call('GET', `/stats/history?infrastructureId=${f.infraA}`))
    expect(sixty).toHaveLength(60)
    for (const [who, status, code] of [
      ['memberA', 403, 'FORBIDDEN_ROLE'],
      ['adminB', 403, 'TENANT_SCOPE_VIOLATION'],
    ] as const) {
      const res = await f.call('GET', `/stats/history?infrastructureId=${f.infraA}`, { who })
      expect(res.status, who).toBe(status)
      expect((await problem(res)).code, who).toBe(code)
    }
    for (const [query, field] of [
      [`infrastructureId=${f.infraA}&minutes=121`, 'minutes'],
      [`infrastructureId=${f.infraA}&minutes=0`, 'minutes'],
      [`infrastructureId=${f.infraA}&minutes=ten`, 'minutes'],
      ['minutes=5', 'infrastructureId'],
      [`infrastructureId=${f.infraA}&since=1`, 'since'],
    ]) {
      const res = await f.call('GET', `/stats/history?${query}`)
      expect(res.status, query).toBe(400)
      expect(JSON.stringify(await problem(res)), query).toContain(field)
    }
    expect(f.errors).toEqual([])
  })
})

describe('inbox routes: list, unread count, mark', () => {
  it("lists, counts and marks the caller's own entries only", async () => {
    const { f, worker } = deliveryFixture()
    const { channelId } = await f.seed() // in_app `ops`; member A is an opted-in member
    const admin = f.principals.adminA
    for (const text of ['disk 91%', 'disk 95%', 'disk 99%']) {
      await f.messaging.enqueue(admin, { infrastructureId: f.infraA, channelId, payload: { text } })
    }
    expect(await worker().drain()).toBe(3)

    const inbox = await json<Array<{ id: string; payload: unknown; readAt: string | null }>>(
      await f.call('GET', `/inbox?infrastructureId=${f.infraA}`, { who: 'memberA' }),
    )
    // Newest first by delivery time; the three were delivered concurrently, so only the set is fixed.
    expect(inbox.map((e) => (e.payload as { text: string }).text).sort()).toEqual([
      'disk 91%',
      'disk 95%',
      'disk 99%',
    ])
    const count = (who: 'memberA' | 'adminA') =>
      f.call('GET', `/inbox/unread-count?infrastructureId=${f.infraA}`, { who }).then((r) => json(r))
    expect(await count('memberA')).toEqual({ unread: 3 })
    // The admin is no member of the channel: an empty inbox, and nothing of member A's to mark.
    expect(await count('adminA')).toEqual({ unread: 0 })
    const foreign = await f.call('POST', '/inbox/mark', {
      body: { infrastructureId: f.infraA, entryIds: [inbox[0]!.id], mark: 'read' },
    })
    expect(await json(foreign)).toEqual({ changed: 0 })

    const mark = (body: Record<string, unknown>) =>
      f.call('POST', '/inbox/mark', { who: 'memberA', body: { infrastructureId: f.infraA, ...body } })
    expect(await json(await mark({ entryIds: [inbox[0]!.id], mark: 'read' }))).toEqual({ changed: 1 })
    expect(await count('memberA')).toEqual({ unread: 2 })
    const unread = await json<unknown[]>(
      await f.call('GET', `/inbox?infrastructureId=${f.infraA}&unreadOnly=true&limit=1`, { who: 'memberA' }),
    )
    expect(unread).toHaveLength(1)
    expect(await json(await mark({ entryIds: 'all', mark: 'read' }))).toEqual({ changed: 2 })
    expect(await count('memberA')).toEqual({ unread: 0 })
    expect(await json(await mark({ entryIds: [inbox[2]!.id], mark: 'archived' }))).toEqual({ changed: 1 })
    const visible = await json<unknown[]>(
      await f.call('GET', `/inbox?infrastructureId=${f.infraA}`, { who: 'memberA' }),
    )
    expect(visible).toHaveLength(2)
    const all = await json<unknown[]>(
      await f.call('GET', `/inbox?infrastructureId=${f.infraA}&includeArchived=true`, { who: 'memberA' }),
    )
    expect(all).toHaveLength(3)
  })
})

describe('the enqueue quota: a 429 is an audited refusal', () => {
  it('writes one refused RATE_LIMITED entry per 429 (business kept when well formed), and no message', async () => {
    const f = fixture({ enqueueQuota: { capacity: 1, refillPerSecond: 0.001 }, now: () => 5_000 })
    await f.seed()
    const body = { infrastructureId: f.infraA, businessId: f.bizA, channelKey: 'ops', payload: 1 }
    expect((await f.call('POST', '/queue', { who: 'bizMemberA', body })).status).toBe(201)
    const before = await f.snapshot()
    const limited = await f.call('POST', '/queue', { who: 'bizMemberA', body })
    expect(limited.status).toBe(429)
    expect(limited.headers.get('retry-after')).toBe('1000')
    // The quota is checked before the schema: a malformed business id still gets a 429, and an entry without it.
    const malformed = await f.call('POST', '/queue', {
      who: 'bizMemberA',
      body: { ...body, businessId: 'not-a-uuid' },
    })
    expect(malformed.status).toBe(429)
    expect(await f.snapshot()).toEqual({ ...before, audit: before.audit + 2 })
    const entries = await f.messaging.listAudit(f.principals.adminA, {
      infrastructureId: f.infraA,
      action: 'outbox.enqueue',
    })
    expect(entries.slice(0, 2).map((e) => [e.outcome, e.errorCode, e.businessId, e.actorId])).toEqual([
      ['refused', 'RATE_LIMITED', null, f.principals.bizMemberA.userId],
      ['refused', 'RATE_LIMITED', f.bizA, f.principals.bizMemberA.userId],
    ])
    expect(f.errors).toEqual([])
  })

  it("records refusals only within the caller's scope: nobody writes into another tenant's trail", async () => {
    const f = fixture()
    const refusal = {
      infrastructureId: f.infraA,
      action: 'outbox.enqueue',
      targetType: 'message' as const,
      errorCode: 'RATE_LIMITED' as const,
    }
    await expect(f.messaging.recordRefusal(f.principals.adminB, refusal)).rejects.toBeInstanceOf(
      TenantScopeViolationError,
    )
    expect((await f.snapshot()).audit).toBe(0)
    await f.messaging.recordRefusal(f.principals.memberA, refusal)
    expect((await f.snapshot()).audit).toBe(1)
  })
})
