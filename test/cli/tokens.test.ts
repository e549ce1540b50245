import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli } from './support.js'

const dir = mkdtempSync(join(tmpdir(), 'messaging-cli-tokens-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const NIL = '00000000-0000-0000-0000-000000000000'

describe('serve --tokens: principals are checked before anything starts', () => {
  it.each([
    [
      'a grant of the nil tenant',
      { userId: '1f0e4c1a-8a0b-4c55-9d3e-5d8a2b6c7e01', grant: NIL },
      'grants.0.infrastructureId',
    ],
    ['the nil user', { userId: NIL, grant: '6b1f5b7e-2f0a-4d8e-9c3b-1a2b3c4d5e6f' }, 'userId'],
  ])('refuses %s, naming the token and the field, and exits 1', async (_name, p, field) => {
    const tokens = join(dir, `tokens-${field}.json`)
    writeFileSync(
      tokens,
      JSON.stringify({
        tok_admin_0123456789abcdef: {
          userId: p.userId,
          role: 'infra_admin',
          grants: [{ infrastructureId: p.grant, businessId: null }],
        },
      }),
    )
    const r = await runCli(
      {},
      'serve',
      '--sqlite',
      join(dir, 'never.db'),
      '--port',
      '0',
      '--tokens',
      tokens,
      '--no-worker',
    )
    expect(r.code).toBe(1)
    expect(r.err).toContain(`tok_admin_0123456789abcdef.${field}`)
    expect(r.err).toContain('nil UUID')
  })
})
