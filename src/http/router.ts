import { z } from 'zod'
import { ValidationError } from '../domain/errors.js'
import type { Principal } from '../domain/tenant-scope.js'
import type { Messaging } from '../messaging.js'

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE'

/** What a route's `run` sees besides the facade, the principal and the input. */
export interface RouteContext {
  readonly request: Request
  readonly url: URL
  readonly basePath: string
  /** Milliseconds between the heartbeat comments of an event stream. */
  readonly heartbeatMs: number
  /** Hands an error that ends a stream already under way to the host's `onError`. */
  readonly report?: (error: unknown) => void
  /**
   * The URL the caller requested as the outside world spells it: the handler's `publicOrigin`
   * with this request's path and query, or the request's own URL without one (what a
   * provider signs a receipt over).
   */
  readonly publicUrl: string
}

/** A response other than `200 <json>`: a status, an optional body, headers. */
export class Reply {
  constructor(
    readonly status: number,
    readonly body?: unknown,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {}
}

/**
 * One endpoint: the router, the input assembly and the OpenAPI document all read it.
 * The input is the domain's own schema; the handler does not parse it (the facade does),
 * it only assembles the raw object from the path, the query or body, and mapped headers.
 */
export interface RouteDef {
  readonly method: HttpMethod
  /** Relative to the base path; `:name` segments become input fields of that name. */
  readonly path: string
  readonly operationId: string
  readonly summary: string
  readonly description?: string
  readonly tag: string
  /** The domain input schema, documented as the query (GET, DELETE) or the JSON body. */
  readonly input: z.ZodType
  /**
   * Where the input comes from: the query, a JSON body, or (`raw`) the body as text, exactly as
   * sent (a signed receipt: its signature covers those bytes), as input field `body`.
   */
  readonly from: 'query' | 'body' | 'raw'
  /** A `raw` route's body as documented: its media type (checked, else 415) and its fields. */
  readonly rawBody?: { readonly mediaType: string; readonly schema: z.ZodType; readonly maxBytes: number }
  /**
   * No principal: the route authenticates its caller itself (a provider's receipt, by its
   * signature). `run` is given `ANONYMOUS`, a member without grants, which reaches nothing.
   */
  readonly public?: true
  /** Request headers that set an input field (`idempotency-key` -> `idempotencyKey`). */
  readonly headers?: Readonly<Record<string, string>>
  /**
   * Spends the tenant's enqueue quota: `true`, one token of `infrastructureId`'s; `'items'`,
   * one token per entry of `items`, of that entry's tenant.
   */
  readonly quota?: true | 'items'
  /** Success status when `run` returns a plain value; 204 means no body. */
  readonly status?: number
  /** Every success status the route answers, for the document, when `run` picks one (201 or 200). */
  readonly statuses?: readonly number[]
  /** Documents the success body; null for 204. */
  readonly response: z.ZodType | null
  /**
   * The success body's media type when it is not JSON (`GET /metrics`: Prometheus text);
   * `run` then returns the body as a string, sent as it is, or a `ReadableStream` of bytes,
   * streamed as it comes (`GET /inbox/stream`: text/event-stream).
   */
  readonly produces?: string
  readonly run: (
    messaging: Messaging,
    principal: Principal,
    input: Record<string, unknown>,
    ctx: RouteContext,
  ) => Promise<unknown>
}

/** What a public route's `run` is given as its principal: a member without grants, which no call admits. */
export const ANONYMOUS: Principal = Object.freeze({
  userId: '00000000-0000-4000-8000-000000000000',
  role: 'member' as const,
  grants: Object.freeze([]),
})

/** A route with its path split and its query coercions worked out once. */
export interface CompiledRoute {
  readonly def: RouteDef
  readonly segments: readonly string[]
  readonly params: readonly string[]
  readonly coerce: Readonly<Record<string, QueryCoercion>>
}

interface QueryCoercion {
  readonly boolean: boolean
  readonly number: boolean
  readonly nullable: boolean
}

/** JSON Schema types a property admits, looking through anyOf/oneOf. */
function typesOf(prop: unknown): Set<string> {
  const out = new Set<string>()
  const walk = (s: unknown) => {
    if (typeof s !== 'object' || s === null) return
    const o = s as { type?: unknown; anyOf?: unknown; oneOf?: unknown }
    if (typeof o.type === 'string') out.add(o.type)
    if (Array.isArray(o.type)) for (const t of o.type) out.add(String(t))
    for (const alt of [o.anyOf, o.oneOf]) if (Array.isArray(alt)) alt.forEach(walk)
  }
  walk(prop)
  return out
}

function coercionsOf(schema: z.ZodType): Record<string, QueryCoercion> {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as {
    properties?: Record<string, unknown>
  }
  const out: Record<string, QueryCoercion> = {}
  for (const [key, prop] of Object.entries(json.properties ?? {})) {
    const t = typesOf(prop)
    out[key] = {
      boolean: t.has('boolean'),
      number: t.has('integer') || t.has('number'),
      nullable: t.has('null'),
    }
  }
  return out
}

const split = (path: string) => path.split('/').filter((s) => s.length > 0)

export function compileRoute(def: RouteDef): CompiledRoute {
  const segments = split(def.path)
  return {
    def,
    segments,
    params: segments.filter((s) => s.startsWith(':')).map((s) => s.slice(1)),
    coerce: def.from === 'query' ? coercionsOf(def.input) : {},
  }
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}

/** The route's path parameters when `path` (relative to the base) matches it, else null. */
export function matchPath(route: CompiledRoute, path: string): Record<string, string> | null {
  const parts = split(path)
  if (parts.length !== route.segments.length) return null
  const params: Record<string, string> = {}
  for (let i = 0; i < parts.length; i++) {
    const seg = route.segments[i]!
    const part = parts[i]!
    if (seg.startsWith(':')) params[seg.slice(1)] = decode(part)
    else if (seg !== part) return null
  }
  return params
}

/**
 * Query strings carry text; the schemas want booleans and numbers. A value is converted only
 * when it is exactly `true`/`false`, an integer literal, or `null` where null is allowed;
 * anything else stays a string for the schema to reject with the field's path. A repeated
 * key becomes an array, which the schema rejects too.
 */
export function queryInput(route: CompiledRoute, params: URLSearchParams): Record<string, unknown> {
  const entries = new Map<string, unknown>()
  for (const key of new Set(params.keys())) {
    const values = params.getAll(key)
    const c = route.coerce[key]
    const convert = (v: string): unknown => {
      if (!c) return v
      if (c.boolean && (v === 'true' || v === 'false')) return v === 'true'
      if (c.number && /^-?\d{1,15}$/.test(v)) return Number(v)
      if (c.nullable && v === 'null') return null
      return v
    }
    entries.set(key, values.length === 1 ? convert(values[0]!) : values)
  }
  // fromEntries defines own properties, so a `__proto__` key is data, never a prototype.
  return Object.fromEntries(entries)
}

/** Sets the fields the path and headers name; a body or query that says otherwise is a 400. */
export function mergeInput(
  base: Record<string, unknown>,
  fixed: Readonly<Record<string, string>>,
  source: 'path' | 'header',
): Record<string, unknown> {
  const out = { ...base }
  for (const [key, value] of Object.entries(fixed)) {
    if (Object.hasOwn(out, key) && out[key] !== value && !(source === 'header' && out[key] === null)) {
      throw ValidationError.single(
        key,
        `${source}_mismatch`,
        `${key} differs from the value in the ${source === 'path' ? 'path' : 'header'}`,
      )
    }
    out[key] = value
  }
  return out
}
