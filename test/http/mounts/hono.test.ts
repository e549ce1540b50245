import type { Server } from 'node:http'
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { mountHono } from '../../../src/http/mounts/hono.js'
import { describeMount, originOf } from './mount-cases.js'

describeMount('Hono', async (_f, handler) => {
  const app = new Hono()
  mountHono(app, handler)
  app.get('/host/ping', (c) => c.json({ pong: true }))
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
  })
  return {
    origin: originOf(server.address()),
    close: () =>
      new Promise<void>((resolve) => {
        ;(server as Server).closeAllConnections()
        server.close(() => resolve())
      }),
  }
})
