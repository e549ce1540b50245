import { readdirSync, readFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT } from './support.js'

interface Manifest {
  dependencies: Record<string, string>
  peerDependencies: Record<string, string>
  peerDependenciesMeta: Record<string, { optional?: boolean }>
  devDependencies: Record<string, string>
}
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Manifest

const walk = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  )

/** The package a bare specifier names: `@scope/name` or `name`. */
const packageOf = (specifier: string) =>
  specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!

/**
 * The packages src/ loads at run time (static imports that are not `import type`, `export ...
 * from`, dynamic `import()`, and `require` through createRequire) and those it names in types only.
 */
function importsOfSources(): { runtime: Map<string, string[]>; typeOnly: Set<string> } {
  const runtime = new Map<string, string[]>()
  const typeOnly = new Set<string>()
  for (const file of walk(join(ROOT, 'src'))) {
    const text = readFileSync(file, 'utf8')
    // Comments hold examples of hosts' imports (`from 'messaging/ui'`): not the file's own.
    const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '')
    const add = (spec: string, type: boolean) => {
      if (spec.startsWith('.') || spec.startsWith('node:') || builtinModules.includes(spec)) return
      const name = packageOf(spec)
      if (type) typeOnly.add(name)
      else runtime.set(name, [...(runtime.get(name) ?? []), file.slice(ROOT.length)])
    }
    for (const m of code.matchAll(/\b(import|export)(\s+type)?\s+[\w$*{},\s]*?\bfrom\s+'([^']+)'/g))
      add(m[3]!, !!m[2])
    for (const m of code.matchAll(/^import\s+'([^']+)'/gm)) add(m[1]!, false)
    for (const m of code.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) {
      // `typeof import('x')` in a type position loads nothing.
      const before = code.slice(Math.max(0, m.index! - 7), m.index!)
      add(m[1]!, before.endsWith('typeof '))
    }
    for (const m of code.matchAll(/\brequireModule\(\s*'([^']+)'\s*\)/g)) add(m[1]!, false)
  }
  return { runtime, typeOnly }
}

describe('dependencies that earn their place', () => {
  const { runtime, typeOnly } = importsOfSources()
  const optionalPeers = Object.keys(manifest.peerDependencies).filter(
    (p) => manifest.peerDependenciesMeta[p]?.optional === true,
  )

  it('every package src/ loads at run time is a dependency or an optional peer (a development dependency only where a checkout alone runs that code)', () => {
    // esbuild: buildUiBundle's fallback in a checkout; the published package ships the bundle it would make.
    const devOnly = new Set(['esbuild'])
    const undeclared = [...runtime.keys()].filter(
      (p) => !(p in manifest.dependencies) && !optionalPeers.includes(p) && !devOnly.has(p),
    )
    expect(undeclared).toEqual([])
  })

  it('packages named in types only are dependencies or peers', () => {
    expect(
      [...typeOnly].filter(
        (p) => !(p in manifest.dependencies) && !(p in manifest.peerDependencies) && !runtime.has(p),
      ),
    ).toEqual([])
  })

  it('Lit is not a runtime dependency of the back end: an optional peer of messaging/ui, bundled into the UI script', () => {
    expect(manifest.dependencies).not.toHaveProperty('lit')
    expect(optionalPeers).toContain('lit')
    expect(runtime.get('lit')?.every((f) => f.startsWith('src/ui/'))).toBe(true)
  })

  it('the packages that src/ never imports are gone: @asteasolutions/zod-to-openapi, reflect-metadata', () => {
    for (const gone of ['@asteasolutions/zod-to-openapi', 'reflect-metadata']) {
      expect(manifest.dependencies).not.toHaveProperty(gone)
      expect(runtime.has(gone)).toBe(false)
    }
  })
})
