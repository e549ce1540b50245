// The free names of the documentation's snippets: what a page's earlier text (or the host)
// has in hand. Every snippet is type-checked with these in scope and nothing else.
import type { Kysely } from 'kysely'
import type { Channel, EnqueueInput, Messaging, Principal } from 'messaging'
import type { FetchHandler } from 'messaging/http'
import type { PostgresStorage } from 'messaging/postgres'
import type { SecretBox } from 'messaging/secrets'
import type { SmtpRelay } from 'messaging/transports/email'

declare global {
  // The module and its store, set up as the page showed.
  const messaging: Messaging
  const storage: PostgresStorage
  const handler: FetchHandler
  const secrets: SecretBox
  const secretBox: SecretBox
  const relay: SmtpRelay
  // The host's tenants, people and sessions.
  const infrastructureId: string
  const businessId: string
  const acmeId: string
  const userId: string
  const botId: string
  const workerId: string
  const admin: Principal
  const member: Principal
  const service: Principal
  const principal: Principal
  const worker: Principal
  const input: EnqueueInput
  const token: string
  const getToken: () => string
  const session: { readonly accessToken: string }
  const sessions: { principalOf(from: Request | string | null): Principal | null }
  const authenticate: (request: Request) => Principal | null
  const shutdownSignal: AbortSignal
  // The host's own database and data.
  const db: Kysely<{ orders: { id: string; total: number } }>
  const order: { id: string; total: number }
  const OWNER_URL: string
  const APP_URL: string
  // A channel read back, its config, and a receiver's request.
  const channel: Channel
  const config: Record<string, unknown>
  const rawBody: string
  const request: { readonly headers: Record<string, string> }
  // Deno's server, for the handler's one-line example.
  const Deno: { serve(handler: (request: Request) => Response | Promise<Response>): unknown }
}
