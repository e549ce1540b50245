import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { BUILTIN_CHANNEL_TYPE_DEFINITIONS } from '../../src/domain/channel.js'
import { createUiAssetHandler, demoPage, uiAssets } from '../../src/ui/assets.js'
import type { ChannelsClient, HealthClient, InboxClient, PreferencesClient } from '../../src/ui/index.js'
import {
  collect,
  fieldOfIssue,
  formOf,
  type GroupField,
  type LeafField,
  missingOf,
  pathsOf,
  REDACTED,
  valuesOf,
} from '../../src/ui/schema-form.js'
import { plainIssue } from '../../src/ui/shared.js'
import { createUiClient } from '../../src/ui/ui-client.js'

const formOfType = (type: string): GroupField => {
  const def = BUILTIN_CHANNEL_TYPE_DEFINITIONS.find((d) => d.type === type)!
  return formOf(z.toJSONSchema(def.configSchema, { io: 'input', unrepresentable: 'any' }), def.secretPaths)
}

const leaf = (form: GroupField, path: string): LeafField => {
  const find = (g: GroupField): LeafField | undefined => {
    for (const c of g.children) {
      if (c.node === 'leaf' && c.path === path) return c
      if (c.node === 'group') {
        const hit = find(c)
        if (hit) return hit
      }
    }
    return undefined
  }
  const hit = find(form)
  if (!hit) throw new Error(`no field ${path}`)
  return hit
}

describe('forms generated from channel config schemas', () => {
  it('maps each property to an input kind, required flag and secret flag', () => {
    const email = formOfType('email')
    expect(leaf(email, 'config.from')).toMatchObject({ kind: 'email', required: true, secret: false })
    expect(leaf(email, 'config.smtp.port')).toMatchObject({ kind: 'integer', required: true })
    expect(leaf(email, 'config.smtp.secure')).toMatchObject({ kind: 'boolean', required: false })
    expect(leaf(email, 'config.smtp.auth.pass')).toMatchObject({ kind: 'text', secret: true })
    const smtp = email.children.find((c) => c.path === 'config.smtp')!
    expect(smtp).toMatchObject({ node: 'group', required: false })
    const webhook = formOfType('webhook')
    expect(leaf(webhook, 'config.url')).toMatchObject({ kind: 'url', required: true })
    expect(leaf(webhook, 'config.secrets')).toMatchObject({ kind: 'list', secret: true })
    expect(leaf(webhook, 'config.headers')).toMatchObject({ kind: 'map' })
    expect(leaf(webhook, 'config.timeoutMs')).toMatchObject({ kind: 'integer', defaultValue: 10_000 })
    // A nullable field unwraps to its non-null type.
    expect(leaf(formOfType('in_app'), 'config.retentionDays')).toMatchObject({ kind: 'integer' })
  })

  it('leaves out empty inputs and optional groups with nothing filled, and converts the rest', () => {
    const email = formOfType('email')
    const { values, secrets } = valuesOf(email, null)
    values.set('config.from', 'ops@example.com')
    values.set('config.timeoutMs', '5000')
    expect(collect(email, values, secrets, null).value).toEqual({ from: 'ops@example.com', timeoutMs: 5000 })
    // Filling one field of an optional group sends the group, so the server names what else it needs.
    values.set('config.smtp.host', 'smtp.example.com')
    expect(collect(email, values, secrets, null).value.smtp).toEqual({
      host: 'smtp.example.com',
      secure: false,
      requireTls: false,
    })
  })

  it('shows a stored secret as kept, sends the marker back for it, and a replacement when given', () => {
    const webhook = formOfType('webhook')
    const stored = {
      url: 'https://h.example.com/x',
      secrets: [REDACTED, REDACTED],
      timeoutMs: 10_000,
      rateLimit: { perSecond: 5 },
    }
    const { values, secrets } = valuesOf(webhook, stored)
    expect(secrets.get('config.secrets')).toBe('kept')
    expect(values.get('config.secrets')).toBe('')
    expect(values.get('config.url')).toBe('https://h.example.com/x')
    // Kept: the marker goes back (the server keeps the secret); keys outside the schema survive.
    expect(collect(webhook, values, secrets, stored).value).toEqual(stored)
    secrets.set('config.secrets', 'replace')
    values.set('config.secrets', 'whsec_AAAAAAAAAA  whsec_BBBBBBBBBB')
    expect(collect(webhook, values, secrets, stored).value.secrets).toEqual([
      'whsec_AAAAAAAAAA',
      'whsec_BBBBBBBBBB',
    ])
  })

  it('reports unparseable inputs locally and maps server issue paths to the nearest field', () => {
    const webhook = formOfType('webhook')
    const { values, secrets } = valuesOf(webhook, null)
    values.set('config.headers', 'X-Team: ops\nno colon here')
    const { value, errors } = collect(webhook, values, secrets, null)
    expect(value.headers).toEqual({ 'X-Team': 'ops' })
    expect(errors.get('config.headers')).toMatch(/Name: value/)
    const known = pathsOf(webhook)
    expect(fieldOfIssue(known, 'config.secrets.1')).toBe('config.secrets')
    expect(fieldOfIssue(known, 'config.url')).toBe('config.url')
    expect(fieldOfIssue(known, 'channelKey')).toBeNull()
  })
})

