import type { RequestHandler } from 'express'
import type { FetchHandler } from '../fetch-handler.js'
import { nodeMiddleware } from './node.js'

/**
 * The handler as Express middleware. Mount it at the handler's base path, before any
 * body parser (`express.json()` would answer bad JSON and large bodies itself, not as
 * problem documents); a body a parser already read is re-encoded and still served.
 *
 * @example
 * const handler = createFetchHandler({ messaging, authenticate })
 * app.use(handler.basePath, messagingExpress(handler))
 */
export function messagingExpress(handler: FetchHandler): RequestHandler {
  const run = nodeMiddleware(handler)
  return (req, res, next) => run(req, res, next)
}

/** A minimal router-like target: an Express app or Router. */
export interface ExpressLike {
  use(path: string, ...handlers: RequestHandler[]): unknown
}

/**
 * Mounts the handler on an Express app or router at its base path.
 *
 * @example
 * const app = express()
 * mountExpress(app, createFetchHandler({ messaging, authenticate }))
 * app.use(express.json()) // the host's own routes after
 */
export function mountExpress(app: ExpressLike, handler: FetchHandler): void {
  app.use(handler.basePath || '/', messagingExpress(handler))
}

export type { FetchHandler } from '../fetch-handler.js'
