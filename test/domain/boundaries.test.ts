import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const FORBIDDEN = [
  /^pg$/,
  /^pg-/,
  /^better-sqlite3$/,
  /^kysely/,
  /^express$/,
  /^hono/,
  /^@hono\//,
  /^@nestjs\//,
  /^inversify$/,
  /^nodemailer$/,
  /^undici$/,
  /^node:(fs|net|http|https|dns|child_process|tls)/,
  /\/adapters\//,
  /\/http\//,
  /\/application\//,
]

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f)
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : []
  })
}

function imports(source: string): string[] {
  return [
    ...source.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((m) => m[1] ?? m[2]!)
}

describe('the domain and ports', () => {
  for (const dir of ['src/domain', 'src/ports']) {
    it(`${dir} imports no adapter, no database driver, no HTTP library and does no I/O`, () => {
      const offenders = files(dir).flatMap((f) =>
        imports(readFileSync(f, 'utf8'))
          .filter((spec) => FORBIDDEN.some((re) => re.test(spec)))
          .map((spec) => `${f}: ${spec}`),
      )
      expect(files(dir).length).toBeGreaterThan(3)
      expect(offenders).toEqual([])
    })
  }
})

describe('the adapters', () => {
  it('import no application service: what memory and SQLite share lives beside them (src/adapters/shared)', () => {
    const offenders = files('src/adapters').flatMap((f) =>
      imports(readFileSync(f, 'utf8'))
        .filter((spec) => /\/application\//.test(spec))
        .map((spec) => `${f}: ${spec}`),
    )
    expect(files('src/adapters').length).toBeGreaterThan(10)
    expect(offenders).toEqual([])
  })
})
