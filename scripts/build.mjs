#!/usr/bin/env node
// `npm run build`: everything the published package runs on, from src/ into dist/.
//   dist/esm  ES modules and declarations (tsc)
//   dist/cjs  the same modules as CommonJS (esbuild, file by file, so every entry shares one
//             module graph as in ESM) and a copy of the declarations, which TypeScript reads
//             as CommonJS because of dist/cjs/package.json
//   dist/{esm,cjs}/ui/messaging-ui.js  the web components' demo page script with Lit inside,
//             so serving /ui/ needs neither esbuild nor lit at run time
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as esbuild from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))
const src = join(root, 'src')
const dist = join(root, 'dist')
const esm = join(dist, 'esm')
const cjs = join(dist, 'cjs')

const walk = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  )

const started = performance.now()
rmSync(dist, { recursive: true, force: true })

// 1. ESM and declarations.
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
  cwd: root,
  stdio: 'inherit',
})

// 2. CommonJS. `import.meta.url` (the SQL folder, the UI bundle, the native SQLite module)
// becomes this file's URL; dynamic import() stays, so ESM-only packages still load.
const sources = walk(src).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
const usesImportMeta = sources.filter((f) => readFileSync(f, 'utf8').includes('import.meta'))
const common = {
  outdir: cjs,
  outbase: src,
  bundle: false,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
  tsconfig: join(root, 'tsconfig.build.json'),
}
await esbuild.build({ ...common, entryPoints: sources.filter((f) => !usesImportMeta.includes(f)) })
await esbuild.build({
  ...common,
  entryPoints: usesImportMeta,
  define: { 'import.meta.url': '__messagingModuleUrl' },
  banner: { js: 'const __messagingModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
})
writeFileSync(join(cjs, 'package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`)
for (const file of walk(esm).filter((f) => f.endsWith('.d.ts'))) {
  const target = join(cjs, relative(esm, file))
  mkdirSync(dirname(target), { recursive: true })
  copyFileSync(file, target)
}

// 3. The browser bundle (ES2022), Lit's production build inside, next to each build's assets module.
const bundle = await esbuild.build({
  entryPoints: [join(src, 'ui/demo/demo.ts')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  write: false,
  legalComments: 'eof',
  logLevel: 'warning',
  conditions: ['production'],
})
const text = bundle.outputFiles[0].text
for (const dir of [esm, cjs]) writeFileSync(join(dir, 'ui/messaging-ui.js'), text)

const kib = (n) => `${(n / 1024).toFixed(0)} KiB`
process.stdout.write(
  `built dist/esm, dist/cjs (${sources.length} modules each) and the UI bundle (${kib(text.length)}) in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
)
