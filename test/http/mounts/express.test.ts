import type { Server } from 'node:http'
import express from 'express'
import { mountExpress } from '../../../src/http/mounts/express.js'
import { describeMount, originOf } from './mount-cases.js'

describeMount('Express', async (_f, handler) => {
  const app = express()
  mountExpress(app, handler)
  app.use(express.json())
  app.get('/host/ping', (_req, res) => {
    res.json({ pong: true })
  })
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s))
  })
  return {
    origin: originOf(server.address()),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
})

describeMount('Express (behind a JSON body parser)', async (_f, handler) => {
  const app = express()
  // The host parsed bodies first: the mount re-encodes what the parser read.
  app.use(express.json({ limit: '1mb' }))
  mountExpress(app, handler)
  app.get('/host/ping', (_req, res) => {
    res.json({ pong: true })
  })
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s))
  })
  return {
    origin: originOf(server.address()),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
})
