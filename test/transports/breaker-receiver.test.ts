import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { createWebhookTransport } from '../../src/adapters/transports/webhook/index.js'
import { createMessaging } from '../../src/index.js'
import { createSecretBox } from '../../src/secrets/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { principal, tenant } from '../support/fixtures.js'
import { until } from '../support/transports.js'
import { startHttpServer } from './support.js'

const LOOPBACK = { allowedRanges: ['127.0.0.0/8'] }
const dir = mkdtempSync(join(tmpdir(), 'messaging-breaker-receiver-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** One request as the receiver saw it: when it came, when it was answered, how. */
interface Hit {
  readonly id: string
  readonly start: number
  end: number
  readonly status: number
}

describe('circuit breaker against a real receiver on loopback that fails, then recovers', () => {
  it('keeps attempts bounded while it is down, probes one at a time, and delivers everything once it is back', async () => {
    const storage = createSqliteStorage({ path: join(dir, 'breaker.db') })
    const secrets = createSecretBox({ keys: { k1: randomBytes(32).toString('base64') }, activeKeyId: 'k1' })
    const messaging = createMessaging({ storage, secrets, destinations: LOOPBACK })
    const t = tenant()
    const admin = principal('infra_admin', [[t.infra, null]])
    const service = principal('service', [[t.infra, null]])
    let up = false
    const hits: Hit[] = []
    const receiver = await startHttpServer('127.0.0.1', (req, res) => {
      const hit: Hit = {
        id: String(req.headers['webhook-id']),
        start: Date.now(),
        end: 0,
        status: up ? 200 : 503,
      }
      hits.push(hit)
      res.on('finish', () => {
        hit.end = Date.now()
      })
      res.writeHead(hit.status).end()
    })
    const channel = await messaging.createChannel(admin, {
      infrastructureId: t.infra,
      channelKey: 'hooks',
      type: 'webhook',
      name: 'Hooks',
      config: {
        url: `${receiver.url}/hook`,
        secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
        breaker: { failures: 3, windowMs: 60_000, coolDownMs: 1000 },
      },
      maxAttempts: 100,
    })
    const ids: string[] = []
    for (let i = 0; i < 20; i++) {
      const { message } = await messaging.enqueue(service, {
        infrastructureId: t.infra,
        channelId: channel.id,
        payload: { n: i },
      })
      ids.push(message.id)
    }
    const worker = createDeliveryWorker({
      messaging,
      principal: service,
      transports: [createWebhookTransport({ allowHttp: true, ssrf: LOOPBACK })],
      concurrency: 4,
      // Without a breaker a down receiver would see an attempt of each message every 20-50 ms.
      retry: { baseMs: 20, maxMs: 50 },
      pollIntervalMs: 50,
      channelCacheMs: 0,
    })
    const opened: number[] = []
    const closed: number[] = []
    worker.events.on('breakerOpened', () => opened.push(hits.length))
    worker.events.on('breakerClosed', () => closed.push(hits.length))
    const stop = new AbortController()
    const running = worker.run(stop.signal)
    try {
      // Down: it opens, and each cool-down lets one probe through, which fails and re-opens it.
      await until(() => opened.length >= 4, 15_000)
      const openedAt = opened[0]!
      up = true
      await until(async () => {
        const stats = await messaging.stats(admin, { infrastructureId: t.infra })
        return stats[0]?.processed === 20
      }, 15_000)
      expect(closed.length).toBeGreaterThanOrEqual(1)

      const failedHits = hits.filter((h) => h.status === 503)
      const seen = JSON.stringify({ opened, closed, hits: hits.map((h) => [h.status, h.start, h.end]) })
      // Bounded: the 3 failures that opened it and at most the 3 others already under way, then
      // one probe per cool-down, each failure of which re-opens it (a late failure of one of
      // those 3 may re-open it in a probe's stead: at most 3 more), however long it stayed down.
      expect(failedHits.length, seen).toBeLessThanOrEqual(3 + 3 + (opened.length - 1) + 3)
      expect(openedAt, seen).toBeLessThanOrEqual(6)
      // Once open (and the 3 under way had answered), deliveries went one at a time (the probes)
      // until it closed again.
      const afterOpen = hits.slice(9, closed[0]! - 1)
      for (let i = 1; i < afterOpen.length; i++)
        expect(afterOpen[i]!.start, seen).toBeGreaterThanOrEqual(afterOpen[i - 1]!.end)
      // Every message delivered once after recovery, and the attempts spent stay as few as the hits.
      const delivered = hits.filter((h) => h.status === 200).map((h) => h.id)
      expect(new Set(delivered)).toEqual(new Set(ids))
      expect(delivered).toHaveLength(20)
      let attempts = 0
      for (const id of ids)
        attempts += (await messaging.listAttempts(admin, { infrastructureId: t.infra, messageId: id })).length
      expect(attempts).toBe(hits.length)
      // The trail says when it opened and closed.
      const trail = (await messaging.listAudit(admin, { infrastructureId: t.infra }))
        .filter((e) => e.action.startsWith('channel.breaker'))
        .reverse()
      expect(trail.map((e) => e.action)).toEqual([
        ...opened.map(() => 'channel.breaker_open'),
        ...closed.map(() => 'channel.breaker_close'),
      ])
      expect(trail.every((e) => e.targetId === channel.id)).toBe(true)
      expect(await messaging.listBreakers(admin, { infrastructureId: t.infra })).toEqual([])
    } finally {
      stop.abort()
      await running
      await receiver.close()
      await storage.close()
    }
  }, 40_000)
})
