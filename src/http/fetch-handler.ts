import { RateLimitedError, UnauthenticatedError } from '../domain/errors.js'
import { MAX_ENQUEUE_BATCH } from '../domain/inputs.js'
import { type Principal, principalSchema, TenantScope } from '../domain/tenant-scope.js'
import type { Messaging } from '../messaging.js'
import { type BodyLimits, readJsonObject, readRawText } from './body.js'
import { DEFAULT_HEARTBEAT_MS } from './inbox-stream.js'
import { buildOpenApiDocument, type OpenApiOptions } from './openapi.js'
import {
  HttpProblem,
  headersOf,
  isServerProblem,
  type ProblemDetails,
  problemOf,
  problemResponse,
} from './problem.js'
import { type EnqueueQuota, TokenBuckets } from './quota.js'
import {
  ANONYMOUS,
  type CompiledRoute,
  compileRoute,
  matchPath,
  mergeInput,
  queryInput,
  Reply,
  type RouteDef,
} from './router.js'
import { ROUTES } from './routes.js'

/** The host's authentication hook: the principal of the request, or null when there is none. */
export type Authenticate = (
  request: Request,
) => Principal | null | undefined | Promise<Principal | null | undefined>

export interface FetchHandlerOptions {
  readonly messaging: Messaging
  /**
   * Identifies the caller. Null, undefined or a throw answer 401; the module enforces
   * tenant scope and role after that. It must not consume the body (use `request.clone()`).
   */
  readonly authenticate: Authenticate
  /** Where the routes live. Default `/functions/v1/messaging`. */
  readonly basePath?: string
  /** Request body cap in bytes, checked while streaming. Default 512 KiB. */
  readonly maxBodyBytes?: number
  /** Nesting cap of a JSON body. Default 32. */
  readonly maxDepth?: number
  /** A token bucket per infrastructure on POST /queue. Default: off. */
  readonly enqueueQuota?: EnqueueQuota | false
  /** Milliseconds clock for the quota. Default Date.now. */
  readonly now?: () => number
  /** Serve GET {base}/openapi.json without authentication (default), or not at all (false). */
  readonly openapi?: OpenApiOptions | false
  /** `WWW-Authenticate` value of a 401; null leaves the header out. Default `Bearer realm="messaging"`. */
  readonly challenge?: string | null
  /** Prefix of problem `type` URIs. Default `urn:messaging:problem:`. */
  readonly problemTypeBase?: string
  /** Sees every 5xx's cause and every throw of `authenticate` (for the host's logs; nothing of it is sent). */
  readonly onError?: (error: unknown, request: Request) => void
  /** Milliseconds between the heartbeat comments of `GET /inbox/stream`. Default 15 s. */
  readonly heartbeatMs?: number
  /**
   * The origin the outside world reaches this handler at (`https://api.example.com`), when a
   * proxy in front of it changes the scheme or host: a provider signs its receipt over the URL
   * it called, so `POST /receipts/sms/...` checks the signature over this origin with the
   * request's path and query. Default: the request's own URL.
   */
  readonly publicOrigin?: string
  /** Extra routes, appended to the built-in table. */
  readonly routes?: readonly RouteDef[]
}

/** A Web-standard handler that knows where it is mounted. */
export interface FetchHandler {
  (request: Request): Promise<Response>
  readonly basePath: string
  /** The problem response the handler gives for a thrown value (for mounts that catch a framework's errors). */
  readonly renderError: (error: unknown, request: Request) => Response
}

export const DEFAULT_BASE_PATH = '/functions/v1/messaging'

// The domain caps a payload at 64 KiB; up to 1000 recipients of 320 characters add 320 KiB more.
const DEFAULT_MAX_BODY = 512 * 1024
const DEFAULT_MAX_DEPTH = 32

const JSON_HEADERS = {
  'content-type': 'application/json',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
}

function normaliseBase(path: string): string {
  const trimmed = `/${path.replace(/^\/+|\/+$/g, '')}`
  return trimmed === '/' ? '' : trimmed
}

