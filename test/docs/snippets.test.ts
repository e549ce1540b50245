import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import openapiTS, { astToString } from 'openapi-typescript'
import { afterAll, describe, expect, it } from 'vitest'
import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { createFetchHandler } from '../../src/http/index.js'
import { createMessaging } from '../../src/index.js'
import { ROOT, run } from '../package/support.js'
import { documentationFiles, extractSnippets } from './snippets.js'

/**
 * Every ```ts block of README.md and docs/ is type-checked, strict, against the package's
 * own entries (`messaging`, `messaging/http`, ...: the sources its types are built from),
 * with the free names a page leaves to its reader declared in test/docs/ambient.d.ts. A
 * snippet that calls something that does not exist, forgets an await, or passes the wrong
 * shape fails the suite with its file and line.
 */
const snippets = extractSnippets(ROOT, documentationFiles(ROOT))
const dir = (() => {
  mkdirSync(join(ROOT, '.tmp'), { recursive: true })
  return mkdtempSync(join(ROOT, '.tmp', 'docs-snippets-'))
})()
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** `messaging/<entry>` -> the source of that entry, from package.json's exports. */
function entryPaths(): Record<string, string[]> {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    exports: Record<string, string | { import: { default: string } }>
  }
  const paths: Record<string, string[]> = {}
  for (const [entry, target] of Object.entries(manifest.exports)) {
    if (typeof target === 'string') continue
    const name = entry === '.' ? 'messaging' : `messaging/${entry.slice(2)}`
    paths[name] = [join(ROOT, target.import.default.replace('./dist/esm/', 'src/').replace(/\.js$/, '.ts'))]
  }
  return paths
}

/** The types openapi-typescript makes of the served document, for the page that generates them. */
async function generatedApiTypes(): Promise<string> {
  const messaging = createMessaging({ storage: createMemoryStorage() })
  const handler = createFetchHandler({ messaging, authenticate: () => null })
  const doc = await (await handler(new Request(`http://localhost${handler.basePath}/openapi.json`))).json()
  await messaging.close()
  return astToString(await openapiTS(doc as never))
}

describe('the documentation snippets', () => {
  it('finds the ```ts blocks of README.md and docs/', () => {
    expect(snippets.length).toBeGreaterThan(25)
    for (const file of ['README.md', 'docs/http.md', 'docs/transports.md', 'docs/ui.md', 'docs/worker.md'])
      expect(
        snippets.some((s) => s.file === file),
        file,
      ).toBe(true)
  })

  it('type-check under strict TypeScript against the package', async () => {
    for (const s of snippets) writeFileSync(join(dir, s.name), `export {}\n${s.code}\n`)
    copyFileSync(join(ROOT, 'test/docs/ambient.d.ts'), join(dir, 'ambient.d.ts'))
    writeFileSync(join(dir, 'messaging-api.d.ts'), await generatedApiTypes())
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }))
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2023', 'DOM', 'DOM.Iterable'],
          types: ['node'],
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          experimentalDecorators: true,
          allowImportingTsExtensions: true,
          paths: entryPaths(),
        },
        include: ['*.ts'],
      }),
    )
    const tsc = await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', dir], {
      cwd: dir,
      timeoutMs: 300_000,
    })
    // Each error named by its page and line: `docs/http.md:187 (snippet line 4): TS2304 ...`.
    const byName = new Map(snippets.map((s) => [s.name, s]))
    const errors = tsc.stdout
      .split('\n')
      .filter((l) => /error TS\d+/.test(l))
      .map((l) => {
        const m = /^([^(]+)\((\d+),\d+\): (.*)$/.exec(l)
        const s = m ? byName.get(m[1]!) : undefined
        return s ? `${s.file}:${s.line + Number(m![2]) - 1}: ${m![3]}` : l
      })
    expect(errors).toEqual([])
    expect(tsc.code).toBe(0)
  }, 330_000)
})
