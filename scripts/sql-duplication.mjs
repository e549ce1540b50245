#!/usr/bin/env node
// How much of the SQLite and PostgreSQL adapters is written twice: the lines of one adapter
// that lie in a run of at least WINDOW consecutive lines found, in the same order, in the
// other. Lines are compared trimmed; blank lines, comments, import lines and lines of
// brackets alone are left out, so a match is code, not layout. Run: node scripts/sql-duplication.mjs
// Before the stores shared their rows, keys and filters (src/adapters/shared/rows) it counted 820
// such lines; after, 346 (of 4,141 code lines in the two adapters, from 5,104).
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

// 4 lines: below it, a row mapper's field list and a two-line `where` pair look alike by chance.
const WINDOW = Number(process.env.WINDOW ?? 4)
const ADAPTERS = ['src/adapters/sqlite', 'src/adapters/postgres']

const significant = (line) =>
  line.length > 0 &&
  !/^(\/\/|\/\*|\*)/.test(line) &&
  !/^import\b/.test(line) &&
  !/^[A-Za-z_$][\w$]*,$/.test(line) && // a name in a multi-line import list
  !/^} from '/.test(line) &&
  !/^[\s{}()[\];,`]*$/.test(line)

function linesOf(dir) {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => ({
      file: join(dir, f),
      lines: readFileSync(join(dir, f), 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter(significant),
    }))
}

function windows(files) {
  const set = new Set()
  for (const { lines } of files)
    for (let i = 0; i + WINDOW <= lines.length; i++) set.add(lines.slice(i, i + WINDOW).join('\n'))
  return set
}

/** The lines of `files` covered by a window that `other` also holds, per file. */
function covered(files, other) {
  const seen = windows(other)
  return files.map(({ file, lines }) => {
    const hit = new Array(lines.length).fill(false)
    for (let i = 0; i + WINDOW <= lines.length; i++)
      if (seen.has(lines.slice(i, i + WINDOW).join('\n'))) hit.fill(true, i, i + WINDOW)
    return { file, lines: lines.length, duplicated: hit.filter(Boolean).length }
  })
}

const [a, b] = ADAPTERS.map(linesOf)
let total = 0
for (const [files, other, dir] of [
  [a, b, ADAPTERS[0]],
  [b, a, ADAPTERS[1]],
]) {
  const rows = covered(files, other)
  const dup = rows.reduce((s, r) => s + r.duplicated, 0)
  const all = rows.reduce((s, r) => s + r.lines, 0)
  total += dup
  console.log(`${dir}: ${dup} of ${all} code lines also in the other adapter (window ${WINDOW})`)
  for (const r of rows.filter((r) => r.duplicated > 0).sort((x, y) => y.duplicated - x.duplicated))
    console.log(`  ${String(r.duplicated).padStart(4)}  ${r.file}`)
}
console.log(`duplicated lines, both adapters: ${total}`)
