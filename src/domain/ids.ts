import { z } from 'zod'

/** The nil UUID: never a tenant, business or user (a host's unset value, not an identity). */
export const NIL_UUID = '00000000-0000-0000-0000-000000000000'

/**
 * Any id the module stores or looks up (channels, messages, entries), in its one canonical
 * spelling: lower case. PostgreSQL's uuid type ignores case while SQLite and memory compare
 * text, so an id is lower-cased where it enters and every store sees the same string.
 */
export const entityIdSchema = z.uuid().toLowerCase()

/** A tenant (infrastructure or business) or user id: canonical, and never the nil UUID. */
export const tenantIdSchema = entityIdSchema.refine((v) => v !== NIL_UUID, {
  message: 'must not be the nil UUID',
  params: { rule: 'not_nil_uuid' },
})

const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** `id` lower-cased when it is spelt as a UUID, else as it is (a recipient may be an address). */
export const canonicalIdText = (id: string): string => (UUID_TEXT.test(id) ? id.toLowerCase() : id)
