import type { Kysely } from 'kysely'
import { StorageError } from '../../domain/errors.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { LoginRoles } from './role-check.js'
import type { MessagingDatabase } from './schema.js'

/** A pool the adapter runs units of work on, with what its login may become. */
export interface LoginPool {
  readonly db: Kysely<MessagingDatabase>
  /** null: not checked (allowPrivilegedRole). */
  /** null: not checked (allowPrivilegedRole). Set once the check has reached the server. */
  roles: LoginRoles | null
}

/** Where a scope's unit of work runs, and the role it switches to there (null: none needed). */
export interface Route {
  readonly db: Kysely<MessagingDatabase>
  readonly role: 'messaging_app' | 'messaging_worker' | null
}

/**
 * The fleet worker's scope runs on the worker login (or on the main one, if that may be
 * the worker); every other scope on the main login as `messaging_app`. A login that only
 * holds a role as a NOINHERIT member switches to it with SET LOCAL ROLE.
 */
export function routeOf(scope: TenantScope, main: LoginPool, worker: LoginPool | undefined): Route {
  if (scope.isFleet) {
    const c = worker ?? main
    if (c.roles === null) return { db: c.db, role: null }
    if (c.roles.worker === 'inherit') return { db: c.db, role: null }
    if (c.roles.worker === 'member') return { db: c.db, role: 'messaging_worker' }
    throw new StorageError(
      'a fleet worker runs as messaging_worker: pass workerConnectionString or workerPool (a login granted messaging_worker) to createPostgresStorage',
      { misconfigured: true },
    )
  }
  if (main.roles === null) return { db: main.db, role: null }
  // The worker's policies see every tenant: a login that holds them serves the fleet only.
  if (main.roles.worker === 'inherit' || main.roles.app === null) {
    throw new StorageError(
      "this connection is the fleet worker's (messaging_worker): it serves TenantScope.fleet only; connect as a messaging_app login for other scopes",
      { misconfigured: true },
    )
  }
  if (main.roles.app === 'member') return { db: main.db, role: 'messaging_app' }
  return { db: main.db, role: null }
}
