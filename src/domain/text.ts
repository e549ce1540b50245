import type { ValidationIssue } from './errors.js'

// A lead surrogate not followed by a trail one, or a trail one not preceded by a lead one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
const ANY_SURROGATE = /[\uD800-\uDFFF]/

/**
 * The rule a string breaks as text every store can hold, or null. PostgreSQL's text and
 * jsonb cannot hold U+0000 (the statement fails: a 503 where SQLite stored it), and a lone
 * surrogate has no UTF-8 form (PostgreSQL refuses it, SQLite silently stores U+FFFD): both
 * are refused up front, the same on every store.
 */
export function textRule(s: string): { rule: string; message: string } | null {
  if (s.includes('\u0000')) return { rule: 'no_nul_character', message: 'must not contain U+0000' }
  // The cheap test first: almost every string has no surrogate at all.
  if (ANY_SURROGATE.test(s) && LONE_SURROGATE.test(s))
    return { rule: 'well_formed_unicode', message: 'must not contain a lone surrogate (ill-formed UTF-16)' }
  return null
}

/** A key as a path segment: what cannot be shown is replaced by U+FFFD, so the path itself is clean text. */
const segment = (key: string) =>
  key.replaceAll('\u0000', '\uFFFD').replace(new RegExp(LONE_SURROGATE, 'g'), '\uFFFD')

const isPlainObject = (v: object): boolean => {
  const proto = Object.getPrototypeOf(v)
  return proto === null || proto === Object.prototype || Object.getPrototypeOf(proto) === null
}

// Deeper than any schema accepts (JSON values stop at 64): past it the schema reports the depth.
const MAX_WALK_DEPTH = 256
const MAX_ISSUES = 20

/**
 * Every string and every object key in an input, at any depth (plain objects and arrays),
 * checked with `textRule`: one rule for names, configs, payloads, keys and ids alike, on
 * every call that parses input. Issues name the dotted path (`payload.items.2.title`).
 */
export function textIssues(value: unknown, root?: string): ValidationIssue[] {
  const issues: ValidationIssue[] = []
  const stack: Array<{ v: unknown; path: string[] }> = [{ v: value, path: root ? [root] : [] }]
  const at = (path: string[]) => (path.length > 0 ? path.join('.') : '(input)')
  while (stack.length > 0 && issues.length < MAX_ISSUES) {
    const { v, path } = stack.pop()!
    if (typeof v === 'string') {
      const broken = textRule(v)
      if (broken) issues.push({ path: at(path), ...broken })
      continue
    }
    if (typeof v !== 'object' || v === null || path.length > MAX_WALK_DEPTH) continue
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], path: [...path, String(i)] })
      continue
    }
    if (!isPlainObject(v)) continue
    const entries = Object.entries(v as Record<string, unknown>)
    for (let i = entries.length - 1; i >= 0; i--) {
      const [k, child] = entries[i]!
      const broken = textRule(k)
      if (broken)
        issues.push({ path: at([...path, segment(k)]), rule: broken.rule, message: `keys ${broken.message}` })
      else stack.push({ v: child, path: [...path, k] })
    }
  }
  return issues
}
