import { describe, expect, it } from 'vitest'
import { createMessagingClient } from '../../src/client/index.js'
import { ForbiddenRoleError, NotFoundError, ValidationError } from '../../src/index.js'
import { fixture, problem, serveOnLoopback } from '../http/support.js'

describe('typed client: profiles, categories and preferences over loopback', () => {
  const f = fixture()
  const baseUrl = serveOnLoopback(f.handler)
  const client = (who: keyof typeof f.principals) =>
    createMessagingClient({ baseUrl: baseUrl(), getToken: () => `tok-${who}`, infrastructureId: f.infraA })

  it('an admin manages profiles and categories; a member keeps its own contact points and preferences', async () => {
    await f.seed()
    const admin = client('adminA')
    const member = client('memberA')
    const memberId = f.principals.memberA.userId
    expect(await member.getSession()).toEqual({
      userId: memberId,
      role: 'member',
      grants: [{ infrastructureId: f.infraA, businessId: null }],
    })
    const created = await admin.upsertProfile({ userId: memberId, email: 'm@example.com', locale: 'pt-br' })
    expect(created).toMatchObject({ userId: memberId, email: 'm@example.com', locale: 'pt-BR' })
    expect(created.createdAt).toBeInstanceOf(Date)
    // The member's own profile: no user id in the path.
    expect((await member.getProfile()).email).toBe('m@example.com')
    expect((await member.upsertProfile({ phone: '+351912345678', timeZone: 'Europe/Lisbon' })).phone).toBe(
      '+351912345678',
    )
    await expect(member.upsertProfile({ properties: { vip: true } })).rejects.toBeInstanceOf(
      ForbiddenRoleError,
    )
    await expect(member.listProfiles()).rejects.toBeInstanceOf(ForbiddenRoleError)
    expect((await admin.listProfiles()).map((p) => p.userId)).toEqual([memberId])
    const bad = await admin.upsertProfile({ userId: memberId, phone: '12345' }).catch((e: unknown) => e)
    expect(bad).toBeInstanceOf(ValidationError)
    expect((bad as ValidationError).field).toBe('phone')

    const category = await admin.createCategory({
      key: 'invoice.paid',
      name: 'Invoice paid',
      channels: { in_app: { channelKey: 'ops' } },
    })
    expect(category.createdAt).toBeInstanceOf(Date)
    expect((await member.getCategory('invoice.paid')).name).toBe('Invoice paid')
    expect((await admin.updateCategory({ categoryKey: 'invoice.paid', critical: true })).critical).toBe(true)
    await admin.updateCategory({ categoryKey: 'invoice.paid', critical: false })
    expect((await member.listCategories()).map((c) => c.key)).toEqual(['invoice.paid'])

    const grid = await member.getPreferences()
    expect(grid).toMatchObject({ userId: memberId, channelTypes: ['in_app'] })
    expect(grid.categories[0]!.cells[0]).toMatchObject({
      channelType: 'in_app',
      enabled: true,
      source: 'category',
    })
    const cell = await member.setPreference({
      categoryKey: 'invoice.paid',
      channelType: 'in_app',
      enabled: false,
    })
    expect(cell).toMatchObject({ enabled: false, source: 'user' })
    const def = await admin.setTenantDefault({
      categoryKey: 'invoice.paid',
      channelType: 'in_app',
      enabled: false,
    })
    expect(def?.updatedAt).toBeInstanceOf(Date)
    expect(await admin.listTenantDefaults()).toHaveLength(1)
    expect(
      await admin.setTenantDefault({ categoryKey: 'invoice.paid', channelType: 'in_app', enabled: null }),
    ).toBeNull()
    expect(await admin.listTenantDefaults()).toEqual([])

    await admin.deleteProfile(memberId)
    await expect(member.getProfile()).rejects.toBeInstanceOf(NotFoundError)
  })

  it('answers problems with the field for bad paths and the role for refused writes', async () => {
    const byKey = await f.call(
      'GET',
      `/categories/${encodeURIComponent('Not A Key')}?infrastructureId=${f.infraA}`,
    )
    expect(byKey.status).toBe(400)
    expect((await problem(byKey)).errors).toEqual([expect.objectContaining({ path: 'categoryKey' })])
    const refused = await f.call('POST', '/categories', {
      who: 'memberA',
      body: { infrastructureId: f.infraA, key: 'x.y', name: 'X' },
    })
    expect(refused.status).toBe(403)
    expect((await problem(refused)).code).toBe('FORBIDDEN_ROLE')
    const profile = await f.call('PUT', `/profiles/not-a-user`, { body: { infrastructureId: f.infraA } })
    expect(profile.status).toBe(400)
  })
})
