import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { StorageError } from '../../src/index.js'
import { BASE, fixture, problem } from './support.js'

describe('fetch handler: the routes', () => {
  it('creates a channel (201, Location), configures it (200) and reads it back with secrets redacted', async () => {
    const f = fixture()
    const created = await f.call('POST', '/channel', {
      body: {
        infrastructureId: f.infraA,
        channelKey: 'hooks',
        type: 'webhook',
        config: { url: 'https://hooks.example.com/in', secrets: ['whsec_c2VjcmV0c2VjcmV0'] },
      },
    })
    expect(created.status).toBe(201)
    const channel = (await created.json()) as { id: string; config: { secrets: string[] } }
    expect(channel.config.secrets).toEqual(['[redacted]'])
    expect(created.headers.get('location')).toBe(
      `${BASE}/channels/${channel.id}?infrastructureId=${f.infraA}`,
    )

    const configured = await f.call('POST', '/channel', {
      body: { infrastructureId: f.infraA, channelId: channel.id, name: 'Hooks', enabled: false },
    })
    expect(configured.status).toBe(200)
    expect(await configured.json()).toMatchObject({ id: channel.id, name: 'Hooks', enabled: false })

    const got = await f.call('GET', `/channels/${channel.id}?infrastructureId=${f.infraA}`, {
      who: 'memberA',
    })
    expect(got.status).toBe(200)
    expect(await got.json()).toMatchObject({
      id: channel.id,
      enabled: false,
      config: { secrets: ['[redacted]'] },
    })

    const listed = await f.call('GET', `/channels?infrastructureId=${f.infraA}&enabled=false&type=webhook`)
    expect(((await listed.json()) as unknown[]).length).toBe(1)
    const none = await f.call('GET', `/channels?infrastructureId=${f.infraA}&enabled=true`)
    expect(await none.json()).toEqual([])
  })

  it('adds, lists, opts out and removes a member; the memberships view joins channel metadata', async () => {
    const f = fixture()
    const { channelId } = await f.seed()
    const userId = randomUUID()
    const added = await f.call('POST', `/channels/${channelId}/members`, {
      body: { infrastructureId: f.infraA, userId, optedIn: false },
    })
    expect(added.status).toBe(201)
    expect(await added.json()).toMatchObject({ channelId, userId, optedIn: false })

    const members = await f.call('GET', `/channels/${channelId}/members?infrastructureId=${f.infraA}`)
    expect(((await members.json()) as Array<{ userId: string }>).map((m) => m.userId).sort()).toEqual(
      [userId, f.principals.memberA.userId].sort(),
    )

    // The member opts itself out: no userId, the principal's own.
    const optOut = await f.call('PUT', `/channels/${channelId}/opt-in`, {
      who: 'memberA',
      body: { infrastructureId: f.infraA, optedIn: false },
    })
    expect(optOut.status).toBe(200)
    expect(await optOut.json()).toMatchObject({ userId: f.principals.memberA.userId, optedIn: false })

    const view = await f.call(
      'GET',
      `/memberships?infrastructureId=${f.infraA}&userId=${f.principals.memberA.userId}`,
    )
    expect(await view.json()).toEqual([
      expect.objectContaining({ channelId, channelKey: 'ops', channelType: 'in_app', optedIn: false }),
    ])

    const removed = await f.call(
      'DELETE',
      `/channels/${channelId}/members/${userId}?infrastructureId=${f.infraA}`,
    )
    expect(removed.status).toBe(204)
    expect(await removed.text()).toBe('')
    const again = await f.call(
      'DELETE',
      `/channels/${channelId}/members/${userId}?infrastructureId=${f.infraA}`,
    )
    expect(again.status).toBe(404)
    expect(await problem(again)).toMatchObject({ code: 'NOT_FOUND', entity: 'membership' })
  })

  it('enqueues (201), replays an Idempotency-Key (200, same message), claims and acks', async () => {
    const f = fixture()
    const { channelId } = await f.seed()
    const body = { infrastructureId: f.infraA, channelKey: 'ops', payload: { text: 'disk 91%' } }
    const first = await f.call('POST', '/queue', {
      who: 'memberA',
      body,
      headers: { 'idempotency-key': 'disk-91' },
    })
    expect(first.status).toBe(201)
    const r1 = (await first.json()) as { created: boolean; message: { id: string; idempotencyKey: string } }
    expect(r1).toMatchObject({
      created: true,
      message: { channelId, idempotencyKey: 'disk-91', status: 'pending' },
    })
    expect(first.headers.get('location')).toBe(
      `${BASE}/messages/${r1.message.id}?infrastructureId=${f.infraA}`,
    )

    const replay = await f.call('POST', '/queue', {
      who: 'memberA',
      body: { ...body, idempotencyKey: 'disk-91' },
    })
    expect(replay.status).toBe(200)
    expect(await replay.json()).toMatchObject({ created: false, message: { id: r1.message.id } })

    const got = await f.call('GET', `/messages/${r1.message.id}?infrastructureId=${f.infraA}`)
    expect(await got.json()).toMatchObject({ id: r1.message.id, payload: { text: 'disk 91%' } })
    const list = await f.call(
      'GET',
      `/messages?infrastructureId=${f.infraA}&status=pending&limit=10&businessId=null`,
    )
    expect(((await list.json()) as unknown[]).length).toBe(1)

    const claimed = await f.call('POST', '/claim', { who: 'serviceA', body: { infrastructureId: f.infraA } })
    expect(claimed.status).toBe(200)
    const [held] = (await claimed.json()) as Array<{ id: string; leaseToken: string }>
    expect(held!.id).toBe(r1.message.id)

    const ackBody = {
      infrastructureId: f.infraA,
      messageId: held!.id,
      leaseToken: held!.leaseToken,
      outcome: 'processed',
    }
    const acked = await f.call('POST', '/ack', { who: 'serviceA', body: ackBody })
    expect(acked.status).toBe(200)
    expect(await acked.json()).toEqual({ acked: true, status: 'processed' })
    const stale = await f.call('POST', '/ack', { who: 'serviceA', body: ackBody })
    expect(await stale.json()).toEqual({ acked: false, status: 'processed' })

    const audit = await f.call('GET', `/audit?infrastructureId=${f.infraA}&action=outbox.ack`, {
      who: 'serviceA',
    })
    expect(await audit.json()).toEqual([expect.objectContaining({ action: 'outbox.ack', outcome: 'ok' })])
  })

  it('serves the OpenAPI document without authentication', async () => {
    const f = fixture()
    const res = await f.call('GET', '/openapi.json', { who: null })
    expect(res.status).toBe(200)
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> }
    expect(doc.openapi).toBe('3.1.0')
    expect(Object.keys(doc.paths)).toContain(`${BASE}/queue`)
  })

  it('honours a custom base path and leaves other paths alone', async () => {
    const f = fixture({ basePath: '/api/msg/' })
    expect(f.handler.basePath).toBe('/api/msg')
    const ok = await f.handler(new Request('http://h/api/msg/openapi.json'))
    expect(ok.status).toBe(200)
    const other = await f.handler(new Request(`http://h${BASE}/openapi.json`))
    expect(other.status).toBe(404)
  })
})

