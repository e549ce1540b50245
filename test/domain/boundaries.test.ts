import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
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

/** A file's path inside src/, without its extension: `domain/ids`, `messaging`. */
const insideSrc = (file: string) =>
  relative('src', file)
    .split(sep)
    .join('/')
    .replace(/\.(ts|js)$/, '')

/**
 * Who may import whom, inward only: the domain is the core, the ports are written in its
 * terms, the application (services over the ports) sits on both. Everything else (adapters,
 * HTTP, the worker, the facade, the container, metrics) sits outside and may not be
 * imported by them. An entry is a folder of src/ or one file in it.
 */
const MAY_IMPORT: Record<string, readonly string[]> = {
  domain: ['domain'],
  ports: ['domain', 'ports'],
  // The span helpers (the OpenTelemetry API alone, a no-op without an SDK) read only the
  // domain; the application opens its spans with them.
  application: ['domain', 'ports', 'application', 'telemetry/tracing'],
}

const allows = (allowed: readonly string[], target: string) =>
  allowed.some((a) => target === a || target.startsWith(`${a}/`))

/** The layer's source files, as read from disk. */
const sourcesOf = (layer: string) =>
  files(join('src', layer)).map((file) => ({ file, source: readFileSync(file, 'utf8') }))

/** Each relative import of the layer's files that lands where it may not, as `file: spec (target)`. */
function wrongWay(layer: string, sources = sourcesOf(layer)): string[] {
  const allowed = MAY_IMPORT[layer]!
  return sources.flatMap(({ file, source }) =>
    imports(source)
      .filter((spec) => spec.startsWith('.'))
      .map((spec) => ({ spec, target: insideSrc(relative(process.cwd(), resolve(dirname(file), spec))) }))
      .filter(({ target }) => !allows(allowed, target))
      .map(({ spec, target }) => `${file}: ${spec} (${target})`),
  )
}

describe('the import direction: domain <- ports <- application <- everything else', () => {
  for (const layer of Object.keys(MAY_IMPORT)) {
    it(`src/${layer} imports only ${MAY_IMPORT[layer]!.join(', ')}`, () => {
      expect(files(join('src', layer)).length).toBeGreaterThan(0)
      expect(wrongWay(layer)).toEqual([])
    })
  }

  it('names the offending import when a file breaks the rule', () => {
    const probe = join('src', 'domain', 'probe.ts')
    const sources = [
      ...sourcesOf('domain'),
      {
        file: probe,
        source: "import type { Messaging } from '../messaging.js'\nexport type Probe = Messaging\n",
      },
      { file: probe, source: "import { enqueueBatch } from '../adapters/shared/enqueue-batch.js'\n" },
      { file: probe, source: "export type { OutboxRepository } from '../ports/outbox-repository.js'\n" },
    ]
    expect(wrongWay('domain', sources)).toEqual([
      `${probe}: ../messaging.js (messaging)`,
      `${probe}: ../adapters/shared/enqueue-batch.js (adapters/shared/enqueue-batch)`,
      `${probe}: ../ports/outbox-repository.js (ports/outbox-repository)`,
    ])
  })
})
