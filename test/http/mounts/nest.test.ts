import 'reflect-metadata'
import { Controller, Get, type INestApplication, Inject, Module } from '@nestjs/common'
import { NestFactory } from '@nestjs/core'
import { describe, expect, it } from 'vitest'
import { MESSAGING, MessagingModule } from '../../../src/http/mounts/nest.js'
import { Messaging, type Principal } from '../../../src/index.js'
import { fixture } from '../support.js'
import { describeMount, originOf } from './mount-cases.js'

/**
 * A host controller reaching the facade through Nest's DI by the module's token (property
 * injection: the linter does not parse parameter decorators). It counts the channels of
 * one tenant as a principal the test fixes.
 */
function hostController(principal: Principal | null, infrastructureId: string | null) {
  @Controller('host')
  class HostController {
    @Inject(MESSAGING) private readonly messaging!: Messaging

    @Get('ping')
    ping() {
      return { pong: true, facade: this.messaging instanceof Messaging }
    }

    @Get('channel-count')
    async count() {
      if (!principal || !infrastructureId) return { count: null }
      return { count: (await this.messaging.listChannels(principal, { infrastructureId })).length }
    }
  }
  return HostController
}

async function bootNest(
  options: Parameters<typeof MessagingModule.forRoot>[0],
  as: Principal | null = null,
  infrastructureId: string | null = null,
): Promise<INestApplication> {
  @Module({
    imports: [MessagingModule.forRoot(options)],
    controllers: [hostController(as, infrastructureId)],
  })
  class AppModule {}
  const app = await NestFactory.create(AppModule, { logger: false })
  await app.listen(0, '127.0.0.1')
  return app
}

async function closeNest(app: INestApplication): Promise<void> {
  app.getHttpServer().closeAllConnections()
  await app.close()
}

describeMount('NestJS', async (f) => {
  const app = await bootNest({
    messaging: f.messaging,
    authenticate: (r) => authOf(f, r),
    maxBodyBytes: 16 * 1024,
  })
  return { origin: originOf(app.getHttpServer().address()), close: () => closeNest(app) }
})

function authOf(f: ReturnType<typeof fixture>, r: Request) {
  const token = (r.headers.get('authorization') ?? '').replace(/^Bearer /, '')
  return f.tokens.get(token) ?? null
}

describe('NestJS module: the facade in DI', () => {
  it("injects the host's Messaging into its providers (token and class) and serves its routes", async () => {
    const f = fixture()
    await f.seed()
    const app = await bootNest(
      { messaging: f.messaging, authenticate: (r) => authOf(f, r) },
      f.principals.memberA,
      f.infraA,
    )
    try {
      expect(app.get(MESSAGING)).toBe(f.messaging)
      expect(app.get(Messaging)).toBe(f.messaging)
      const origin = originOf(app.getHttpServer().address())
      const ping = await fetch(`${origin}/host/ping`)
      expect(await ping.json()).toEqual({ pong: true, facade: true })
      const count = await fetch(`${origin}/host/channel-count`)
      expect(await count.json()).toEqual({ count: 1 })
    } finally {
      await closeNest(app)
    }
  })

  it('exposes the facade without routes when mount is false', async () => {
    const f = fixture()
    const app = await bootNest({ messaging: f.messaging, authenticate: () => null, mount: false })
    try {
      const origin = originOf(app.getHttpServer().address())
      const res = await fetch(`${origin}/functions/v1/messaging/openapi.json`)
      expect(res.status).toBe(404)
      expect(app.get(MESSAGING)).toBe(f.messaging)
    } finally {
      await closeNest(app)
    }
  })

  it('builds its options from other providers with forRootAsync', async () => {
    const f = fixture()
    const CONFIG = Symbol('config')
    @Module({ providers: [{ provide: CONFIG, useValue: { basePath: '/api/messaging' } }], exports: [CONFIG] })
    class ConfigModule {}
    @Module({
      imports: [
        MessagingModule.forRootAsync({
          imports: [ConfigModule],
          inject: [CONFIG],
          useFactory: async (config: { basePath: string }) => ({
            messaging: f.messaging,
            authenticate: (r: Request) => authOf(f, r),
            basePath: config.basePath,
          }),
        }),
      ],
    })
    class AsyncAppModule {}
    const app = await NestFactory.create(AsyncAppModule, { logger: false })
    await app.listen(0, '127.0.0.1')
    try {
      expect(app.get(MESSAGING)).toBe(f.messaging)
      const origin = originOf(app.getHttpServer().address())
      const res = await fetch(`${origin}/api/messaging/channels?infrastructureId=${f.infraA}`, {
        headers: { authorization: 'Bearer tok-memberA' },
      })
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual([])
    } finally {
      await closeNest(app)
    }
  })
})
