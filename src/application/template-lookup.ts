import {
  DEFAULT_TEMPLATE_LOCALE,
  selectTemplate,
  type TemplateChannelType,
  type TemplateVersion,
} from '../domain/template.js'
import type { TenantScope } from '../domain/tenant-scope.js'
import type { Repositories } from '../ports/unit-of-work.js'

/**
 * The templates one notification may render, read once: the current version of each
 * (channel type, locale) of its category and the tenant's default locale. A notify to
 * thousands of recipients picks each one's template from it in memory.
 */
export interface TemplateChoice {
  readonly categoryKey: string
  readonly defaultLocale: string
  /** Every current version of the category, one per (channel type, locale). */
  readonly current: readonly TemplateVersion[]
  /**
   * The version a message to a recipient in `recipientLocale` over `channelType` renders:
   * the recipient's locale, then its language, then the tenant's default; null when none.
   * Its `id` is what the outbox message records.
   */
  pick(
    channelType: TemplateChannelType | (string & {}),
    recipientLocale: string | null | undefined,
  ): TemplateVersion | null
}

/**
 * Reads the choice inside the caller's own unit of work (a notify call's), with the
 * caller's scope: two reads, whatever the number of recipients.
 *
 * @example
 * const choice = await loadTemplateChoice(repos, scope, infrastructureId, 'invoice.paid')
 * const template = choice.pick('email', profile.locale) // record template?.id on the message
 */
export async function loadTemplateChoice(
  repos: Pick<Repositories, 'templates'>,
  scope: TenantScope,
  infrastructureId: string,
  categoryKey: string,
): Promise<TemplateChoice> {
  const current = await repos.templates.listCurrent(scope, { infrastructureId, categoryKey })
  const settings = await repos.templates.findSettings(scope, infrastructureId)
  const defaultLocale = settings?.defaultLocale ?? DEFAULT_TEMPLATE_LOCALE
  return {
    categoryKey,
    defaultLocale,
    current,
    pick: (channelType, recipientLocale) =>
      selectTemplate(current, channelType, recipientLocale, defaultLocale),
  }
}
