/**
 * The HTTP surface: a Web-standard `Request -> Response` handler, its route table, the
 * problem format and the OpenAPI document. Framework mounts live in `messaging/http/hono`,
 * `messaging/http/express` and `messaging/http/nest`.
 *
 * @example
 * import { createFetchHandler } from 'messaging/http'
 * const handle = createFetchHandler({ messaging, authenticate: (req) => principalOf(req) })
 * const res = await handle(new Request('http://x/functions/v1/messaging/channels?infrastructureId=...'))
 */

export {
  type Authenticate,
  createFetchHandler,
  DEFAULT_BASE_PATH,
  type FetchHandler,
  type FetchHandlerOptions,
} from './fetch-handler.js'
export { buildOpenApiDocument, type OpenApiOptions } from './openapi.js'
export {
  type HttpErrorCode,
  PROBLEM_CONTENT_TYPE,
  type ProblemCode,
  type ProblemDetails,
  problemOf,
  statusOfCode,
} from './problem.js'
export { type EnqueueQuota, TokenBuckets } from './quota.js'
export { type HttpMethod, Reply, type RouteContext, type RouteDef } from './router.js'
export { ROUTES } from './routes.js'
export * as responseSchemas from './schemas.js'
