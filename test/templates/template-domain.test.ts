import { describe, expect, it } from 'vitest'
import {
  assembleRendered,
  canonicalLocale,
  isSafeActionUrl,
  localeFallbacks,
  selectTemplate,
  type TemplateVersion,
} from '../../src/domain/template.js'
import { T0, uuid } from '../support/fixtures.js'

const version = (channelType: TemplateVersion['channelType'], locale: string, n = 1): TemplateVersion => ({
  id: uuid(),
  infrastructureId: uuid(),
  categoryKey: 'invoice.paid',
  channelType,
  locale,
  version: n,
  content: { text: `${channelType} ${locale}` },
  createdBy: uuid(),
  createdAt: T0,
})

describe('locales', () => {
  it('reads tags into their canonical BCP 47 form and refuses what is not a tag', () => {
    expect(canonicalLocale('en-us')).toBe('en-US')
    expect(canonicalLocale('ZH-hant-tw')).toBe('zh-Hant-TW')
    expect(canonicalLocale('de')).toBe('de')
    for (const bad of ['', 'english please', 'e', 'en_US_POSIX!', 'x'.repeat(40)]) {
      expect(canonicalLocale(bad), bad).toBeNull()
    }
  })

  it("falls back from the recipient's locale to its language, then to the tenant's default", () => {
    expect(localeFallbacks('de-CH', 'en')).toEqual(['de-CH', 'de', 'en'])
    expect(localeFallbacks('zh-Hant-TW', 'en-GB')).toEqual(['zh-Hant-TW', 'zh-Hant', 'zh', 'en-GB', 'en'])
    // Extension subtags match only exactly; the language-script-region part falls back.
    expect(localeFallbacks('de-CH-u-co-phonebk', 'en')).toEqual(['de-CH-u-co-phonebk', 'de-CH', 'de', 'en'])
    expect(localeFallbacks('en-US', 'en')).toEqual(['en-US', 'en'])
    expect(localeFallbacks(null, 'fr')).toEqual(['fr'])
    expect(localeFallbacks('not a tag', 'fr')).toEqual(['fr'])
  })

  it('selects the first template of the channel type along the fallbacks, never another type', () => {
    const current = [
      version('email', 'de'),
      version('email', 'en'),
      version('sms', 'de-CH'),
      version('email', 'fr-CA'),
    ]
    expect(selectTemplate(current, 'email', 'de-CH', 'en')?.locale).toBe('de')
    expect(selectTemplate(current, 'email', 'fr-CA', 'en')?.locale).toBe('fr-CA')
    expect(selectTemplate(current, 'email', 'fr', 'en')?.locale).toBe('en')
    expect(selectTemplate(current, 'email', 'ja', 'de')?.locale).toBe('de')
    expect(selectTemplate(current, 'sms', 'de-CH', 'en')?.locale).toBe('de-CH')
    expect(selectTemplate(current, 'sms', 'de', 'en')).toBeNull()
    expect(selectTemplate(current, 'in_app', 'de', 'en')).toBeNull()
    expect(selectTemplate(current, 'email', 'ja', 'it')).toBeNull()
  })
})

describe('assembling a rendered template into a payload', () => {
  it('makes an email subject one line and needs a body', () => {
    const ok = assembleRendered('email', { subject: 'Paid\r\nBcc: x@evil.example', html: '<p>x</p>' }, {})
    expect(ok).toEqual({
      ok: true,
      value: { channelType: 'email', payload: { subject: 'Paid Bcc: x@evil.example', html: '<p>x</p>' } },
    })
    expect(assembleRendered('email', { subject: ' ', text: 'x' }, {})).toMatchObject({
      ok: false,
      problem: { field: 'subject', rule: 'template_output' },
    })
    expect(assembleRendered('email', { subject: 'x', html: '  ', text: '' }, {})).toMatchObject({
      ok: false,
      problem: { field: 'html' },
    })
  })

  it('refuses output longer than the transport takes', () => {
    expect(assembleRendered('sms', { text: 'x'.repeat(1601) }, {})).toMatchObject({
      ok: false,
      problem: { field: 'text', rule: 'template_output', message: expect.stringContaining('1600') },
    })
    expect(assembleRendered('sms', { text: 'x'.repeat(1600) }, {}).ok).toBe(true)
  })

  it("keeps an in-app action URL to http(s) or the host's own paths and carries the data", () => {
    const data = { invoice: 42 }
    expect(
      assembleRendered('in_app', { title: ' Paid\n', body: 'b', actionUrl: '/invoices/42' }, data),
    ).toEqual({
      ok: true,
      value: {
        channelType: 'in_app',
        payload: { title: 'Paid', body: 'b', actionUrl: '/invoices/42', data },
      },
    })
    for (const bad of [
      'javascript:alert(1)',
      '//evil.example/x',
      '/\\evil.example',
      'data:text/html,x',
      'ftp://x',
    ]) {
      expect(isSafeActionUrl(bad), bad).toBe(false)
      expect(assembleRendered('in_app', { title: 't', actionUrl: bad }, {})).toMatchObject({
        ok: false,
        problem: { field: 'actionUrl' },
      })
    }
    expect(isSafeActionUrl('https://app.example.com/i/42?x=1')).toBe(true)
  })

  it('parses a webhook body as JSON, and says how to get JSON when it is not', () => {
    expect(assembleRendered('webhook', { body: '{"id": 42, "ok": true}' }, {})).toEqual({
      ok: true,
      value: { channelType: 'webhook', payload: { id: 42, ok: true } },
    })
    expect(assembleRendered('webhook', { body: '{"name": Ada}' }, {})).toMatchObject({
      ok: false,
      problem: { field: 'body', message: expect.stringContaining('json filter') },
    })
  })
})
