import { z } from 'zod'
import * as inputs from '../domain/inputs.js'
import * as notifyResponses from './notify-schemas.js'
import type { RouteDef } from './router.js'
import * as responses from './schemas.js'
import * as templateResponses from './template-schemas.js'

/** What a host may say about its deployment in the document. */
export interface OpenApiOptions {
  readonly title?: string
  readonly version?: string
  readonly description?: string
  /** Default one relative server, `/`: the origin the document was fetched from (paths carry the base path). */
  readonly servers?: ReadonlyArray<{ readonly url: string; readonly description?: string }>
  /** Default the module's own, MIT. */
  readonly license?: { readonly name: string; readonly identifier?: string; readonly url?: string }
  /** Replaces the default `bearerAuth` (HTTP bearer) scheme: the host owns authentication. */
  readonly securitySchemes?: Readonly<Record<string, unknown>>
}

type JsonSchema = Record<string, unknown>

const pascal = (name: string) => name.charAt(0).toUpperCase() + name.slice(1)

/** Every exported zod schema of a module, named after its export (`enqueueInput` -> `EnqueueInput`). */
function named(mod: Record<string, unknown>, strip = ''): Array<[z.ZodType, string]> {
  return Object.entries(mod)
    .filter((e): e is [string, z.ZodType] => e[1] instanceof z.ZodType)
    .map(([k, s]) => [s, pascal(strip ? k.replace(new RegExp(`${strip}$`), '') : k)])
}

const REF = '#/components/schemas/'

// `z.coerce.date()` has no JSON Schema form; on the wire it is an RFC 3339 string.
const override = (ctx: { zodSchema: z.core.$ZodType; jsonSchema: z.core.JSONSchema.BaseSchema }) => {
  if (ctx.zodSchema._zod.def.type === 'date') {
    ctx.jsonSchema.type = 'string'
    ctx.jsonSchema.format = 'date-time'
  }
}

/**
 * Components from a registry: each schema under its id, cross-references as `$ref`s into
 * `#/components/schemas`, shared recursive parts lifted to components of their own.
 */
function components(entries: Array<[z.ZodType, string]>, io: 'input' | 'output'): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>()
  const seen = new Set<z.ZodType>()
  for (const [schema, id] of entries) {
    if (seen.has(schema)) continue
    seen.add(schema)
    registry.add(schema, { id })
  }
  const out = z.toJSONSchema(registry, {
    io,
    unrepresentable: 'any',
    uri: (id) => `${REF}${id}`,
    override,
  }) as { schemas: Record<string, JsonSchema> }
  const result: Record<string, JsonSchema> = {}
  for (const [id, schema] of Object.entries(out.schemas)) {
    const { $schema: _s, $id: _i, $defs, ...rest } = schema
    result[id] = rest
    if ($defs && typeof $defs === 'object') {
      for (const [k, v] of Object.entries($defs as Record<string, JsonSchema>)) result[k] = v
    }
  }
  // Lifted `$defs` are referenced as `<component>#/$defs/<name>`; point those at the lifted component.
  return JSON.parse(
    JSON.stringify(result).replace(/"#\/components\/schemas\/[^"#]*#\/\$defs\/([^"]+)"/g, `"${REF}$1"`),
  )
}

/** The OpenAPI path of a route: `:id` becomes `{id}`. */
const openApiPath = (basePath: string, path: string) => `${basePath}${path.replace(/:(\w+)/g, '{$1}')}`

/**
 * Any JSON value. The domain's schema is a refinement of `unknown` that JSON Schema cannot
 * express; written out here so generated clients accept any JSON payload: a bare type list
 * makes an object "no properties allowed" in TypeScript generators, and array items that
 * refer back to this schema make a type that refers to itself (TS2502), so items are left open.
 */
const JSON_VALUE: JsonSchema = {
  description: 'Any JSON value',
  anyOf: [
    { type: 'object', additionalProperties: { $ref: `${REF}JsonValue` } },
    { type: 'array', items: {} },
    { type: 'string' },
    { type: 'number' },
    { type: 'boolean' },
    { type: 'null' },
  ],
}

/**
 * A route's input as one inline JSON Schema (input side: fields with defaults are optional),
 * JSON values as `$ref`s to the JsonValue component.
 */
function inputSchemaOf(input: z.ZodType): JsonSchema {
  const registry = z.registry<{ id: string }>()
  registry.add(inputs.jsonValueSchema, { id: 'JsonValue' })
  registry.add(input, { id: '__input' })
  const out = z.toJSONSchema(registry, {
    io: 'input',
    unrepresentable: 'any',
    uri: (id) => `${REF}${id}`,
    override,
  }) as { schemas: Record<string, JsonSchema> }
  const { $schema: _s, $id: _i, $defs: _d, ...schema } = out.schemas.__input!
  return schema
}