describe('what a person reads about a field', () => {
  it('flags every empty required field at once, not one with a default, nor an optional group left empty', () => {
    const webhook = formOfType('webhook')
    const { values, secrets } = valuesOf(webhook, null)
    expect(Object.fromEntries(missingOf(webhook, values, secrets))).toEqual({
      'config.url': 'Enter a value for Url.',
      'config.secrets': 'Enter a value for Secrets.',
    })
    values.set('config.url', 'https://hooks.example.com/x')
    expect([...missingOf(webhook, values, secrets).keys()]).toEqual(['config.secrets'])
    // A stored secret kept is not missing.
    secrets.set('config.secrets', 'kept')
    expect(missingOf(webhook, values, secrets).size).toBe(0)

    const nested = formOf(
      z.toJSONSchema(
        z.object({
          from: z.string().min(1),
          auth: z.object({ user: z.string().min(1), pass: z.string().min(1) }).optional(),
          retries: z.number().default(3),
        }),
        { io: 'input' },
      ),
      ['auth.pass'],
    )
    const state = valuesOf(nested, null)
    expect([...missingOf(nested, state.values, state.secrets).keys()]).toEqual(['config.from'])
    // Once something of the optional group is filled, the rest of it is required.
    state.values.set('config.auth.user', 'mailer')
    expect([...missingOf(nested, state.values, state.secrets).keys()]).toEqual([
      'config.from',
      'config.auth.pass',
    ])
  })

  it("says the server's rules in plain sentences", () => {
    const say = (rule: string, message: string, label?: string) =>
      plainIssue({ path: 'x', rule, message }, label)
    expect(say('too_small', 'Too small: expected string to have >=1 characters', 'Channel key')).toBe(
      'Enter a value for Channel key.',
    )
    expect(say('too_small', 'Too small: expected string to have >=1 characters')).toBe(
      'Required: enter a value.',
    )
    expect(say('invalid_type', 'Invalid input: expected string, received undefined', 'Url')).toBe(
      'Enter a value for Url.',
    )
    expect(say('too_big', 'Too big: expected string to have <=80 characters')).toBe(
      'Enter at most 80 characters.',
    )
    expect(say('too_small', 'Too small: expected number to be >=1')).toBe('Enter at least 1.')
    expect(say('too_big', 'Too big: expected array to have <=10 items')).toBe('Enter at most 10 values.')
    expect(say('format:url', 'Invalid URL')).toBe('Enter a full URL, starting with https:// or http://.')
    expect(say('format:email', 'Invalid email address')).toBe('Enter an e-mail address (name@example.com).')
    expect(say('invalid_value', 'Invalid option: expected one of "none"|"here"|"all"')).toBe(
      'Choose one of the values offered.',
    )
    // The module's own sentences are kept, as sentences.
    expect(say('format:regex', 'must be a lower-case slug')).toBe('Must be a lower-case slug.')
    expect(say('destination', 'Loopback addresses are not allowed.')).toBe(
      'Loopback addresses are not allowed.',
    )
  })
})

describe('the demo assets', () => {
  it('serve the page and the bundle by path, the page loading the bundle relatively', async () => {
    const assets = await uiAssets({ bundle: '/* bundle */' })
    expect(Object.keys(assets).sort()).toEqual(['/', '/index.html', '/messaging-ui.js'])
    expect(assets['/messaging-ui.js']).toEqual({
      contentType: 'text/javascript; charset=utf-8',
      body: '/* bundle */',
    })
    expect(assets['/']!.body).toContain('<script type="module" src="./messaging-ui.js"></script>')
    for (const tag of [
      'messaging-channels',
      'messaging-preferences',
      'messaging-inbox',
      'messaging-health',
      'messaging-templates',
    ])
      expect(assets['/']!.body).toContain(`<${tag}`)
  })

  it('cannot be broken out of by a configured value', () => {
    const page = demoPage({
      title: '<img src=x onerror=alert(1)>',
      identities: [{ label: '</script><script>alert(1)</script>', token: 't', infrastructureId: 'i' }],
    })
    expect(page).not.toContain('<img src=x')
    expect(page).not.toContain('</script><script>alert(1)')
    expect(page).toContain('\\u003c/script>')
  })
})

describe('the asset handler', () => {
  const ui = createUiAssetHandler(
    {
      '/': { contentType: 'text/html; charset=utf-8', body: '<!doctype html>' },
      '/a.js': { contentType: 'text/javascript', body: '1' },
    },
    { prefix: '/console' },
  )
  it('serves its paths with a strict policy on the page, redirects the bare prefix, and passes the rest on', async () => {
    const page = ui(new Request('http://h/console/'))!
    expect(page.status).toBe(200)
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
    expect(await page.text()).toBe('<!doctype html>')
    const js = ui(new Request('http://h/console/a.js'))!
    expect(js.headers.get('x-content-type-options')).toBe('nosniff')
    expect(js.headers.get('content-security-policy')).toBeNull()
    expect(ui(new Request('http://h/console'))!.headers.get('location')).toBe('/console/')
    expect(ui(new Request('http://h/console/missing.js'))).toBeUndefined()
    expect(ui(new Request('http://h/functions/v1/messaging/channels'))).toBeUndefined()
    expect(ui(new Request('http://h/console/', { method: 'POST' }))).toBeUndefined()
  })

  it('hands the client every method the components call', () => {
    const client: ChannelsClient & PreferencesClient & InboxClient & HealthClient = createUiClient({
      baseUrl: 'http://h/functions/v1/messaging',
    })
    const methods = [
      'listChannelTypes',
      'listMessagingChannels',
      'createChannel',
      'configureChannel',
      'listMemberships',
      'setOptIn',
      'listInbox',
      'countUnread',
      'markInbox',
      'stats',
      'listDeadLetters',
      'redriveMessage',
      'redriveChannel',
    ] as const
    for (const m of methods) expect(typeof client[m]).toBe('function')
  })
})
