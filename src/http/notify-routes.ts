import { z } from 'zod'
import {
  type CategoryRefInput,
  type CreateCategoryInput,
  categoryRefInput,
  createCategoryInput,
  type DeleteProfileInput,
  deleteProfileInput,
  type ListCategoriesInput,
  type ListNotificationsInput,
  type ListProfilesInput,
  type ListTenantDefaultsInput,
  listCategoriesInput,
  listNotificationsInput,
  listProfilesInput,
  listTenantDefaultsInput,
  type NotificationRefInput,
  type NotifyInput,
  notificationRefInput,
  notifyInput,
  type PreferenceGridInput,
  type ProfileRefInput,
  preferenceGridInput,
  profileRefInput,
  type SetPreferenceInput,
  type SetTenantDefaultInput,
  setPreferenceInput,
  setTenantDefaultInput,
  type ThrottledCountsInput,
  throttledCountsInput,
  type UpdateCategoryInput,
  type UpsertProfileInput,
  updateCategoryInput,
  upsertProfileInput,
} from '../domain/notify-inputs.js'
import { parseInput } from '../domain/validation.js'
import {
  categorySchema,
  notificationSchema,
  notificationStatusSchema,
  notifyResultSchema,
  preferenceCellSchema,
  preferenceGridSchema,
  profileSchema,
  sessionSchema,
  tenantDefaultSchema,
  throttledCountSchema,
} from './notify-schemas.js'
import { Reply, type RouteContext, type RouteDef } from './router.js'

const link = (ctx: RouteContext, path: string, infrastructureId: string) =>
  `${ctx.basePath}${path}?infrastructureId=${encodeURIComponent(infrastructureId)}`

const sessionInput = z.strictObject({})