/**
 * The body schema of a route with path parameters: the path fills those fields, so the body
 * leaves them out (each branch of a union alike).
 */
function withoutFields(schema: JsonSchema, fields: readonly string[]): JsonSchema {
  if (fields.length === 0) return schema
  const strip = (s: JsonSchema): JsonSchema => {
    const branches = (s.anyOf ?? s.oneOf) as JsonSchema[] | undefined
    if (branches) {
      // A union told apart by a field the path now carries (the channel type of a template)
      // may match a body in more than one branch: `anyOf`, not `oneOf`.
      const { oneOf: _o, anyOf: _a, ...rest } = s
      return { ...rest, anyOf: branches.map(strip) }
    }
    const properties = { ...(s.properties as Record<string, JsonSchema> | undefined) }
    for (const f of fields) delete properties[f]
    const required = ((s.required as string[] | undefined) ?? []).filter((r) => !fields.includes(r))
    const { required: _r, ...rest } = s
    return { ...rest, properties, ...(required.length > 0 && { required }) }
  }
  return strip(schema)
}

/** Each problem status a route can answer, and when. */
function problemResponses(route: RouteDef): Record<string, unknown> {
  const problem = (description: string, headers?: Record<string, unknown>) => ({
    description,
    ...(headers && { headers }),
    content: { 'application/problem+json': { schema: { $ref: `${REF}Problem` } } },
  })
  const retryAfter = {
    'Retry-After': { description: 'Seconds to wait before trying again', schema: { type: 'integer' } },
  }
  return {
    400: problem('VALIDATION_FAILED: the input broke a rule (`errors` names each field and rule)'),
    401: route.public
      ? problem('UNAUTHENTICATED: the signature is missing, does not match, or is outside its tolerance')
      : problem('UNAUTHENTICATED: no principal for the request', {
          'WWW-Authenticate': { description: 'The challenge', schema: { type: 'string' } },
        }),
    403: problem('TENANT_SCOPE_VIOLATION or FORBIDDEN_ROLE'),
    404: problem('NOT_FOUND (outside the scope looks the same as absent)'),
    405: problem('METHOD_NOT_ALLOWED: the path exists with other methods', {
      Allow: { description: 'The methods of the path', schema: { type: 'string' } },
    }),
    409: problem('CONFLICT, ILLEGAL_TRANSITION or CHANNEL_DISABLED'),
    ...(route.from === 'body' && {
      413: problem('PAYLOAD_TOO_LARGE: the body or the payload is over its cap'),
      415: problem('UNSUPPORTED_MEDIA_TYPE: the body is not JSON in UTF-8'),
    }),
    ...(route.from === 'raw' && {
      413: problem('PAYLOAD_TOO_LARGE: the body is over its cap'),
      415: problem(
        `UNSUPPORTED_MEDIA_TYPE: the body is not ${route.rawBody?.mediaType ?? 'of the documented type'}`,
      ),
    }),
    ...(route.quota && { 429: problem('RATE_LIMITED: the tenant spent its enqueue quota', retryAfter) }),
    500: problem('INTERNAL: a fault of the server (its cause is never sent)'),
    503: problem('STORAGE_FAILURE: the store is unavailable; worth a retry', retryAfter),
  }
}

/** The success responses: every status the route answers, `Location` on a 201. */
function successResponses(route: RouteDef, outputName: string | null): Record<string, unknown> {
  const statuses = route.statuses ?? [route.status ?? 200]
  const out: Record<string, unknown> = {}
  for (const status of statuses) {
    if (status === 204 || !outputName) {
      out[status] = { description: 'No content' }
      continue
    }
    out[status] = {
      description: status === 201 ? 'Created' : 'OK',
      ...(status === 201 && {
        headers: { Location: { description: 'The new resource', schema: { type: 'string' } } },
      }),
      content: { [route.produces ?? 'application/json']: { schema: { $ref: `${REF}${outputName}` } } },
    }
  }
  return out
}

/**
 * The OpenAPI 3.1 document of the routes, generated from the same zod schemas the facade
 * parses with, so the document cannot drift from what the handler accepts. Request bodies
 * are `components.requestBodies` with their schemas inline, so generators treat fields with
 * defaults as optional to send.
 *
 * @example
 * const doc = buildOpenApiDocument(ROUTES, '/functions/v1/messaging', { servers: [{ url: 'https://api.example.com' }] })
 */