/**
 * The module's HTTP surface on Web-standard Request/Response: runs on Node, Deno, Bun and
 * edge runtimes, and under every mount in `./mounts`.
 *
 * @example
 * const handle = createFetchHandler({
 *   messaging,
 *   authenticate: async (req) => sessions.principalOf(req.headers.get('authorization')),
 * })
 * Deno.serve(handle) // or export default { fetch: handle }
 */
export function createFetchHandler(options: FetchHandlerOptions): FetchHandler {
  const basePath = normaliseBase(options.basePath ?? DEFAULT_BASE_PATH)
  const limits: BodyLimits = {
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY,
    maxDepth: options.maxDepth ?? DEFAULT_MAX_DEPTH,
  }
  const routes: CompiledRoute[] = [...ROUTES, ...(options.routes ?? [])].map(compileRoute)
  const buckets = options.enqueueQuota ? new TokenBuckets(options.enqueueQuota, options.now) : null
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS
  const publicOrigin = options.publicOrigin === undefined ? null : new URL(options.publicOrigin).origin
  const typeBase = options.problemTypeBase ?? 'urn:messaging:problem:'
  const challenge = options.challenge === undefined ? 'Bearer realm="messaging"' : options.challenge
  let openapiJson: string | null = null
  const openapi = () => {
    openapiJson ??= JSON.stringify(
      buildOpenApiDocument(
        routes.map((r) => r.def),
        basePath,
        options.openapi || {},
      ),
    )
    return openapiJson
  }

  const report = (error: unknown, request: Request) => {
    try {
      options.onError?.(error, request)
    } catch {
      // A failing logger must not turn a response into another error.
    }
  }

  async function authenticate(request: Request): Promise<Principal> {
    let principal: Principal | null | undefined
    try {
      principal = await options.authenticate(request)
    } catch (e) {
      if (!(e instanceof UnauthenticatedError)) report(e, request)
      throw e instanceof UnauthenticatedError ? e : new UnauthenticatedError()
    }
    if (principal === null || principal === undefined) throw new UnauthenticatedError()
    // A malformed principal is the host's bug, not the caller's: a 500, reported.
    const parsed = principalSchema.safeParse(principal)
    if (!parsed.success) throw new Error('authenticate returned an invalid principal')
    return principal
  }

  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

  /**
   * Spends the quota: one token per message, of its tenant's bucket (`items`: one per entry,
   * all or nothing); a spent quota is refused with a `refused` audit entry (RATE_LIMITED)
   * written through the facade, like the facade's own scope and role refusals. The input is
   * not parsed yet: only a well-formed businessId goes into the entry.
   */
  async function spendQuota(
    principal: Principal,
    input: Record<string, unknown>,
    mode: true | 'items',
  ): Promise<void> {
    if (!buckets) return
    const entries: unknown[] =
      mode === 'items'
        ? // An oversized batch is refused by validation, and spends nothing.
          Array.isArray(input.items) && input.items.length <= MAX_ENQUEUE_BATCH
          ? input.items
          : []
        : [input]
    const scope = TenantScope.of(principal)
    const counts = new Map<string, number>()
    const businessOf = new Map<string, unknown>()
    for (const entry of entries) {
      if (typeof entry !== 'object' || entry === null) continue
      const { infrastructureId: raw, businessId } = entry as Record<string, unknown>
      // Ids are canonical in lower case (the facade lower-cases them too): one tenant, one bucket.
      const infra = typeof raw === 'string' ? raw.toLowerCase() : raw
      // Only a caller the tenant's scope admits spends its tokens: anyone else could drain
      // another tenant's quota; the facade refuses them instead.
      if (typeof infra !== 'string' || !scope.canAccessInfrastructure(infra)) continue
      counts.set(infra, (counts.get(infra) ?? 0) + 1)
      if (!businessOf.has(infra)) businessOf.set(infra, businessId)
    }
    if (counts.size === 0) return
    const r = buckets.takeAll(counts)
    if (r.ok) return
    const business = businessOf.get(r.key)
    await options.messaging.recordRefusal(principal, {
      infrastructureId: r.key,
      businessId: typeof business === 'string' && UUID.test(business) ? business : null,
      action: 'outbox.enqueue',
      targetType: 'message',
      errorCode: 'RATE_LIMITED',
      details: { retryAfterSeconds: r.retryAfterSeconds },
    })
    throw new RateLimitedError(r.key, r.retryAfterSeconds)
  }

  async function dispatch(request: Request, url: URL, path: string): Promise<Response> {
    const matching = routes
      .map((route) => ({ route, params: matchPath(route, path) }))
      .filter((m) => m.params !== null)
    if (path === '/openapi.json' && options.openapi !== false) {
      if (request.method !== 'GET') throw new HttpProblem('METHOD_NOT_ALLOWED', 'use GET', { allow: 'GET' })
      return new Response(openapi(), { status: 200, headers: JSON_HEADERS })
    }
    if (matching.length === 0) throw new HttpProblem('ROUTE_NOT_FOUND', `no route ${path}`)
    const hit = matching.find((m) => m.route.def.method === request.method)
    if (!hit) {
      const allow = [...new Set(matching.map((m) => m.route.def.method))].join(', ')
      throw new HttpProblem('METHOD_NOT_ALLOWED', `${request.method} not allowed; use ${allow}`, { allow })
    }
    const { route, params } = hit
    const def = route.def
    const principal = def.public ? ANONYMOUS : await authenticate(request)
    let input =
      def.from === 'body'
        ? await readJsonObject(request, limits)
        : def.from === 'raw'
          ? { body: await readRawText(request, def.rawBody) }
          : queryInput(route, url.searchParams)
    input = mergeInput(input, params!, 'path')
    const fromHeaders: Record<string, string> = {}
    for (const [header, field] of Object.entries(def.headers ?? {})) {
      const value = request.headers.get(header)
      if (value !== null) fromHeaders[field] = value
    }
    input = mergeInput(input, fromHeaders, 'header')
    if (def.quota) await spendQuota(principal, input, def.quota)
    const result = await def.run(options.messaging, principal, input, {
      request,
      url,
      basePath,
      heartbeatMs,
      report: (e) => report(e, request),
      publicUrl: publicOrigin === null ? request.url : `${publicOrigin}${url.pathname}${url.search}`,
    })
    const reply = result instanceof Reply ? result : new Reply(def.status ?? 200, result)
    if (reply.status === 204)
      return new Response(null, { status: 204, headers: { 'cache-control': 'no-store' } })
    if (reply.body instanceof ReadableStream) {
      return new Response(reply.body, {
        status: reply.status,
        headers: {
          'content-type': def.produces ?? 'application/octet-stream',
          'cache-control': 'no-store',
          'x-content-type-options': 'nosniff',
          // Proxies that buffer responses (nginx) pass this one on as it comes.
          'x-accel-buffering': 'no',
          ...reply.headers,
        },
      })
    }
    if (def.produces !== undefined) {
      return new Response(String(reply.body), {
        status: reply.status,
        headers: { ...JSON_HEADERS, 'content-type': def.produces, ...reply.headers },
      })
    }
    return new Response(JSON.stringify(reply.body), {
      status: reply.status,
      headers: { ...JSON_HEADERS, ...reply.headers },
    })
  }

  const renderError = (error: unknown, request: Request): Response => {
    const instance = URL.canParse(request.url) ? new URL(request.url).pathname.slice(0, 500) : undefined
    const problem: ProblemDetails = problemOf(error, {
      typeBase,
      ...(instance !== undefined && { instance }),
    })
    if (isServerProblem(problem)) report(error, request)
    const headers = headersOf(error)
    if (problem.status === 401 && challenge !== null) headers['www-authenticate'] = challenge
    return problemResponse(problem, headers)
  }

  const handler = async (request: Request): Promise<Response> => {
    try {
      const url = new URL(request.url)
      const pathname = url.pathname
      if (pathname !== basePath && !pathname.startsWith(`${basePath}/`)) {
        throw new HttpProblem('ROUTE_NOT_FOUND', `no route ${pathname.slice(0, 200)}`)
      }
      return await dispatch(request, url, pathname.slice(basePath.length) || '/')
    } catch (error) {
      return renderError(error, request)
    }
  }
  return Object.assign(handler, { basePath, renderError })
}