/** Profiles, categories and preferences: appended to ROUTES. */
export const RECIPIENT_ROUTES: readonly RouteDef[] = [
  {
    method: 'GET',
    path: '/session',
    operationId: 'getSession',
    tag: 'recipients',
    summary: 'Who the caller is: its user id, role and grants, as the host authenticated it',
    description:
      "Any authenticated caller, its own principal only: what a console needs to show a user's own settings and an admin's controls.",
    input: sessionInput,
    from: 'query',
    response: sessionSchema,
    run: async (_m, p, i) => {
      // No facade call parses this input, so the route does: unknown parameters are refused.
      parseInput(sessionInput, i)
      return sessionSchema.parse(p)
    },
  },
  {
    method: 'GET',
    path: '/profile',
    operationId: 'getOwnProfile',
    tag: 'recipients',
    summary: "The caller's own recipient profile",
    input: profileRefInput.omit({ userId: true }),
    from: 'query',
    response: profileSchema,
    run: (m, p, i) => m.getProfile(p, i as ProfileRefInput),
  },
  {
    method: 'PUT',
    path: '/profile',
    operationId: 'updateOwnProfile',
    tag: 'recipients',
    summary: "Change the caller's own contact points, locale and time zone",
    description:
      'Fields left out stay as they are; `null` clears one. A member changes only `email`, `phone`, `locale` and `timeZone` of an existing profile of its own.',
    input: upsertProfileInput.omit({ userId: true }),
    from: 'body',
    response: profileSchema,
    run: (m, p, i) => m.upsertProfile(p, i as UpsertProfileInput),
  },
  {
    method: 'GET',
    path: '/profiles',
    operationId: 'listProfiles',
    tag: 'recipients',
    summary: 'The profiles the caller may see, by user id',
    description:
      '`infra_admin` or `service`; a business grant sees that business only. `after` (a user id) pages on.',
    input: listProfilesInput,
    from: 'query',
    response: z.array(profileSchema),
    run: (m, p, i) => m.listProfiles(p, i as ListProfilesInput),
  },
  {
    method: 'GET',
    path: '/profiles/:userId',
    operationId: 'getProfile',
    tag: 'recipients',
    summary: "One user's profile",
    description: 'A member only its own; an admin or a worker one of a business its grants reach.',
    input: profileRefInput,
    from: 'query',
    response: profileSchema,
    run: (m, p, i) => m.getProfile(p, i as ProfileRefInput),
  },
  {
    method: 'PUT',
    path: '/profiles/:userId',
    operationId: 'upsertProfile',
    tag: 'recipients',
    summary: "Create a user's profile or change the fields given",
    description:
      '`infra_admin` creates and changes any field (audited with the names of the fields, not their values); a member only its own contact points, locale and time zone. Fields left out stay; `null` clears.',
    input: upsertProfileInput,
    from: 'body',
    response: profileSchema,
    run: (m, p, i) => m.upsertProfile(p, i as UpsertProfileInput),
  },
  {
    method: 'DELETE',
    path: '/profiles/:userId',
    operationId: 'deleteProfile',
    tag: 'recipients',
    summary: "Remove a user's profile",
    description: '`infra_admin` only.',
    input: deleteProfileInput,
    from: 'query',
    status: 204,
    response: null,
    run: (m, p, i) => m.deleteProfile(p, i as DeleteProfileInput),
  },
  {
    method: 'GET',
    path: '/categories',
    operationId: 'listCategories',
    tag: 'recipients',
    summary: "A tenant's notification categories, by key",
    input: listCategoriesInput,
    from: 'query',
    response: z.array(categorySchema),
    run: (m, p, i) => m.listCategories(p, i as ListCategoriesInput),
  },
  {
    method: 'POST',
    path: '/categories',
    operationId: 'createCategory',
    status: 201,
    tag: 'recipients',
    summary: 'Create a notification category',
    description:
      "`infra_admin` only. `channels` maps each channel type to the tenant's channel that serves it (which must exist with that type) and the category's own default. Marking it `critical` is audited.",
    input: createCategoryInput,
    from: 'body',
    response: categorySchema,
    run: async (m, p, i, ctx) => {
      const c = await m.createCategory(p, i as CreateCategoryInput)
      return new Reply(201, c, {
        location: link(ctx, `/categories/${encodeURIComponent(c.key)}`, c.infrastructureId),
      })
    },
  },
  {
    method: 'GET',
    path: '/categories/:categoryKey',
    operationId: 'getCategory',
    tag: 'recipients',
    summary: 'One category',
    input: categoryRefInput,
    from: 'query',
    response: categorySchema,
    run: (m, p, i) => m.getCategory(p, i as CategoryRefInput),
  },
  {
    method: 'PUT',
    path: '/categories/:categoryKey',
    operationId: 'updateCategory',
    tag: 'recipients',
    summary: "Change a category's name, description, critical flag or channels",
    description: '`infra_admin` only; marking critical (or not) is audited on its own.',
    input: updateCategoryInput,
    from: 'body',
    response: categorySchema,
    run: (m, p, i) => m.updateCategory(p, i as UpdateCategoryInput),
  },
  {
    method: 'GET',
    path: '/preferences',
    operationId: 'getPreferences',
    tag: 'recipients',
    summary: "A user's preferences grid: categories x channel types, what resolves and why",
    description:
      "The caller's own without `userId`; another user's for `infra_admin` or `service`. Resolution order: the user's own choice, the user's opt-out of the serving channel, the tenant's default (business, then infrastructure), the category's.",
    input: preferenceGridInput,
    from: 'query',
    response: preferenceGridSchema,
    run: (m, p, i) => m.getPreferences(p, i as PreferenceGridInput),
  },
  {
    method: 'PUT',
    path: '/preferences',
    operationId: 'setPreference',
    tag: 'recipients',
    summary: "Set a user's own choice for a category over a channel type",
    description:
      "A member its own, an `infra_admin` anyone's (`userId`). `enabled: null` takes the choice back. Answers the cell as it now resolves.",
    input: setPreferenceInput,
    from: 'body',
    response: preferenceCellSchema,
    run: (m, p, i) => m.setPreference(p, i as SetPreferenceInput),
  },
  {
    method: 'GET',
    path: '/preference-defaults',
    operationId: 'listTenantDefaults',
    tag: 'recipients',
    summary: "The tenant's defaults per category and channel type",
    description: '`businessId=null` selects the infrastructure-wide ones.',
    input: listTenantDefaultsInput,
    from: 'query',
    response: z.array(tenantDefaultSchema),
    run: (m, p, i) => m.listTenantDefaults(p, i as ListTenantDefaultsInput),
  },
  {
    method: 'PUT',
    path: '/preference-defaults',
    operationId: 'setTenantDefault',
    tag: 'recipients',
    summary: "Set (or, with `enabled: null`, take back) a tenant's default",
    description:
      "`infra_admin` within its grants: `businessId` null is the whole infrastructure's default (an infrastructure-wide grant only). Answers the default, or null when taken back.",
    input: setTenantDefaultInput,
    from: 'body',
    response: tenantDefaultSchema.nullable(),
    run: async (m, p, i) => (await m.setTenantDefault(p, i as SetTenantDefaultInput)) ?? new Reply(200, null),
  },
]