export function buildOpenApiDocument(
  routes: readonly RouteDef[],
  basePath: string,
  options: OpenApiOptions = {},
): Record<string, unknown> {
  const outputNames = new Map<z.ZodType, string>([
    ...named(responses as Record<string, unknown>, 'Schema'),
    ...named(notifyResponses as Record<string, unknown>, 'Schema'),
    ...named(templateResponses as Record<string, unknown>, 'Schema'),
  ])
  const routeOutputs = routes.map((r) => {
    if (!r.response) return null
    const existing = outputNames.get(r.response)
    if (existing) return existing
    const name = `${pascal(r.operationId)}Response`
    outputNames.set(r.response, name)
    return name
  })
  const schemas: Record<string, JsonSchema> = {
    ...components([...outputNames.entries()], 'output'),
    JsonValue: JSON_VALUE,
  }
  const requestBodies: Record<string, unknown> = {}
  const paths: Record<string, Record<string, unknown>> = {}
  routes.forEach((route, idx) => {
    const input = inputSchemaOf(route.input)
    const props = (input.properties ?? {}) as Record<string, JsonSchema>
    const required = new Set((input.required as string[] | undefined) ?? [])
    const pathParams = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]!)
    const parameters: unknown[] = pathParams.map((name) => ({
      name,
      in: 'path',
      required: true,
      schema: props[name] ?? { type: 'string' },
    }))
    if (route.from === 'query') {
      for (const [name, schema] of Object.entries(props)) {
        if (!pathParams.includes(name)) {
          parameters.push({ name, in: 'query', required: required.has(name), schema })
        }
      }
    }
    for (const [header, field] of Object.entries(route.headers ?? {})) {
      parameters.push({
        name: header.replace(/(^|-)(\w)/g, (_, d: string, c: string) => d + c.toUpperCase()),
        in: 'header',
        required: false,
        description:
          route.from === 'raw'
            ? `Input field \`${field}\`.`
            : `Same as the body field \`${field}\`; when both are sent they must agree.`,
        schema: { type: 'string', minLength: 1, maxLength: route.from === 'raw' ? 4096 : 200 },
      })
    }
    const bodyName = pascal(route.operationId)
    if (route.from === 'body') {
      requestBodies[bodyName] = {
        required: true,
        content: { 'application/json': { schema: withoutFields(input, pathParams) } },
      }
    }
    if (route.from === 'raw' && route.rawBody) {
      requestBodies[bodyName] = {
        required: true,
        content: { [route.rawBody.mediaType]: { schema: inputSchemaOf(route.rawBody.schema) } },
      }
    }
    paths[openApiPath(basePath, route.path)] ??= {}
    paths[openApiPath(basePath, route.path)]![route.method.toLowerCase()] = {
      operationId: route.operationId,
      summary: route.summary,
      ...(route.description !== undefined && { description: route.description }),
      tags: [route.tag],
      ...(parameters.length > 0 && { parameters }),
      ...(route.public && { security: [] }),
      ...((route.from === 'body' || (route.from === 'raw' && route.rawBody)) && {
        requestBody: { $ref: `#/components/requestBodies/${bodyName}` },
      }),
      responses: { ...successResponses(route, routeOutputs[idx]!), ...problemResponses(route) },
    }
  })
  paths[`${basePath}/openapi.json`] = {
    get: {
      operationId: 'getOpenApiDocument',
      summary: 'This document',
      tags: ['meta'],
      security: [],
      responses: {
        200: {
          description: 'OpenAPI 3.1 document',
          content: { 'application/json': { schema: { type: 'object', additionalProperties: true } } },
        },
        405: {
          description: 'METHOD_NOT_ALLOWED: the document is read with GET',
          content: { 'application/problem+json': { schema: { $ref: `${REF}Problem` } } },
        },
      },
    },
  }

  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: options.title ?? 'messaging',
      version: options.version ?? '0.1.0',
      description:
        options.description ??
        'Tenant-scoped channels, members and an outbox. Errors are RFC 9457 problem documents with a stable `code`.',
      license: options.license ?? { name: 'MIT', identifier: 'MIT' },
    },
    servers: options.servers ?? [
      { url: '/', description: 'The origin this document is served from (paths include the base path)' },
    ],
    security: [
      Object.fromEntries(Object.keys(options.securitySchemes ?? { bearerAuth: 0 }).map((k) => [k, []])),
    ],
    paths,
    components: {
      schemas,
      requestBodies,
      securitySchemes: options.securitySchemes ?? { bearerAuth: { type: 'http', scheme: 'bearer' } },
    },
  }
}
