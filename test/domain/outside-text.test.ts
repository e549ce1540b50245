import { describe, expect, it } from 'vitest'
import { cleanOptionalText, cleanOutsideText } from '../../src/domain/outside-text.js'

describe('text from outside, cleaned before any store', () => {
  it('replaces U+0000, other control characters and lone surrogates, and keeps tabs, newlines and pairs', () => {
    expect(cleanOutsideText('a\u0000b\u0007c\u001bd', 100)).toBe('a\uFFFDb\uFFFDc\uFFFDd')
    expect(cleanOutsideText('line\n\tnext\r\n', 100)).toBe('line\n\tnext\r\n')
    expect(cleanOutsideText('x\uD800y', 100)).toBe('x\uFFFDy')
    expect(cleanOutsideText('x\uDC00y', 100)).toBe('x\uFFFDy')
    expect(cleanOutsideText('\uDC00\uD800', 100)).toBe('\uFFFD\uFFFD')
    expect(cleanOutsideText('ok 🎉 ünï', 100)).toBe('ok 🎉 ünï')
    const cleaned = cleanOutsideText(`${'\u0000'.repeat(50)}\uD83D`, 1000)
    expect(cleaned.includes('\u0000')).toBe(false)
    // encodeURIComponent throws on a lone surrogate.
    expect(() => encodeURIComponent(cleaned)).not.toThrow()
  })

  it('caps the length on a code point boundary and marks the cut', () => {
    expect(cleanOutsideText('x'.repeat(5000), 2000)).toHaveLength(2000)
    expect(cleanOutsideText('x'.repeat(5000), 2000).endsWith('...')).toBe(true)
    // A cut that would fall inside a surrogate pair moves before it.
    const emoji = '🎉'.repeat(10)
    const cut = cleanOutsideText(emoji, 8)
    expect(() => encodeURIComponent(cut)).not.toThrow()
    expect(cut).toBe('🎉🎉...')
    expect(cleanOutsideText('short', 2000)).toBe('short')
  })

  it('is idempotent, and leaves null as null', () => {
    const once = cleanOutsideText(`${'\u0000\uD800'.repeat(700)}tail`, 2000)
    expect(cleanOutsideText(once, 2000)).toBe(once)
    expect(cleanOptionalText(null, 10)).toBeNull()
    expect(cleanOptionalText(undefined, 10)).toBeNull()
  })
})
