import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'

/** A ```ts block of the documentation, where it stands. */
export interface Snippet {
  readonly file: string
  /** The line of the opening fence (1-based). */
  readonly line: number
  readonly code: string
  /** A file name for it: `docs-http-md-123.ts`. */
  readonly name: string
}

/** README.md and every docs/*.md of the repository. */
export function documentationFiles(root: string): string[] {
  const docs = readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => join(root, 'docs', f))
  return [join(root, 'README.md'), ...docs]
}

/** Every ```ts (or ```typescript) block of `files`. */
export function extractSnippets(root: string, files: readonly string[]): Snippet[] {
  const out: Snippet[] = []
  for (const path of files) {
    const file = relative(root, path)
    const lines = readFileSync(path, 'utf8').split('\n')
    for (let i = 0; i < lines.length; i++) {
      const open = /^(\s*)```(ts|typescript)\s*$/.exec(lines[i]!)
      if (!open) continue
      const indent = open[1]!.length
      const body: string[] = []
      let j = i + 1
      for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]!); j++) body.push(lines[j]!.slice(indent))
      out.push({
        file,
        line: i + 1,
        code: body.join('\n'),
        name: `${file.replace(/[^\w]+/g, '-')}-${i + 1}.ts`,
      })
      i = j
    }
  }
  return out
}
