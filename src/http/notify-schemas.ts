import { z } from 'zod'
import type { Category } from '../domain/category.js'
import type { PreferenceCell, PreferenceGrid, TenantDefault } from '../domain/preference.js'
import type { RecipientProfile } from '../domain/recipient-profile.js'
import { type Principal, ROLES } from '../domain/tenant-scope.js'
import { shapeOf } from './schemas.js'

/** Response schemas of the recipient routes, each held to its domain type like those in schemas.ts. */
const uuid = z.uuid()
const dateTime = z.iso.datetime()

export const profileSchema = shapeOf<RecipientProfile>()({
  infrastructureId: uuid,
  userId: uuid,
  businessId: uuid.nullable(),
  email: z.string().nullable(),
  phone: z.string().nullable().describe('E.164.'),
  locale: z.string().nullable().describe('BCP 47, canonical case.'),
  timeZone: z.string().nullable().describe('IANA.'),
  properties: z.record(z.string(), z.unknown()),
  createdAt: dateTime,
  updatedAt: dateTime,
  updatedBy: uuid,
})

export const categorySchema = shapeOf<Category>()({
  infrastructureId: uuid,
  key: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  critical: z.boolean().describe('Critical categories ignore opt-outs.'),
  channels: z
    .record(z.string(), z.object({ channelKey: z.string(), enabled: z.boolean() }))
    .describe("Per channel type: the tenant's channel that serves it and the category's own default."),
  createdBy: uuid,
  createdAt: dateTime,
  updatedAt: dateTime,
})

const sourceSchema = z
  .enum(['user', 'channel', 'business', 'tenant', 'category'])
  .describe(
    "Which rule decided: the user's own choice, the user's opt-out of the serving channel, the business's or the infrastructure's default, or the category's.",
  )

export const preferenceCellSchema = shapeOf<PreferenceCell>()({
  categoryKey: z.string(),
  channelType: z.string(),
  channelKey: z.string(),
  enabled: z.boolean(),
  source: sourceSchema,
  critical: z.boolean(),
  userChoice: z.boolean().nullable(),
  channelOptedOut: z.boolean(),
  businessDefault: z.boolean().nullable(),
  tenantDefault: z.boolean().nullable(),
  categoryDefault: z.boolean(),
})

export const preferenceGridSchema = shapeOf<PreferenceGrid>()({
  infrastructureId: uuid,
  userId: uuid,
  businessId: uuid.nullable(),
  channelTypes: z.array(z.string()),
  categories: z.array(
    z.object({
      key: z.string(),
      name: z.string(),
      description: z.string().nullable(),
      critical: z.boolean(),
      cells: z.array(preferenceCellSchema),
    }),
  ),
})

export const tenantDefaultSchema = shapeOf<TenantDefault>()({
  infrastructureId: uuid,
  businessId: uuid.nullable(),
  categoryKey: z.string(),
  channelType: z.string(),
  enabled: z.boolean(),
  updatedBy: uuid,
  updatedAt: dateTime,
})

export const sessionSchema = shapeOf<Principal>()({
  userId: uuid,
  role: z.enum(ROLES),
  grants: z.array(z.object({ infrastructureId: uuid, businessId: uuid.nullable() })),
})
