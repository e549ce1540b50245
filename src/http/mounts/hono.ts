import type { Env, Hono, Schema } from 'hono'
import type { FetchHandler } from '../fetch-handler.js'

/**
 * Mounts the handler on a Hono app, natively: Hono's request is already a Web Request.
 * Mount it on the root app (a `basePath()` of the app would not be part of the handler's
 * base path), and before any middleware that reads the body.
 *
 * @example
 * const app = new Hono()
 * mountHono(app, createFetchHandler({ messaging, authenticate }))
 * export default app
 */
export function mountHono<E extends Env, S extends Schema, B extends string>(
  app: Hono<E, S, B>,
  handler: FetchHandler,
): void {
  app.all(handler.basePath || '/', (c) => handler(c.req.raw))
  app.all(`${handler.basePath}/*`, (c) => handler(c.req.raw))
}

export type { FetchHandler } from '../fetch-handler.js'
