import { css, html, nothing, type TemplateResult } from 'lit'
import type { TemplatePreview } from '../application/template-service.js'

export const previewStyles = css`
  .preview {
    display: grid;
    gap: 0.5rem;
    align-content: start;
    min-width: 0;
  }
  .preview dl {
    display: grid;
    grid-template-columns: max-content minmax(0, 1fr);
    gap: 0.25rem 0.75rem;
    margin: 0;
  }
  .preview dt {
    font-weight: 600;
  }
  .preview dd {
    margin: 0;
    overflow-wrap: anywhere;
  }
  .preview pre {
    margin: 0;
    padding: 0.5rem;
    background: var(--messaging-code-background, #f6f8fa);
    border-radius: calc(var(--messaging-radius, 8px) / 2);
    white-space: pre-wrap;
    overflow-wrap: anywhere;
    max-height: 20rem;
    overflow: auto;
  }
  .preview iframe {
    width: 100%;
    min-height: 14rem;
    border: 1px solid var(--messaging-border-color, #d0d7de);
    border-radius: calc(var(--messaging-radius, 8px) / 2);
    background: #ffffff;
  }
  .sms-bubble {
    justify-self: start;
    max-width: 22rem;
    padding: 0.5rem 0.75rem;
    border-radius: 1rem;
    background: var(--messaging-bubble-background, #e7f0fb);
    white-space: pre-wrap;
    overflow-wrap: anywhere;
  }
`

/** SMS segments: 160 GSM-7 characters alone, 153 each when split (3GPP TS 23.038); UCS-2 70 / 67. */
export function smsSegments(text: string): {
  readonly segments: number
  readonly encoding: 'GSM-7' | 'UCS-2'
} {
  const gsm =
    /^[\n\r !"#$%&'()*+,\-./0-9:;<=>?@A-Z_a-z£¥èéùìòÇØøÅåΔΦΓΛΩΠΨΣΘΞÆæßÉÄÖÑÜ§¿äöñüà^{}\\[~\]|€]*$/.test(text)
  const [single, multi] = gsm ? [160, 153] : [70, 67]
  const length = [...text].length
  return { segments: length <= single ? 1 : Math.ceil(length / multi), encoding: gsm ? 'GSM-7' : 'UCS-2' }
}

/**
 * What a preview looks like for each channel type. An email's HTML is shown in a sandboxed
 * frame with no script allowed (`sandbox=""`), so a template's markup can do nothing but
 * be seen.
 */
export function renderPreview(p: TemplatePreview): TemplateResult {
  const payload = p.payload as Record<string, unknown>
  const text = (k: string) => (typeof payload?.[k] === 'string' ? (payload[k] as string) : undefined)
  switch (p.channelType) {
    case 'email':
      return html`<dl>
          <dt>Subject</dt>
          <dd data-preview="subject">${text('subject')}</dd>
        </dl>
        ${
          text('html') !== undefined
            ? html`<iframe title="HTML body preview" sandbox="" srcdoc=${text('html')!}></iframe>`
            : nothing
        }
        ${
          text('text') !== undefined
            ? html`<p class="label">Text body</p>
              <pre data-preview="text">${text('text')}</pre>`
            : nothing
        }`
    case 'sms': {
      const body = text('text') ?? ''
      const { segments, encoding } = smsSegments(body)
      return html`<p class="sms-bubble" data-preview="text">${body}</p>
        <p class="muted">${[...body].length} characters, ${segments} segment${segments === 1 ? '' : 's'} (${encoding})</p>`
    }
    case 'in_app':
      return html`<dl>
        <dt>Title</dt>
        <dd data-preview="title">${text('title')}</dd>
        ${text('body') !== undefined ? html`<dt>Body</dt><dd data-preview="body">${text('body')}</dd>` : nothing}
        ${
          text('actionUrl') !== undefined
            ? html`<dt>Action</dt><dd data-preview="actionUrl"><code>${text('actionUrl')}</code></dd>`
            : nothing
        }
      </dl>`
    case 'webhook':
      return html`<pre data-preview="body">${JSON.stringify(p.payload, null, 2)}</pre>`
  }
}
