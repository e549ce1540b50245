import { z } from 'zod'
import * as inputs from '../domain/inputs.js'
import * as notifyInputs from '../domain/notify-inputs.js'
import * as templateInputs from '../domain/template-inputs.js'
import * as notifyResponses from './notify-schemas.js'
import type { RouteDef } from './router.js'
import * as responses from './schemas.js'
import * as templateResponses from './template-schemas.js'

/** What a host may say about its deployment in the document. */
export interface OpenApiOptions {
  readonly title?: string
  readonly version?: string
  readonly description?: string
  readonly servers?: ReadonlyArray<{ readonly url: string; readonly description?: string }>
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
 * The OpenAPI 3.1 document of the routes, generated from the same zod schemas the facade
 * parses with, so the document cannot drift from what the handler accepts.
 *
 * @example
 * const doc = buildOpenApiDocument(ROUTES, '/functions/v1/messaging', { servers: [{ url: 'https://api.example.com' }] })
 */
export function buildOpenApiDocument(
  routes: readonly RouteDef[],
  basePath: string,
  options: OpenApiOptions = {},
): Record<string, unknown> {
  const inputNames = new Map<z.ZodType, string>([
    ...named(inputs as Record<string, unknown>),
    ...named(notifyInputs as Record<string, unknown>),
    ...named(templateInputs as Record<string, unknown>),
  ])
  const outputNames = new Map<z.ZodType, string>([
    ...named(responses as Record<string, unknown>, 'Schema'),
    ...named(notifyResponses as Record<string, unknown>, 'Schema'),
    ...named(templateResponses as Record<string, unknown>, 'Schema'),
  ])
  const nameOf = (map: Map<z.ZodType, string>, schema: z.ZodType, fallback: string) => {
    const existing = map.get(schema)
    if (existing) return existing
    map.set(schema, fallback)
    return fallback
  }
  const jsonValue = inputs.enqueueInput.shape.payload
  inputNames.set(jsonValue, 'JsonValue')
  const routeInputs = routes.map((r) => nameOf(inputNames, r.input, `${pascal(r.operationId)}Input`))
  const routeOutputs = routes.map((r) =>
    r.response ? nameOf(outputNames, r.response, `${pascal(r.operationId)}Response`) : null,
  )
  const schemas = {
    ...components([...inputNames.entries()], 'input'),
    ...components([...outputNames.entries()], 'output'),
  }

  const problem = { $ref: '#/components/responses/Problem' }
  const paths: Record<string, Record<string, unknown>> = {}
  routes.forEach((route, idx) => {
    const inputName = routeInputs[idx]!
    const outputName = routeOutputs[idx]
    const inputSchema = schemas[inputName] as {
      properties?: Record<string, JsonSchema>
      required?: string[]
    }
    const props = inputSchema.properties ?? {}
    const required = new Set(inputSchema.required ?? [])
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
        description: `Same as the body field \`${field}\`; when both are sent they must agree.`,
        schema: { type: 'string', minLength: 1, maxLength: 200 },
      })
    }
    const success = route.status ?? 200
    const ok = outputName
      ? { description: 'OK', content: { 'application/json': { schema: { $ref: `${REF}${outputName}` } } } }
      : { description: 'No content' }
    const responsesOf: Record<string, unknown> = {
      [String(success)]: ok,
      ...(route.path === '/queue' || route.path === '/channel'
        ? { [success === 200 ? '201' : '200']: ok }
        : {}),
      400: problem,
      401: problem,
      403: problem,
      404: problem,
      409: problem,
      ...(route.from === 'body' && { 413: problem, 415: problem }),
      ...(route.quota && { 429: problem }),
      500: problem,
    }
    paths[openApiPath(basePath, route.path)] ??= {}
    paths[openApiPath(basePath, route.path)]![route.method.toLowerCase()] = {
      operationId: route.operationId,
      summary: route.summary,
      ...(route.description !== undefined && { description: route.description }),
      tags: [route.tag],
      ...(parameters.length > 0 && { parameters }),
      ...(route.from === 'body' && {
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: `${REF}${inputName}` } } },
        },
      }),
      responses: responsesOf,
    }
  })
  paths[`${basePath}/openapi.json`] = {
    get: {
      operationId: 'getOpenApiDocument',
      summary: 'This document',
      tags: ['meta'],
      security: [],
      responses: { 200: { description: 'OpenAPI 3.1 document', content: { 'application/json': {} } } },
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
    },
    ...(options.servers && { servers: options.servers }),
    security: [
      Object.fromEntries(Object.keys(options.securitySchemes ?? { bearerAuth: 0 }).map((k) => [k, []])),
    ],
    paths,
    components: {
      schemas,
      responses: {
        Problem: {
          description: 'An RFC 9457 problem document',
          content: { 'application/problem+json': { schema: { $ref: `${REF}Problem` } } },
        },
      },
      securitySchemes: options.securitySchemes ?? { bearerAuth: { type: 'http', scheme: 'bearer' } },
    },
  }
}
