import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { createMessaging, REDACTED, TenantScope } from '../../src/index.js'
import { createSecretBox } from '../../src/secrets/index.js'
import { principal, tenant } from '../support/fixtures.js'

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
const key = () => randomBytes(32).toString('base64')

describe('channel credentials at rest', () => {
  it('are sealed in the store, redacted in every read, and open only for delivery', async () => {
    const storage = createMemoryStorage()
    const box = createSecretBox({ keys: { k1: key() }, activeKeyId: 'k1' })
    const messaging = createMessaging({ storage, secrets: box })
    const t = tenant()
    const admin = principal('infra_admin', [[t.infra, null]])
    const c = await messaging.createChannel(admin, {
      infrastructureId: t.infra,
      channelKey: 'hooks',
      type: 'webhook',
      config: { url: 'https://hooks.example.com/a', secrets: [SECRET] },
    })
    expect(c.config.secrets).toEqual([REDACTED])
    // Write-only: a read says the secret is set and under which key, never its value.
    expect(c.secrets).toEqual([{ path: 'secrets', set: true, keyIds: ['k1'] }])
    const scope = TenantScope.of(admin)
    const stored = await storage.unitOfWork.run(scope, (r) => r.channels.findById(scope, t.infra, c.id))
    const storedSecret = (stored!.config.secrets as string[])[0]!
    expect(storedSecret).toMatch(/^v1\.k1\./)
    expect(JSON.stringify(stored)).not.toContain(SECRET)
    const worker = messaging.deliveryPort({ principal: principal('service', [[t.infra, null]]) })
    const opened = await worker.openChannel(t.infra, c.id)
    expect(opened).toMatchObject({ status: 'ready', channel: { config: { secrets: [SECRET] } } })
    // A configure that sends the redacted marker back keeps the secret; the store gets it sealed again.
    await messaging.configureChannel(admin, {
      infrastructureId: t.infra,
      channelId: c.id,
      config: { url: 'https://hooks.example.com/b', secrets: [REDACTED] },
    })
    const again = await worker.openChannel(t.infra, c.id)
    expect(again).toMatchObject({
      status: 'ready',
      channel: { config: { url: 'https://hooks.example.com/b', secrets: [SECRET] } },
    })
    // A value copied into another channel's row does not open there: it is bound to its owner.
    const other = await messaging.createChannel(admin, {
      infrastructureId: t.infra,
      channelKey: 'other',
      type: 'webhook',
      config: { url: 'https://hooks.example.com/c', secrets: ['whsec_b3RoZXJzZWNyZXQ='] },
    })
    await storage.unitOfWork.run(scope, (r) =>
      r.channels.update(scope, t.infra, other.id, {
        config: { url: 'https://hooks.example.com/c', secrets: [storedSecret], timeoutMs: 10_000 },
        updatedAt: new Date(),
      }),
    )
    const moved = await worker.openChannel(t.infra, other.id)
    expect(moved).toMatchObject({ status: 'unavailable', code: 'SECRET_UNREADABLE' })
    expect(JSON.stringify(moved)).not.toContain(SECRET)
  })

  it('are refused by a persistent store when no key can seal them, and nothing is written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'messaging-keyless-'))
    const messaging = createMessaging({ storage: createSqliteStorage({ path: join(dir, 'keyless.db') }) })
    const t = tenant()
    const admin = principal('infra_admin', [[t.infra, null]])
    await expect(
      messaging.createChannel(admin, {
        infrastructureId: t.infra,
        channelKey: 'hooks',
        type: 'webhook',
        config: { url: 'https://hooks.example.com/a', secrets: [SECRET] },
      }),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED', field: 'config', rule: 'secret_key_required' })
    expect(await messaging.listChannels(admin, { infrastructureId: t.infra })).toEqual([])
    // A channel type without credentials needs no key.
    await expect(
      messaging.createChannel(admin, { infrastructureId: t.infra, channelKey: 'inbox', type: 'in_app' }),
    ).resolves.toMatchObject({ channelKey: 'inbox' })
    await messaging.close()
    rmSync(dir, { recursive: true, force: true })
    // A store that never touches a disk (SQLite in memory) may hold them as given.
    const inMemory = createMessaging({ storage: createSqliteStorage({ path: ':memory:' }) })
    await expect(
      inMemory.createChannel(admin, {
        infrastructureId: t.infra,
        channelKey: 'hooks',
        type: 'webhook',
        config: { url: 'https://hooks.example.com/a', secrets: [SECRET] },
      }),
    ).resolves.toMatchObject({ secrets: [{ path: 'secrets', set: true, keyIds: [] }] })
    await inMemory.close()
  })

  it('rotate to a new key: resealed channels open with the new key alone, and the old one can go', async () => {
    const storage = createMemoryStorage()
    const k1 = key()
    const k2 = key()
    const before = createMessaging({ storage, secrets: createSecretBox({ keys: { k1 }, activeKeyId: 'k1' }) })
    const t = tenant()
    const admin = principal('infra_admin', [[t.infra, null]])
    const c = await before.createChannel(admin, {
      infrastructureId: t.infra,
      channelKey: 'mail',
      type: 'email',
      config: {
        from: 'ops@example.com',
        smtp: { host: 'smtp.example.com', port: 587, auth: { user: 'ops', pass: 'hunter2-hunter2' } },
      },
    })
    await before.createChannel(admin, { infrastructureId: t.infra, channelKey: 'inbox', type: 'in_app' })
    // receiptSecret (provider receipts) is an email channel's second secret path, unset here.
    const unsetReceipt = { path: 'receiptSecret', set: false, keyIds: [] }
    expect(c.secrets).toEqual([{ path: 'smtp.auth.pass', set: true, keyIds: ['k1'] }, unsetReceipt])
    // Step 1: the new key is active, the old one still opens what it sealed.
    const during = createMessaging({
      storage,
      secrets: createSecretBox({ keys: { k2, k1 }, activeKeyId: 'k2' }),
    })
    await expect(
      during.resealSecrets(principal('member', [[t.infra, null]]), { infrastructureId: t.infra }),
    ).rejects.toMatchObject({
      code: 'FORBIDDEN_ROLE',
    })
    expect(await during.resealSecrets(admin, { infrastructureId: t.infra })).toEqual({ resealed: 1 })
    expect((await during.getChannel(admin, { infrastructureId: t.infra, channelId: c.id })).secrets).toEqual([
      { path: 'smtp.auth.pass', set: true, keyIds: ['k2'] },
      unsetReceipt,
    ])
    // Step 2: k1 retired; delivery still opens the secret.
    const after = createMessaging({ storage, secrets: createSecretBox({ keys: { k2 }, activeKeyId: 'k2' }) })
    const worker = after.deliveryPort({ principal: principal('service', [[t.infra, null]]) })
    expect(await worker.openChannel(t.infra, c.id)).toMatchObject({
      status: 'ready',
      channel: { config: { smtp: { auth: { pass: 'hunter2-hunter2' } } } },
    })
    const audit = await after.listAudit(admin, {
      infrastructureId: t.infra,
      action: 'channel.reseal_secrets',
    })
    expect(audit.map((e) => [e.outcome, e.details])).toEqual([
      ['ok', { resealed: 1 }],
      ['refused', null],
    ])
  })
})
