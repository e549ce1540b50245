import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROUTES } from '../../src/http/index.js'
import { ROOT } from '../package/support.js'

/** The HTTP surface's reference: its route table and the client's method list. */
const http = readFileSync(join(ROOT, 'docs/http.md'), 'utf8')

/** The typed client's public methods, as its source declares them. */
function clientMethods(): string[] {
  const source = readFileSync(join(ROOT, 'src/client/messaging-client.ts'), 'utf8')
  const body = source.slice(source.indexOf('export class MessagingClient'))
  return [...body.matchAll(/^ {2}(?:async )?(\w+)(?:<[^>]*>)?\(/gm)]
    .map((m) => m[1]!)
    .filter((n) => n !== 'constructor')
}

describe('the documentation names every part of the HTTP surface', () => {
  it("lists every route in docs/http.md's route table", () => {
    const rows = http.split('\n').filter((l) => l.startsWith('| `'))
    const missing = ROUTES.map((r) => `| \`${r.method} ${r.path}`).filter(
      (row) => !rows.some((l) => l === row || l.startsWith(`${row}\``) || l.startsWith(`${row}?`)),
    )
    expect(missing).toEqual([])
  })

  it('names every public method of the typed client in docs/http.md', () => {
    const methods = clientMethods()
    expect(methods.length).toBeGreaterThan(20)
    expect(methods.filter((m) => !http.includes(`\`${m}`))).toEqual([])
  })
})
