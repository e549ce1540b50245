import { describe, expect, it } from 'vitest'
import { createLiquidTemplateEngine } from '../../src/adapters/liquid/liquid-template-engine.js'
import { TemplateRenderer, templateErrorText } from '../../src/application/template-renderer.js'
import { ValidationError } from '../../src/index.js'

const renderer = new TemplateRenderer(createLiquidTemplateEngine())
const context = (data: Record<string, unknown>) => ({
  recipient: { userId: 'u-1', email: 'ada@example.com', locale: 'de-CH' },
  data,
  tenant: { infrastructureId: 'i-1', defaultLocale: 'en', locale: 'de' },
})

describe('the template renderer', () => {
  it('renders an email: the html escaped, the subject and text as written', async () => {
    const r = await renderer.render(
      {
        channelType: 'email',
        content: {
          subject: 'Rechnung {{ data.number }} von {{ data.shop }}',
          html: '<p>Hallo {{ data.name }}</p>',
          text: 'Hallo {{ data.name }}',
        },
      },
      context({ number: 42, shop: 'A & B', name: '<Ada>' }),
    )
    expect(r).toEqual({
      ok: true,
      rendered: {
        channelType: 'email',
        payload: {
          subject: 'Rechnung 42 von A & B',
          html: '<p>Hallo &lt;Ada&gt;</p>',
          text: 'Hallo <Ada>',
        },
      },
    })
  })

  it('renders an in-app entry with its action URL and the data beside it', async () => {
    const r = await renderer.render(
      {
        channelType: 'in_app',
        content: { title: 'Invoice {{ data.n }} paid', actionUrl: '/invoices/{{ data.n | url_encode }}' },
      },
      context({ n: 'A/7' }),
    )
    expect(r).toEqual({
      ok: true,
      rendered: {
        channelType: 'in_app',
        payload: { title: 'Invoice A/7 paid', actionUrl: '/invoices/A%2F7', data: { n: 'A/7' } },
      },
    })
  })

  it('renders a webhook body to JSON through the json filter, so data cannot break out of a string', async () => {
    const r = await renderer.render(
      {
        channelType: 'webhook',
        content: { body: '{"event": "invoice.paid", "name": {{ data.name | json }}}' },
      },
      context({ name: 'Ada", "admin": true, "x": "' }),
    )
    expect(r).toEqual({
      ok: true,
      rendered: {
        channelType: 'webhook',
        payload: { event: 'invoice.paid', name: 'Ada", "admin": true, "x": "' },
      },
    })
  })

  it('names the first field that fails, with the rule and the engine words', async () => {
    const r = await renderer.render(
      {
        channelType: 'email',
        content: { subject: 'ok', html: '<p>{{ data.missing }}</p>', text: '{{ data.also }}' },
      },
      context({}),
    )
    expect(r).toEqual({
      ok: false,
      problem: { field: 'html', rule: 'template_render', message: expect.stringContaining('data.missing') },
    })
  })

  it('checks every field on save and throws a ValidationError naming content.<field>', () => {
    const content = { subject: '{% if x %}', html: '<p>fine</p>', text: '{% include "x" %}' }
    expect(renderer.check('email', content).map((p) => [p.field, p.rule])).toEqual([
      ['subject', 'template_syntax'],
      ['text', 'template_syntax'],
    ])
    let error: unknown
    try {
      renderer.assertParses('email', content)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ValidationError)
    expect((error as ValidationError).issues.map((i) => `${i.path}:${i.rule}`)).toEqual([
      'content.subject:template_syntax',
      'content.text:template_syntax',
    ])
  })

  it("cleans a failure's text for a message's error: no control characters, no lone surrogates, capped", () => {
    const text = templateErrorText({
      field: 'text',
      rule: 'template_render',
      message: `bad \u0000 value \ud800 here ${'x'.repeat(3000)}`,
    })
    expect(text.startsWith('template content.text (template_render): bad \ufffd value \ufffd here')).toBe(
      true,
    )
    expect(text.length).toBe(2000)
    expect(text.endsWith('...')).toBe(true)
    expect(text).not.toContain('\u0000')
  })
})
