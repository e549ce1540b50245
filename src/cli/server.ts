import { randomBytes, randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { z } from 'zod'
import { type Principal, principalSchema } from '../domain/tenant-scope.js'
import { createFetchHandler, type EnqueueQuota, type FetchHandler } from '../http/index.js'
import { createNodeListener } from '../http/mounts/node.js'
import type { Messaging } from '../messaging.js'
import { CliError } from './context.js'

/** Bearer token -> principal, as a host's session store would answer. */
export type TokenMap = ReadonlyMap<string, Principal>

const tokensFileSchema = z.record(
  z.string().min(16, 'tokens must be at least 16 characters'),
  principalSchema,
)

/** Reads `{ "<token>": { "userId", "role", "grants": [...] }, ... }`. */
export function readTokensFile(path: string): TokenMap {
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'))
  } catch (e) {
    throw new CliError(`cannot read the tokens file ${path}: ${e instanceof Error ? e.message : e}`)
  }
  const parsed = tokensFileSchema.safeParse(raw)
  if (!parsed.success) {
    throw new CliError(
      `tokens file ${path}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    )
  }
  return new Map(Object.entries(parsed.data))
}

/** A fresh tenant with one principal per role and a random token each, for trying the server out. */
export function demoTokens(): { infrastructureId: string; tokens: Map<string, Principal> } {
  const infrastructureId = randomUUID()
  const tokens = new Map<string, Principal>()
  for (const role of ['infra_admin', 'member', 'service'] as const) {
    tokens.set(`demo_${role}_${randomBytes(12).toString('hex')}`, {
      userId: randomUUID(),
      role,
      grants: [{ infrastructureId, businessId: null }],
    })
  }
  return { infrastructureId, tokens }
}

/** The host's authentication hook over a token map: `Authorization: Bearer <token>`. */
export function bearerAuthenticate(tokens: TokenMap): (request: Request) => Principal | null {
  return (request) => {
    const header = request.headers.get('authorization') ?? ''
    const match = /^Bearer\s+(\S+)$/i.exec(header)
    return match ? (tokens.get(match[1]!) ?? null) : null
  }
}

export interface RunningServer {
  /** `http://host:port` plus the base path. */
  readonly url: string
  readonly handler: FetchHandler
  /** The web components' page, when served. */
  readonly uiUrl: string | null
  close(): Promise<void>
}

/** A sign-in the demo page offers. */
export interface UiIdentity {
  readonly label: string
  readonly token: string
  readonly infrastructureId: string
  readonly userId?: string
}

/** The page's sign-in picker over a token map: one entry per token, labelled by role. */
export function identitiesOf(tokens: TokenMap, name: (p: Principal) => string = (p) => p.role): UiIdentity[] {
  return [...tokens].flatMap(([token, p]) => {
    const infrastructureId = p.grants[0]?.infrastructureId
    return infrastructureId ? [{ label: name(p), token, infrastructureId, userId: p.userId }] : []
  })
}

/** Serves the fetch handler on Node's own HTTP server (the package's Node mount, no extra dependency). */
export async function startServer(options: {
  messaging: Messaging
  tokens: TokenMap
  host: string
  port: number
  basePath?: string
  enqueueQuota?: EnqueueQuota
  onError?: (error: unknown) => void
  /** Serve the web components' page under `/ui/`, offering these sign-ins in its picker (demo tokens only). */
  ui?: { identities?: UiIdentity[] }
  /** Told the status of every answer of the API (a store that is back answers below 500 again). */
  onAnswer?: (status: number) => void
}): Promise<RunningServer> {
  const handler = createFetchHandler({
    messaging: options.messaging,
    authenticate: bearerAuthenticate(options.tokens),
    ...(options.basePath !== undefined && { basePath: options.basePath }),
    ...(options.enqueueQuota && { enqueueQuota: options.enqueueQuota }),
    ...(options.onError && { onError: options.onError }),
  })
  const onAnswer = options.onAnswer
  const api: (request: Request) => Promise<Response> = onAnswer
    ? async (request) => {
        const response = await handler(request)
        onAnswer(response.status)
        return response
      }
    : async (request) => handler(request)
  let fetch: (request: Request) => Response | Promise<Response> = api
  let uiPath: string | null = null
  if (options.ui) {
    try {
      const { createUiAssetHandler, uiAssets } = await import('../ui/assets.js')
      const assets = await uiAssets({
        apiBaseUrl: handler.basePath,
        ...(options.ui.identities && { identities: options.ui.identities }),
      })
      const ui = createUiAssetHandler(assets, { prefix: '/ui' })
      fetch = (request) => ui(request) ?? api(request)
      uiPath = '/ui/'
    } catch (e) {
      // The page needs its browser bundle (a build, or esbuild to make one): the API runs without it.
      options.onError?.(e)
    }
  }
  const server = createServer(createNodeListener(fetch, options.onError ? { onError: options.onError } : {}))
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) =>
      reject(new CliError(`cannot listen on ${options.host}:${options.port}: ${e.message}`)),
    )
    server.listen(options.port, options.host, () => resolve())
  })
  const address = server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return {
    url: `http://${host}:${address.port}${handler.basePath}`,
    uiUrl: uiPath ? `http://${host}:${address.port}${uiPath}` : null,
    handler,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
