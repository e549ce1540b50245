import type { z } from 'zod'
import { ValidationError, type ValidationIssue } from './errors.js'
import { textIssues } from './text.js'

/** zod issue codes become stable rule names; a custom refinement names its own rule in `params.rule`. */
function ruleOf(issue: z.core.$ZodIssue): string {
  if (issue.code === 'custom') {
    const rule = (issue.params as { rule?: unknown } | undefined)?.rule
    return typeof rule === 'string' ? rule : 'custom'
  }
  if (issue.code === 'invalid_format') return `format:${(issue as { format?: string }).format ?? 'unknown'}`
  if (issue.code === 'too_big') return 'too_big'
  if (issue.code === 'too_small') return 'too_small'
  return issue.code
}

/** Flattens zod issues into the module's ValidationIssue list, prefixing each path with `root`. */
export function toValidationIssues(error: z.ZodError, root?: string): ValidationIssue[] {
  return error.issues.map((issue) => {
    const parts = [...(root ? [root] : []), ...issue.path.map(String)]
    return {
      path: parts.length > 0 ? parts.join('.') : '(input)',
      rule: ruleOf(issue),
      message: issue.message,
    }
  })
}

/**
 * Parses at a boundary: the value, or a ValidationError naming every broken field and rule.
 * Every string and key of the input is first checked as text (`textIssues`), whatever the
 * schema says of it, so no call can carry U+0000 or a lone surrogate to a store.
 */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, root?: string): z.output<S> {
  const text = textIssues(value, root)
  if (text.length > 0) throw new ValidationError(text)
  const result = schema.safeParse(value)
  if (!result.success) throw new ValidationError(toValidationIssues(result.error, root))
  return result.data
}
