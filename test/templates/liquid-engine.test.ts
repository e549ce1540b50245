import { describe, expect, it } from 'vitest'
import { createLiquidTemplateEngine } from '../../src/adapters/liquid/liquid-template-engine.js'
import type { RenderContext } from '../../src/domain/template.js'

const ctx = (data: Record<string, unknown> = {}, recipient: Record<string, unknown> = {}): RenderContext => ({
  recipient: {
    userId: 'u-1',
    email: 'ada@example.com',
    locale: 'en',
    timeZone: 'Europe/Berlin',
    ...recipient,
  },
  data,
  tenant: { infrastructureId: 'i-1', defaultLocale: 'en', locale: 'en' },
})

describe('the Liquid engine', () => {
  const engine = createLiquidTemplateEngine()

  it('renders recipient, data and tenant, with loops, conditions and filters', async () => {
    const source =
      'Hi {{ recipient.email }}: {% for l in data.lines %}{{ l.name | upcase }}={{ l.cents | divided_by: 100.0 }}{% unless forloop.last %}, {% endunless %}{% endfor %} ({{ tenant.locale }})'
    expect(
      await engine.render(
        source,
        ctx({
          lines: [
            { name: 'a', cents: 150 },
            { name: 'b', cents: 200 },
          ],
        }),
        'text',
      ),
    ).toEqual({ ok: true, output: 'Hi ada@example.com: A=1.5, B=2 (en)' })
    expect(
      await engine.render(
        '{{ data.at | date: "%H:%M", recipient.timeZone }}',
        ctx({ at: '2026-01-01T12:00:00Z' }),
        'text',
      ),
    ).toEqual({ ok: true, output: '13:00' })
  })

  it('refuses to print a variable the context does not hold, naming it and where', async () => {
    const r = await engine.render('Hello\n{{ data.nme }}', ctx({ name: 'Ada' }), 'text')
    expect(r).toEqual({
      ok: false,
      rule: 'template_render',
      message: expect.stringMatching(/undefined variable: data\.nme.*line:2/),
    })
    // Asking is fine: a condition or a default on a missing variable is no error.
    expect(
      await engine.render(
        '{% if data.vip %}VIP {% endif %}{{ data.nick | default: "friend" }}',
        ctx(),
        'text',
      ),
    ).toEqual({ ok: true, output: 'friend' })
  })

  it('refuses to print an object or a list whole, and says what to do instead', async () => {
    for (const value of [{ a: 1 }, [1, 2]]) {
      const r = await engine.render('{{ data.v }}', ctx({ v: value }), 'text')
      expect(r).toMatchObject({
        ok: false,
        rule: 'template_render',
        message: expect.stringContaining('json'),
      })
    }
    expect(
      await engine.render(
        '{{ data.v | json }} {{ data.l | join: "+" }}',
        ctx({ v: { a: 1 }, l: [1, 2] }),
        'text',
      ),
    ).toEqual({
      ok: true,
      output: '{"a":1} 1+2',
    })
  })

  it('escapes every output in html mode, not the template itself; raw opts out', async () => {
    const data = { name: '<script>alert("x")</script>', q: "O'Neil & Co" }
    expect(await engine.render('<p>{{ data.name }} {{ data.q }}</p>', ctx(data), 'html')).toEqual({
      ok: true,
      output: '<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; O&#39;Neil &amp; Co</p>',
    })
    expect(await engine.render('{{ data.name }}', ctx(data), 'text')).toEqual({ ok: true, output: data.name })
    expect(await engine.render('{{ "<b>ok</b>" | raw }}', ctx(), 'html')).toEqual({
      ok: true,
      output: '<b>ok</b>',
    })
  })

  it('reads no file: include, render and layout are refused when the template is checked', () => {
    for (const source of [
      '{% include "/etc/passwd" %}',
      'x {% render "../../package.json" %}',
      '{% layout "default" %}body',
    ]) {
      expect(engine.check(source), source).toMatchObject({
        rule: 'template_syntax',
        message: expect.stringContaining('cannot read other templates'),
      })
    }
  })

  it('walks no prototype: constructors and __proto__ are undefined variables', async () => {
    for (const source of ['{{ data.constructor }}', '{{ data.__proto__ }}', '{{ data.toString }}']) {
      expect(await engine.render(source, ctx({ a: 1 }), 'text'), source).toMatchObject({
        ok: false,
        rule: 'template_render',
      })
    }
  })

  it('names syntax errors and unknown filters when checked', () => {
    expect(engine.check('{% if data.x %}open')).toMatchObject({
      rule: 'template_syntax',
      message: expect.stringContaining('not closed'),
    })
    expect(engine.check('{{ data.x | shout }}')).toMatchObject({
      rule: 'template_syntax',
      message: expect.stringContaining('undefined filter: shout'),
    })
    expect(engine.check('Hi {{ recipient.email }}')).toBeNull()
  })

  it('stops a template that loops or allocates without bound', async () => {
    const loops = await engine.render('{% for i in (1..50000000) %}{{ i }}{% endfor %}', ctx(), 'text')
    expect(loops).toMatchObject({ ok: false, rule: 'template_limit' })
    const nested = await engine.render(
      '{% for i in (1..10000) %}{% for j in (1..10000) %}.{% endfor %}{% endfor %}',
      ctx(),
      'text',
    )
    expect(nested).toMatchObject({ ok: false, rule: 'template_limit' })
    const doubling = await engine.render(
      '{% assign s = "xxxxxxxxxxxxxxxx" %}{% for i in (1..40) %}{% assign s = s | append: s %}{% endfor %}{{ s | size }}',
      ctx(),
      'text',
    )
    expect(doubling).toMatchObject({
      ok: false,
      rule: 'template_limit',
      message: expect.stringContaining('memory'),
    })
    // The bounds leave an honest template room: a digest of 2,000 items renders.
    const items = Array.from({ length: 2000 }, (_, i) => ({ title: `item ${i}` }))
    const digest = await engine.render(
      '{% for it in data.items %}- {{ it.title }}\n{% endfor %}',
      ctx({ items }),
      'text',
    )
    expect(digest.ok && digest.output.split('\n').length).toBe(2001)
  })

  it('refuses a source longer than the parse limit', () => {
    const small = createLiquidTemplateEngine({ parseLimit: 1000 })
    expect(small.check('x'.repeat(1001))).toMatchObject({ rule: 'template_limit' })
    expect(small.check('x'.repeat(999))).toBeNull()
  })
})
