import type { ErrorRequestHandler, RequestHandler } from 'express'
import { PayloadTooLargeError, ValidationError } from '../../domain/errors.js'
import type { FetchHandler } from '../fetch-handler.js'
import { HttpProblem } from '../problem.js'
import { nodeMiddleware, sendWebResponse, toWebRequest } from './node.js'

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

/** The domain's error for a body parser's failure (body-parser's `type`s), or null for anything else. */
function parserError(err: unknown): unknown {
  const e = err as { type?: unknown; length?: unknown; limit?: unknown; charset?: unknown } | null
  switch (typeof e === 'object' && e !== null ? e.type : undefined) {
    case 'entity.parse.failed':
      return ValidationError.single('(body)', 'malformed_json', 'body is not valid JSON')
    case 'entity.too.large':
      return new PayloadTooLargeError(
        '(body)',
        typeof e?.length === 'number' ? e.length : 0,
        typeof e?.limit === 'number' ? e.limit : 0,
      )
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return new HttpProblem('UNSUPPORTED_MEDIA_TYPE', 'expected application/json (UTF-8)')
    default:
      return null
  }
}

/**
 * Error middleware for the base path: when a host's body parser ran before the mount and
 * failed, its error still becomes the handler's problem document (400, 413, 415), not the
 * framework's HTML page. Other errors pass on.
 */
export function messagingExpressErrors(handler: FetchHandler): ErrorRequestHandler {
  return (err, req, res, next) => {
    const mapped = parserError(err)
    if (mapped === null) return next(err)
    sendWebResponse(res, handler.renderError(mapped, toWebRequest(req))).catch(next)
  }
}

/** A minimal router-like target: an Express app or Router. */
export interface ExpressLike {
  use(path: string, ...handlers: Array<RequestHandler | ErrorRequestHandler>): unknown
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
  app.use(handler.basePath || '/', messagingExpress(handler), messagingExpressErrors(handler))
}

export type { FetchHandler } from '../fetch-handler.js'