describe('fetch handler: errors are problem documents with stable codes', () => {
  it('401 without a token, with an unknown token, and when authenticate throws (no secret leaks)', async () => {
    const f = fixture()
    const none = await f.call('GET', `/channels?infrastructureId=${f.infraA}`, { who: null })
    expect(none.status).toBe(401)
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="messaging"')
    expect(await problem(none)).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 })
    const unknown = await f.call('GET', `/channels?infrastructureId=${f.infraA}`, {
      who: null,
      headers: { authorization: 'Bearer nope' },
    })
    expect(unknown.status).toBe(401)
    const throws = await f.call('GET', `/channels?infrastructureId=${f.infraA}`, {
      who: null,
      headers: { authorization: 'Bearer tok-throws' },
    })
    expect(throws.status).toBe(401)
    expect(await throws.text()).not.toContain('hunter2')
    expect(f.errors).toHaveLength(1)
  })

  it("403 for another tenant and for the wrong role: a role refusal audited in the tenant's trail, an outsider's counted in the security log, nothing else written", async () => {
    const f = fixture()
    const { channelId } = await f.seed()
    const before = await f.snapshot()
    const otherTenant = await f.call('POST', '/queue', {
      who: 'adminB',
      body: { infrastructureId: f.infraA, channelKey: 'ops', payload: 1 },
    })
    expect(otherTenant.status).toBe(403)
    expect(await problem(otherTenant)).toMatchObject({
      code: 'TENANT_SCOPE_VIOLATION',
      infrastructureId: f.infraA,
    })
    const wrongRole = await f.call('POST', '/channel', {
      who: 'memberA',
      body: { infrastructureId: f.infraA, channelKey: 'x', type: 'in_app' },
    })
    expect(wrongRole.status).toBe(403)
    expect(await problem(wrongRole)).toMatchObject({
      code: 'FORBIDDEN_ROLE',
      required: ['infra_admin'],
      role: 'member',
    })
    const notService = await f.call('POST', '/ack', {
      who: 'adminA',
      body: {
        infrastructureId: f.infraA,
        messageId: randomUUID(),
        leaseToken: randomUUID(),
        outcome: 'processed',
      },
    })
    expect(notService.status).toBe(403)
    const readOther = await f.call('GET', `/channels/${channelId}/members?infrastructureId=${f.infraA}`, {
      who: 'adminB',
    })
    expect(readOther.status).toBe(403)
    const after = await f.snapshot()
    expect(after).toEqual({
      ...before,
      audit: before.audit + 2,
      refusalsElsewhere: before.refusalsElsewhere + 1,
    })
    const refused = await f.messaging.listAudit(f.principals.adminA, { infrastructureId: f.infraA })
    expect(refused.slice(0, 2).map((a) => [a.action, a.outcome, a.errorCode])).toEqual(
      expect.arrayContaining([
        ['channel.create', 'refused', 'FORBIDDEN_ROLE'],
        ['outbox.ack', 'refused', 'FORBIDDEN_ROLE'],
      ]),
    )
    expect(await f.messaging.listSecurityEvents({ actorId: f.principals.adminB.userId })).toMatchObject([
      {
        actorRole: 'infra_admin',
        action: 'outbox.enqueue',
        errorCode: 'TENANT_SCOPE_VIOLATION',
        refusals: 1,
        lastInfrastructureId: f.infraA,
      },
    ])
  })

  it('400 with field paths for invalid input, and nothing written', async () => {
    const f = fixture()
    await f.seed()
    const before = await f.snapshot()
    const res = await f.call('POST', '/queue', {
      body: { infrastructureId: 'nope', channelKey: 'Bad Key', payload: {}, extra: 1 },
    })
    expect(res.status).toBe(400)
    const p = await problem(res)
    expect(p).toMatchObject({ code: 'VALIDATION_FAILED', type: 'urn:messaging:problem:validation-failed' })
    const paths = (p.errors as Array<{ path: string }>).map((e) => e.path)
    expect(paths).toEqual(expect.arrayContaining(['infrastructureId', 'channelKey']))
    expect(await f.snapshot()).toEqual(before)
  })

  it('400 for malformed JSON, a non-object body, invalid UTF-8 and too deep nesting', async () => {
    const f = fixture()
    const cases: Array<[BodyInit, string]> = [
      ['{"infrastructureId":', 'malformed_json'],
      ['[1,2,3]', 'invalid_type'],
      ['"text"', 'invalid_type'],
      [new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), 'invalid_utf8'],
      [`${'['.repeat(5000)}${']'.repeat(5000)}`, 'too_deep'],
      [`{"payload":${'{"a":'.repeat(40)}1${'}'.repeat(40)}}`, 'too_deep'],
    ]
    for (const [raw, rule] of cases) {
      const res = await f.call('POST', '/queue', { raw, headers: { 'content-type': 'application/json' } })
      expect(res.status).toBe(400)
      expect(await problem(res)).toMatchObject({
        code: 'VALIDATION_FAILED',
        errors: [{ path: '(body)', rule }],
      })
    }
  })

  it('400 when the body contradicts the path or the Idempotency-Key header', async () => {
    const f = fixture()
    const { channelId } = await f.seed()
    const res = await f.call('POST', `/channels/${channelId}/members`, {
      body: { infrastructureId: f.infraA, channelId: randomUUID(), userId: randomUUID() },
    })
    expect(await problem(res)).toMatchObject({ errors: [{ path: 'channelId', rule: 'path_mismatch' }] })
    const hdr = await f.call('POST', '/queue', {
      body: { infrastructureId: f.infraA, channelKey: 'ops', payload: 1, idempotencyKey: 'a' },
      headers: { 'idempotency-key': 'b' },
    })
    expect(await problem(hdr)).toMatchObject({
      errors: [{ path: 'idempotencyKey', rule: 'header_mismatch' }],
    })
  })

  it('400 for query values of the wrong type, unknown and repeated query keys', async () => {
    const f = fixture()
    for (const q of [
      `infrastructureId=${f.infraA}&enabled=yes`,
      `infrastructureId=${f.infraA}&bogus=1`,
      `infrastructureId=${f.infraA}&infrastructureId=${f.infraB}`,
      'infrastructureId=',
    ]) {
      const res = await f.call('GET', `/channels?${q}`)
      expect(res.status).toBe(400)
      expect((await problem(res)).code).toBe('VALIDATION_FAILED')
    }
  })

  it('404 for an unknown id and an unknown route, 405 with Allow for a wrong method', async () => {
    const f = fixture()
    const missing = await f.call('GET', `/channels/${randomUUID()}?infrastructureId=${f.infraA}`)
    expect(missing.status).toBe(404)
    expect((await problem(missing)).code).toBe('NOT_FOUND')
    const route = await f.call('GET', '/nowhere')
    expect(route.status).toBe(404)
    expect((await problem(route)).code).toBe('ROUTE_NOT_FOUND')
    const method = await f.call('DELETE', '/queue')
    expect(method.status).toBe(405)
    expect(method.headers.get('allow')).toBe('POST')
    expect((await problem(method)).code).toBe('METHOD_NOT_ALLOWED')
  })

  it('409 for a duplicate channel key and for a disabled channel', async () => {
    const f = fixture()
    const { channelId } = await f.seed()
    const dup = await f.call('POST', '/channel', {
      body: { infrastructureId: f.infraA, channelKey: 'ops', type: 'in_app' },
    })
    expect(dup.status).toBe(409)
    expect(await problem(dup)).toMatchObject({ code: 'CONFLICT', entity: 'channel', key: 'ops' })
    await f.call('POST', '/channel', { body: { infrastructureId: f.infraA, channelId, enabled: false } })
    const disabled = await f.call('POST', '/queue', {
      body: { infrastructureId: f.infraA, channelId, payload: 1 },
    })
    expect(disabled.status).toBe(409)
    expect(await problem(disabled)).toMatchObject({ code: 'CHANNEL_DISABLED', channelId })
  })

  it('413 for a body over the cap, by Content-Length unread and by streaming without one', async () => {
    const f = fixture({ maxBodyBytes: 1024 })
    await f.seed()
    const before = await f.snapshot()
    const big = JSON.stringify({ infrastructureId: f.infraA, channelKey: 'ops', payload: 'x'.repeat(5000) })
    const declared = await f.call('POST', '/queue', {
      raw: big,
      headers: { 'content-type': 'application/json' },
    })
    expect(declared.status).toBe(413)
    expect(await problem(declared)).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', field: '(body)', limit: 1024 })

    // A chunked body with no length: the count taken while reading stops it.
    let pulled = 0
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        pulled++
        if (pulled > 1000) c.close()
        else c.enqueue(new TextEncoder().encode('x'.repeat(512)))
      },
    })
    const streamed = await f.handler(
      new Request(`http://h${BASE}/queue`, {
        method: 'POST',
        headers: { authorization: 'Bearer tok-adminA', 'content-type': 'application/json' },
        body: stream,
        duplex: 'half',
      } as RequestInit),
    )
    expect(streamed.status).toBe(413)
    expect(pulled).toBeLessThan(10)
    // A lying Content-Length is no way around the cap either.
    const lying = await f.handler(
      new Request(`http://h${BASE}/queue`, {
        method: 'POST',
        headers: {
          authorization: 'Bearer tok-adminA',
          'content-type': 'application/json',
          'content-length': '10',
        },
        body: big,
      }),
    )
    expect(lying.status).toBe(413)
    expect(await f.snapshot()).toEqual(before)
  })

  it("413 from the domain's payload cap too", async () => {
    const f = fixture()
    await f.seed()
    const res = await f.call('POST', '/queue', {
      body: { infrastructureId: f.infraA, channelKey: 'ops', payload: 'x'.repeat(70 * 1024) },
    })
    expect(res.status).toBe(413)
    expect(await problem(res)).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', field: 'payload' })
  })

  it('415 for a non-JSON content type or a body without one', async () => {
    const f = fixture()
    for (const headers of [
      { 'content-type': 'text/plain' },
      { 'content-type': 'application/x-www-form-urlencoded' },
      { 'content-type': 'application/json; charset=latin1' },
    ]) {
      const res = await f.call('POST', '/queue', { raw: '{}', headers })
      expect(res.status).toBe(415)
      expect((await problem(res)).code).toBe('UNSUPPORTED_MEDIA_TYPE')
    }
    const bare = await f.handler(
      new Request(`http://h${BASE}/queue`, {
        method: 'POST',
        headers: { authorization: 'Bearer tok-adminA' },
        body: new Blob(['{"a":1}']),
      }),
    )
    expect(bare.status).toBe(415)
    const ok = await f.call('POST', '/claim', {
      who: 'serviceA',
      raw: '{}',
      headers: { 'content-type': 'application/vnd.api+json; charset=UTF-8' },
    })
    expect(ok.status).toBe(200)
  })

  it('429 with Retry-After once a tenant spends its enqueue quota; other tenants and outsiders unaffected', async () => {
    let now = 1_000_000
    const f = fixture({ enqueueQuota: { capacity: 2, refillPerSecond: 1 }, now: () => now })
    await f.seed()
    const body = { infrastructureId: f.infraA, channelKey: 'ops', payload: 1 }
    // An outsider's refused calls spend nothing of tenant A's quota.
    for (let i = 0; i < 5; i++) {
      expect((await f.call('POST', '/queue', { who: 'adminB', body })).status).toBe(403)
    }
    expect((await f.call('POST', '/queue', { body })).status).toBe(201)
    expect((await f.call('POST', '/queue', { body })).status).toBe(201)
    const limited = await f.call('POST', '/queue', { body })
    expect(limited.status).toBe(429)
    expect(limited.headers.get('retry-after')).toBe('1')
    expect(await problem(limited)).toMatchObject({
      code: 'RATE_LIMITED',
      infrastructureId: f.infraA,
      retryAfterSeconds: 1,
    })
    expect((await f.snapshot()).messages).toBe(2)
    // The refusal is audited like the facade's own: who, tenant, action, outcome, code.
    const [refused] = await f.messaging.listAudit(f.principals.adminA, {
      infrastructureId: f.infraA,
      action: 'outbox.enqueue',
      limit: 1,
    })
    expect(refused).toMatchObject({
      actorId: f.principals.adminA.userId,
      actorRole: 'infra_admin',
      infrastructureId: f.infraA,
      businessId: null,
      targetType: 'message',
      targetId: null,
      outcome: 'refused',
      errorCode: 'RATE_LIMITED',
      details: { retryAfterSeconds: 1 },
    })
    now += 1000
    expect((await f.call('POST', '/queue', { body })).status).toBe(201)
  })

  it('500 with a generic body for a host bug or an unexpected throw; 503 for a storage failure', async () => {
    const f = fixture({
      routes: [
        {
          method: 'GET',
          path: '/boom',
          operationId: 'boom',
          summary: 'throws',
          tag: 'test',
          input: (await import('zod')).z.object({}),
          from: 'query',
          response: null,
          run: async (_m, _p, i) => {
            if (i.kind === 'storage') throw new StorageError('connect ECONNREFUSED postgres://u:hunter2@db')
            throw new Error('secret stack detail hunter2')
          },
        },
      ],
    })
    const bad = await f.call('GET', `/channels?infrastructureId=${f.infraA}`, {
      who: null,
      headers: { authorization: 'Bearer tok-malformed' },
    })
    expect(bad.status).toBe(500)
    const boom = await f.call('GET', '/boom')
    expect(boom.status).toBe(500)
    const text = await boom.text()
    expect(JSON.parse(text)).toEqual({
      type: 'urn:messaging:problem:internal',
      title: 'Internal server error',
      status: 500,
      code: 'INTERNAL',
      detail: 'an unexpected error occurred',
      instance: `${BASE}/boom`,
    })
    const storage = await f.call('GET', '/boom?kind=storage')
    expect(storage.status).toBe(503)
    // A store that is down is worth asking again: after the worker's own retry cap.
    expect(storage.headers.get('retry-after')).toBe('5')
    expect(await storage.text()).not.toContain('hunter2')
    expect(f.errors).toHaveLength(3)
  })
})
