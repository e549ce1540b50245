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

/** The folder of src/ a file lies in (or its own name, for a file at the top, e.g. `messaging`). */
function layerOf(file: string): string {
  const parts = relative('src', file).split(sep)
  return parts.length === 1 ? parts[0]!.replace(/\.(ts|js)$/, '') : parts[0]!
}

/**
 * Who may import whom, inward only: the domain is the core, the ports are written in its
 * terms, the application (services over the ports) sits on both. Everything else (adapters,
 * HTTP, the worker, the facade, the container) sits outside and may not be imported by them.
 */
const MAY_IMPORT: Record<string, readonly string[]> = {
  domain: ['domain'],
  ports: ['domain', 'ports'],
  // Tracing (the OpenTelemetry API, a no-op without an SDK) is cross-cutting: it reads the
  // domain only, and the application opens its spans.
  telemetry: ['domain', 'telemetry'],
  application: ['domain', 'ports', 'telemetry', 'application'],
}

/** The layer's source files, as read from disk. */
const sourcesOf = (layer: string) =>
  files(join('src', layer)).map((file) => ({ file, source: readFileSync(file, 'utf8') }))

/** Each relative import of the layer's files that lands in a layer it may not import, as `file: spec (layer)`. */
function wrongWay(layer: string, sources = sourcesOf(layer)): string[] {
  const allowed = MAY_IMPORT[layer]!
  return sources.flatMap(({ file, source }) =>
    imports(source)
      .filter((spec) => spec.startsWith('.'))
      .map((spec) => ({ spec, target: layerOf(relative(process.cwd(), resolve(dirname(file), spec))) }))
      .filter(({ target }) => !allowed.includes(target))
      .map(({ spec, target }) => `${file}: ${spec} (${target})`),
  )
}

describe('the import direction: domain <- ports (and telemetry) <- application <- everything else', () => {
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
      `${probe}: ../adapters/shared/enqueue-batch.js (adapters)`,
      `${probe}: ../ports/outbox-repository.js (ports)`,
    ])
  })
})
