import { css } from 'lit'
import { entryText } from './messaging-inbox.js'

// What the operator views (<messaging-health>, <messaging-messages>) share.

/**
 * Their tables: an error text in the mono font, a table that scrolls inside its own box,
 * and below 40rem (a 390 px phone) each row as a card, each cell labelled by its column
 * through `data-label`, so nothing scrolls sideways.
 */
export const cardTableStyles = css`
  .error-text {
    font-family: var(--messaging-mono-font-family, ui-monospace, monospace);
    font-size: 0.85em;
    word-break: break-word;
  }
  .table-wrap {
    overflow-x: auto;
  }
  :host {
    container-type: inline-size;
  }
  /* Below 40rem (a 390 px phone) each row becomes a card, each cell labelled by its column,
     so nothing scrolls sideways. */
  @container (max-width: 40rem) {
    thead {
      position: absolute;
      width: 1px;
      height: 1px;
      overflow: hidden;
      clip: rect(0 0 0 0);
    }
    table,
    tbody,
    tr,
    th,
    td {
      display: block;
    }
    tr {
      border-bottom: 1px solid var(--messaging-border-color, #d0d7de);
      padding: 0.4rem 0;
    }
    th,
    td,
    td.num {
      border: 0;
      padding: 0.15rem 0.25rem;
      text-align: left;
    }
    [data-label]::before {
      content: attr(data-label) ': ';
      color: var(--messaging-muted, #57606a);
      font-weight: 400;
    }
  }
`

/** An id as the views show it: its first eight characters (the whole one in a title). */
export const short = (id: string) => id.slice(0, 8)

/** What a person calls a message: its subject or text (as in the inbox), shortened. */
export function subjectOf(payload: unknown): string {
  const { title } = entryText(payload)
  return title.length > 60 ? `${title.slice(0, 59)}…` : title
}