/** Notify and the notifications' status: appended to ROUTES. */
export const NOTIFY_ROUTES: readonly RouteDef[] = [
  {
    method: 'POST',
    path: '/notify',
    operationId: 'notify',
    tag: 'notify',
    summary: 'Notify people of one event: one message per recipient and channel their preferences allow',
    description:
      "`infra_admin` or `service`. `to` names users (each with a profile the caller may see in the notification's tenant) or a channel whose opted-in members are the recipients. The category names the tenant's channel per channel type; each recipient's preferences decide the types, the profile the address; recipients left out are recorded with the reason. All in one unit of work. An `Idempotency-Key` header or body field makes retries safe: a repeated key answers 200 with the first notification; a new one answers 201. Spends one enqueue-quota token.",
    input: notifyInput,
    from: 'body',
    headers: { 'idempotency-key': 'idempotencyKey' },
    quota: true,
    response: notifyResultSchema,
    statuses: [201, 200],
    run: async (m, p, i, ctx) => {
      const r = await m.notify(p, i as NotifyInput)
      const location = link(ctx, `/notifications/${r.notification.id}`, r.notification.infrastructureId)
      return new Reply(r.created ? 201 : 200, r, r.created ? { location } : {})
    },
  },
  {
    method: 'GET',
    path: '/notifications',
    operationId: 'listNotifications',
    tag: 'notify',
    summary: "A tenant's notifications, newest first",
    description:
      "`infra_admin` or `service`. Narrow by `categoryKey`, `userId` (a recipient, delivered or skipped), `since`/`until` and `businessId` (`null`: the infrastructure's own); `before` (a notification id) pages on.",
    input: listNotificationsInput,
    from: 'query',
    response: z.array(notificationSchema),
    run: (m, p, i) => m.listNotifications(p, i as ListNotificationsInput),
  },
  {
    method: 'GET',
    path: '/notifications/throttled',
    operationId: 'throttledCounts',
    tag: 'notify',
    summary: 'Per category, the deliveries its per-recipient throttle skipped',
    description:
      '`infra_admin` or `service`. Counts the `throttled` skips (recipient x channel type) of notifications created at or after `since` (default: the last 24 hours), by category; categories with none are left out.',
    input: throttledCountsInput,
    from: 'query',
    response: z.array(throttledCountSchema),
    run: (m, p, i) => m.throttledCounts(p, i as ThrottledCountsInput),
  },
  {
    method: 'GET',
    path: '/notifications/:notificationId',
    operationId: 'getNotification',
    tag: 'notify',
    summary: 'A notification and where each recipient x channel stands',
    description:
      '`infra_admin` or `service`. `counts` per state; `deliveries` in (user, channel type) order with state (`pending`, `delivered`, `failed`, `dead`, `skipped` with its reason), attempts and last error (secrets redacted). `state` and `userId` narrow, `after` (`<userId>/<channelType>`) pages on.',
    input: notificationRefInput,
    from: 'query',
    response: notificationStatusSchema,
    run: (m, p, i) => m.getNotification(p, i as NotificationRefInput),
  },
]
