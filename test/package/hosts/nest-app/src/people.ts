import { randomUUID } from 'node:crypto'
import type { Principal } from 'messaging'

/** The host's users and their sessions (a real host reads these from its own auth). */
export class People {
  readonly infrastructureId = randomUUID()
  private readonly grant = [{ infrastructureId: this.infrastructureId, businessId: null }]
  readonly admin: Principal = { userId: randomUUID(), role: 'infra_admin', grants: this.grant }
  readonly automation: Principal = { userId: randomUUID(), role: 'member', grants: this.grant }
  readonly reader: Principal = { userId: randomUUID(), role: 'member', grants: this.grant }
  readonly service: Principal = { userId: randomUUID(), role: 'service', grants: this.grant }
  readonly sessions = new Map<string, Principal>([
    ['nest-admin-session', this.admin],
    ['nest-reader-session', this.reader],
  ])

  authenticate(request: Request): Principal | null {
    const token = /^Bearer (.+)$/.exec(request.headers.get('authorization') ?? '')?.[1]
    return (token && this.sessions.get(token)) || null
  }
}
