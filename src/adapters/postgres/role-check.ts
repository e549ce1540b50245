import { type Kysely, sql } from 'kysely'
import { StorageError } from '../../domain/errors.js'
import type { MessagingDatabase } from './schema.js'

interface RoleCheckRow {
  role: string
  superuser: boolean
  bypassrls: boolean
  migrated: boolean
  owner: boolean
  app: boolean
  app_member: boolean
  worker: boolean
  worker_member: boolean
}

/**
 * What a login may be, per app role: `inherit` (it has the role's privileges, and the
 * role's policies apply to it, in every statement), `member` (NOINHERIT: only after
 * `SET ROLE`), or null.
 */
export interface LoginRoles {
  readonly app: 'inherit' | 'member' | null
  readonly worker: 'inherit' | 'member' | null
}

/**
 * Refuses a connection role for which row-level security would not hold, or that the
 * policies do not know, and says which app roles it holds. Owner-run migrations pass
 * `allowPrivilegedRole`.
 */
export async function checkRole(db: Kysely<MessagingDatabase>): Promise<LoginRoles> {
  const member = (role: string, mode: 'USAGE' | 'MEMBER') =>
    sql.raw(
      `case when exists (select from pg_roles where rolname = '${role}')
          then pg_has_role(current_user, '${role}', '${mode}') else false end`,
    )
  const { rows } = await sql<RoleCheckRow>`
    select r.rolname as role,
           r.rolsuper as superuser,
           r.rolbypassrls as bypassrls,
           to_regclass('messaging_outbox') is not null as migrated,
           coalesce((select bool_or(pg_has_role(current_user, c.relowner, 'USAGE'))
                       from pg_class c
                      where c.oid in (to_regclass('messaging_channels'), to_regclass('messaging_channel_members'),
                                      to_regclass('messaging_outbox'), to_regclass('messaging_audit_log'))),
                    false) as owner,
           ${member('messaging_app', 'USAGE')} as app,
           ${member('messaging_app', 'MEMBER')} as app_member,
           ${member('messaging_worker', 'USAGE')} as worker,
           ${member('messaging_worker', 'MEMBER')} as worker_member
      from pg_roles r
     where r.rolname = current_user`.execute(db)
  const r = rows[0]
  if (!r) throw new StorageError('cannot read the connection role')
  const refuse = (why: string) =>
    new StorageError(
      `refusing to run as role "${r.role}": ${why}; row-level security would not protect tenants. ` +
        'Connect as a login role granted messaging_app (allowPrivilegedRole is for migrations only).',
      { misconfigured: true },
    )
  if (r.superuser) throw refuse('it is a superuser')
  if (r.bypassrls) throw refuse('it has BYPASSRLS')
  if (!r.migrated) throw new StorageError('the messaging tables are missing: apply the sql/ migrations first')
  if (r.owner) throw refuse('it owns the messaging tables')
  if (!r.app_member && !r.worker_member) {
    throw new StorageError(`role "${r.role}" is not a member of messaging_app (nor messaging_worker)`, {
      misconfigured: true,
    })
  }
  // Policies apply to every role whose privileges the login has: with both, the worker's
  // see-everything policies would hold in every tenant's unit of work.
  if (r.app && r.worker) {
    throw refuse(
      'it inherits both messaging_app and messaging_worker (use two logins, or a NOINHERIT login that the adapter switches with SET LOCAL ROLE)',
    )
  }
  const mode = (inherit: boolean, member: boolean) => (inherit ? 'inherit' : member ? 'member' : null)
  return { app: mode(r.app, r.app_member), worker: mode(r.worker, r.worker_member) }
}
