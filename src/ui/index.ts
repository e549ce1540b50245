/**
 * Web components for administrators and operators, on the typed client: custom elements
 * (Lit, shadow DOM, themed by `--messaging-*` custom properties) that drop into any page or
 * framework. A back-end-only host never loads this entry point.
 *
 * @example
 * import { createUiClient } from 'messaging/ui' // defines the seven elements
 * const client = createUiClient({ baseUrl: '/functions/v1/messaging', getToken: () => session.token, infrastructureId })
 * for (const el of document.querySelectorAll('messaging-channels, messaging-preferences, messaging-inbox, messaging-health, messaging-messages, messaging-templates, messaging-event-endpoints')) el.client = client
 */
import { MessagingChannels } from './messaging-channels.js'
import { MessagingEventEndpoints } from './messaging-event-endpoints.js'
import { MessagingHealth } from './messaging-health.js'
import { MessagingInbox } from './messaging-inbox.js'
import { MessagingMessages } from './messaging-messages.js'
import { MessagingPreferences } from './messaging-preferences.js'
import { MessagingTemplates } from './messaging-templates.js'

export { type ChannelsClient, MessagingChannels } from './messaging-channels.js'
export { type EventEndpointsClient, MessagingEventEndpoints } from './messaging-event-endpoints.js'
export { type HealthClient, MessagingHealth } from './messaging-health.js'
export { entryText, type InboxClient, MessagingInbox } from './messaging-inbox.js'
export { type MessagesClient, MessagingMessages } from './messaging-messages.js'
export { MessagingPreferences, type PreferencesClient } from './messaging-preferences.js'
export { MessagingTemplates, type TemplatesClient } from './messaging-templates.js'
export { type FormNode, formOf, type GroupField, type LeafField } from './schema-form.js'
export { describeError, MessagingElement } from './shared.js'
export { type ChannelTypeInfo, createUiClient, type JsonSchema, type MessagingUiClient } from './ui-client.js'

/** The tag names, as defined by {@link defineMessagingElements}. */
export const MESSAGING_ELEMENTS = {
  'messaging-channels': MessagingChannels,
  'messaging-preferences': MessagingPreferences,
  'messaging-inbox': MessagingInbox,
  'messaging-health': MessagingHealth,
  'messaging-messages': MessagingMessages,
  'messaging-templates': MessagingTemplates,
  'messaging-event-endpoints': MessagingEventEndpoints,
} as const

/**
 * Registers the seven elements (done on import when the page has a `customElements`
 * registry; a tag already taken is left alone).
 */
export function defineMessagingElements(registry: CustomElementRegistry = customElements): void {
  for (const [tag, ctor] of Object.entries(MESSAGING_ELEMENTS)) {
    if (!registry.get(tag)) registry.define(tag, ctor)
  }
}

if (typeof customElements !== 'undefined') defineMessagingElements()

declare global {
  interface HTMLElementTagNameMap {
    'messaging-channels': MessagingChannels
    'messaging-preferences': MessagingPreferences
    'messaging-inbox': MessagingInbox
    'messaging-health': MessagingHealth
    'messaging-messages': MessagingMessages
    'messaging-templates': MessagingTemplates
    'messaging-event-endpoints': MessagingEventEndpoints
  }
}
