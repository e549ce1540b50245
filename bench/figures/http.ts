import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Messaging } from '../../src/index.js'
import { payloadOf } from '../common.js'
import {
  atLeast,
  type Check,
  closedLoop,
  type Figure,
  failedRow,
  find,
  interleave,
  type Lane,
  type Measurement,
  measurementOf,
  sizesOf,
  verdictOf,
  warmUp,
} from '../run.js'
import {
  createChannels,
  facadeOn,
  httpEnqueuer,
  httpTenants,
  moduleDatabase,
  type ServeProcess,
  startServe,
} from '../systems/http.js'
import { databaseName } from '../systems/index.js'

const G12_SIZES = { g12Seconds: 2.5, g12Clients: 50 }

interface Enqueuer {
  enqueue(t: number, s: number): Promise<void>
}

/**
 * G12, HTTP enqueue: `messaging serve` (HTTP only, its own process, the CLI's defaults) with
 * 50 concurrent clients calling POST /queue over keep-alive connections, against the facade
 * in this process on the same store with 50 concurrent callers, on PostgreSQL (the app login,
 * row-level security on) and on SQLite, in interleaved slices. The serve process's CPU is
 * reported beside the server's.
 */
export const G12: Figure<typeof G12_SIZES> = {
  id: 'G12',
  sizes: G12_SIZES,
  quick: { g12Seconds: 1 },
  async run(ctx) {
    const z = sizesOf(ctx, G12_SIZES)
    const dir = mkdtempSync(join(tmpdir(), 'messaging-bench-http-'))
    const tenants = httpTenants(dir, z.tenants)
    const lanes: Lane<Enqueuer>[] = []
    const closers: (() => Promise<void>)[] = []
    const measurements: Measurement[] = []
    const stores: { name: string; store: { postgres: string } | { sqlite: string }; databases: string[] }[] =
      []
    const checks: Check[] = []
    try {
      if (ctx.systems.includes('module')) {
        const db = databaseName('module_http')
        ctx.progress('G12', 'module', 'setup')
        stores.push({
          name: 'postgres',
          store: { postgres: await moduleDatabase(ctx.server, db, ctx.template) },
          databases: [db],
        })
        closers.push(() => ctx.server.dropDatabase(db))
        stores.push({ name: 'sqlite', store: { sqlite: join(dir, 'messaging.db') }, databases: [] })
      }
      for (const s of stores) {
        const facade: Messaging = await facadeOn(s.store)
        closers.unshift(() => facade.close())
        await createChannels(facade, tenants)
        const serve: ServeProcess = await startServe(s.store, tenants.tokensFile)
        closers.unshift(() => serve.stop())
        const http = httpEnqueuer(serve.url, z.g12Clients)
        closers.unshift(async () => http.close())
        const offServer = s.name === 'sqlite'
        lanes.push({
          label: `http ${s.name}`,
          databases: s.databases,
          pid: serve.pid,
          offServer,
          subject: { enqueue: (t, i) => http.enqueue(tenants.tokens[t]!, tenants.ids[t]!, t, i) },
        })
        lanes.push({
          label: `facade ${s.name}`,
          databases: s.databases,
          offServer,
          subject: {
            enqueue: async (t, i) => {
              await facade.enqueue(tenants.principals[t]!, {
                infrastructureId: tenants.ids[t]!,
                channelKey: 'bench',
                payload: { ...payloadOf(t, i) },
              })
            },
          },
        })
      }
      const op = (l: Enqueuer, i: number) => l.enqueue(Math.abs(i) % z.tenants, i).then(() => 1)
      for (const l of lanes) {
        ctx.progress('G12', l.label, 'warm-up')
        await warmUp(z.g12Clients, 500, (_w, i) => op(l.subject, i))
      }
      const rs = await interleave(ctx, 'G12', lanes, z.rounds, (lane, _r, timed) =>
        timed(() => closedLoop(z.g12Clients, z.g12Seconds, (_w, i) => op(lane.subject, i))),
      )
      for (const r of rs) {
        const serveCpu =
          r.label.startsWith('http') && r.extraCpuMs !== null && r.units > 0 ? r.extraCpuMs / r.units : null
        measurements.push(
          measurementOf(
            r,
            serveCpu !== null ? { note: `messaging serve CPU ${serveCpu.toFixed(3)} ms/msg` } : {},
          ),
        )
      }
      for (const s of stores) {
        const h = find(measurements, `http ${s.name}`)
        checks.push(
          atLeast(`the facade on ${s.name}`, h?.value, find(measurements, `facade ${s.name}`)?.value, 0.7),
        )
        checks.push({
          label: `p99 ${h?.p99?.toFixed(1) ?? '?'} ms on ${s.name} (<= 50)`,
          ok: h?.p99 !== undefined ? h.p99 <= 50 : null,
        })
      }
    } catch (e) {
      measurements.push(failedRow({ system: 'module', error: e instanceof Error ? e.message : String(e) }))
    } finally {
      for (const c of closers) await c().catch(() => undefined)
      rmSync(dir, { recursive: true, force: true })
    }
    return {
      id: 'G12',
      title: `HTTP enqueue: messaging serve (its own process, HTTP only) with ${z.g12Clients} concurrent keep-alive clients on POST /queue, against the facade with ${z.g12Clients} concurrent callers on the same store; ${z.rounds} rounds of ${z.g12Seconds} s`,
      metric: 'msgs/s (p50 / p99 of one call, ms)',
      unit: 'msgs/s',
      higherIsBetter: true,
      target: '>= 0.7x the facade on the same store, p99 <= 50 ms (PostgreSQL and SQLite)',
      ...verdictOf(checks.length > 0 ? checks : [{ label: 'not measured', ok: null }]),
      measurements,
      comparisons: stores.map((s) => ({ subject: `http ${s.name}`, peer: `facade ${s.name}` })),
      params: { clients: z.g12Clients, seconds: z.g12Seconds, rounds: z.rounds, tenants: z.tenants },
    }
  },
}
