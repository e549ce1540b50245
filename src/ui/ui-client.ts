import { errorFromProblem, MessagingClient, type MessagingClientOptions } from '../client/index.js'
import type { ProblemDetails } from '../http/problem.js'

/** A JSON Schema (2020-12) object, as the handler generates it from a zod schema. */
export type JsonSchema = { readonly [key: string]: unknown }

/** One channel type the handler accepts: `GET /channel-types`. */
export interface ChannelTypeInfo {
  readonly type: string
  /** Dotted config paths of write-only fields (`smtp.auth.pass`). */
  readonly secretPaths: readonly string[]
  readonly configSchema: JsonSchema
}

/**
 * The typed client plus the reads the components need that the base client does not carry
 * (yet): the channel types with their config schemas.
 *
 * @example
 * const client = createUiClient({ baseUrl: '/functions/v1/messaging', getToken, infrastructureId })
 * document.querySelector('messaging-channels').client = client
 */
export class MessagingUiClient extends MessagingClient {
  private readonly uiBase: string
  private readonly uiFetch: typeof fetch

  constructor(private readonly uiOptions: MessagingClientOptions) {
    super(uiOptions)
    this.uiBase = String(uiOptions.baseUrl).replace(/\/+$/, '')
    this.uiFetch = (uiOptions.fetch ?? globalThis.fetch).bind(globalThis)
  }

  /** Every channel type of the instance, with the JSON Schema of its config. */
  listChannelTypes(): Promise<ChannelTypeInfo[]> {
    return this.uiGet<ChannelTypeInfo[]>('/channel-types')
  }

  private async uiGet<T>(path: string): Promise<T> {
    const url = new URL(
      `${this.uiBase}${path}`,
      (globalThis as { location?: { href: string } }).location?.href,
    )
    const headers: Record<string, string> = { accept: 'application/json', ...this.uiOptions.headers }
    const token = await this.uiOptions.getToken?.()
    if (token) headers.authorization = `Bearer ${token}`
    const res = await this.uiFetch(url, { headers })
    const text = await res.text()
    if (res.ok) return JSON.parse(text) as T
    let problem: unknown = null
    try {
      problem = JSON.parse(text)
    } catch {
      // A proxy's page, not a problem document.
    }
    if (
      typeof problem === 'object' &&
      problem !== null &&
      typeof (problem as { code?: unknown }).code === 'string'
    ) {
      throw errorFromProblem(res.status, problem as ProblemDetails)
    }
    throw new Error(`HTTP ${res.status}`)
  }
}

/** See {@link MessagingUiClient}. */
export function createUiClient(options: MessagingClientOptions): MessagingUiClient {
  return new MessagingUiClient(options)
}
