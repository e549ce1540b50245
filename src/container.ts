import { Container, ContainerModule } from 'inversify'
import { createLiquidTemplateEngine } from './adapters/liquid/liquid-template-engine.js'
import { createSqliteStorage } from './adapters/sqlite/sqlite-storage.js'
import { AuditService } from './application/audit-service.js'
import { CategoryService } from './application/category-service.js'
import { ChannelService } from './application/channel-service.js'
import { DEFAULT_LIMITS, type MessagingLimits, type ServiceContext } from './application/context.js'
import { DeadLetterService } from './application/dead-letter-service.js'
import { DeliveryService } from './application/delivery-service.js'
import { EventEndpointService } from './application/event-endpoint-service.js'
import { EventService } from './application/event-service.js'
import { InboxService } from './application/inbox-service.js'
import { MembershipService } from './application/membership-service.js'
import { NotifyService } from './application/notify-service.js'
import { OutboxService } from './application/outbox-service.js'
import { PreferenceService } from './application/preference-service.js'
import { ProfileService } from './application/profile-service.js'
import { ReceiptService } from './application/receipt-service.js'
import { ScheduleService } from './application/schedule-service.js'
import { TemplateRenderer } from './application/template-renderer.js'
import { TemplateService } from './application/template-service.js'
import { type ChannelTypeDefinition, ChannelTypeRegistry } from './domain/channel.js'
import { compileDestinationPolicy, type DestinationPolicy } from './domain/destinations.js'
import { ValidationError } from './domain/errors.js'
import { QUIET_HOURS_PASS_THROUGH_DEFAULT } from './domain/quiet-hours.js'
import { Messaging } from './messaging.js'
import type { ChannelSecrets } from './ports/channel-secrets.js'
import { type Clock, systemClock } from './ports/clock.js'
import { createLocalEventFeed } from './ports/event-feed.js'
import { type IdGenerator, randomIds } from './ports/id-generator.js'
import type { TemplateEngine } from './ports/template-engine.js'
import type { Transport } from './ports/transport.js'
import type { MessagingStorage } from './ports/unit-of-work.js'
import type { WakeSignal } from './ports/wake-signal.js'
import { channelSecrets, keylessSecrets } from './secrets/channel-secrets.js'
import { createSecretBox, type SecretBox, secretKeysFromEnv } from './secrets/secret-box.js'

/** Service identifiers of the module's bindings, for hosts that resolve them from their own container. */
export const MESSAGING_TYPES = {
  Storage: Symbol.for('messaging.Storage'),
  Clock: Symbol.for('messaging.Clock'),
  IdGenerator: Symbol.for('messaging.IdGenerator'),
  ChannelTypes: Symbol.for('messaging.ChannelTypes'),
  Transports: Symbol.for('messaging.Transports'),
  Limits: Symbol.for('messaging.Limits'),
  ServiceContext: Symbol.for('messaging.ServiceContext'),
  ChannelService: Symbol.for('messaging.ChannelService'),
  MembershipService: Symbol.for('messaging.MembershipService'),
  OutboxService: Symbol.for('messaging.OutboxService'),
  AuditService: Symbol.for('messaging.AuditService'),
  EventService: Symbol.for('messaging.EventService'),
  ReceiptService: Symbol.for('messaging.ReceiptService'),
  EventEndpointService: Symbol.for('messaging.EventEndpointService'),
  DeliveryService: Symbol.for('messaging.DeliveryService'),
  DeadLetterService: Symbol.for('messaging.DeadLetterService'),
  ScheduleService: Symbol.for('messaging.ScheduleService'),
  InboxService: Symbol.for('messaging.InboxService'),
  WakeSignal: Symbol.for('messaging.WakeSignal'),
  ProfileService: Symbol.for('messaging.ProfileService'),
  CategoryService: Symbol.for('messaging.CategoryService'),
  PreferenceService: Symbol.for('messaging.PreferenceService'),
  NotifyService: Symbol.for('messaging.NotifyService'),
  ChannelSecrets: Symbol.for('messaging.ChannelSecrets'),
  TemplateEngine: Symbol.for('messaging.TemplateEngine'),
  TemplateService: Symbol.for('messaging.TemplateService'),
  Messaging: Symbol.for('messaging.Messaging'),
} as const

export interface MessagingOptions {
  /** Where channels, members, the outbox and the audit log live. Without it: SQLite at `sqlitePath`. */
  readonly storage?: MessagingStorage
  /**
   * The SQLite database used when no `storage` is given: a file path (created and migrated
   * on first use, WAL mode) or `':memory:'` (the default: nothing is written to disk).
   */
  readonly sqlitePath?: string
  readonly clock?: Clock
  readonly ids?: IdGenerator
  /** Custom channel types (beyond in_app, email, sms, webhook) with their config schemas. */
  readonly channelTypes?: readonly ChannelTypeDefinition[]
  /** Transports; each registers its channel type. */
  readonly transports?: readonly Transport[]
  readonly limits?: Partial<MessagingLimits>
  /**
   * Seals channel credentials at rest: a SecretBox (`createSecretBox` from `messaging/secrets`)
   * or any ChannelSecrets. Default: a box from MESSAGING_SECRET_KEYS when set; otherwise
   * plaintext, which only the memory store accepts for configs that hold credentials.
   */
  readonly secrets?: SecretBox | ChannelSecrets
  /**
   * Where channels may send (webhook and SMS provider URLs): `allowedRanges` lets private
   * ranges through (any port in them), `allowedPorts` adds ports to 80 and 443. Checked when a
   * channel is created or configured; give the transports the same object (`ssrf`), or use
   * `builtinTransports`, which reads `messaging.destinations`. Default: public addresses on
   * ports 80 and 443 only.
   */
  readonly destinations?: DestinationPolicy
  /** Parses and renders notification templates. Default: the Liquid engine (LiquidJS) with its default bounds. */
  readonly templateEngine?: TemplateEngine
  /**
   * Recipients' quiet hours: `passThrough` names the channel types they do not hold. Default
   * `['in_app']`: an inbox entry arrives silently at once, while email, SMS, push, webhooks
   * and custom types wait until the quiet hours end. `[]` holds every type.
   */
  readonly quietHours?: { readonly passThrough?: readonly string[] }
}

/**
 * The module's bindings as an inversify ContainerModule, for hosts that run their own container.
 *
 * @example
 * const container = new Container()
 * container.loadSync(messagingModule({ storage: createMemoryStorage() }))
 * const messaging = container.get<Messaging>(MESSAGING_TYPES.Messaging)
 */
export function messagingModule(options: MessagingOptions = {}): ContainerModule {
  return new ContainerModule(({ bind }) => {
    if (options.storage && options.sqlitePath !== undefined) {
      throw ValidationError.single(
        'sqlitePath',
        'conflicts_with_storage',
        'give storage or sqlitePath, not both',
      )
    }
    const destinations = compileDestinationPolicy(options.destinations)
    const storage = options.storage ?? defaultStorage(options)
    const inboxFeed = storage.inboxFeed
    const eventFeed = storage.eventFeed ?? createLocalEventFeed()
    bind<MessagingStorage>(MESSAGING_TYPES.Storage).toConstantValue(storage)
    bind<Clock>(MESSAGING_TYPES.Clock).toConstantValue(options.clock ?? systemClock)
    bind<IdGenerator>(MESSAGING_TYPES.IdGenerator).toConstantValue(options.ids ?? randomIds)
    bind<readonly Transport[]>(MESSAGING_TYPES.Transports).toConstantValue(options.transports ?? [])
    bind<WakeSignal>(MESSAGING_TYPES.WakeSignal).toConstantValue(storage.wakeSignal)
    bind<MessagingLimits>(MESSAGING_TYPES.Limits).toConstantValue({ ...DEFAULT_LIMITS, ...options.limits })
    bind<ChannelTypeRegistry>(MESSAGING_TYPES.ChannelTypes)
      .toDynamicValue((c) => {
        const transports = c.get<readonly Transport[]>(MESSAGING_TYPES.Transports)
        return new ChannelTypeRegistry([
          ...(options.channelTypes ?? []),
          ...transports.map((t) => t.channelType),
        ])
      })
      .inSingletonScope()
    bind<ChannelSecrets>(MESSAGING_TYPES.ChannelSecrets).toConstantValue(secretsOf(options))
    bind<ServiceContext>(MESSAGING_TYPES.ServiceContext)
      .toDynamicValue((c) => ({
        uow: c.get<MessagingStorage>(MESSAGING_TYPES.Storage).unitOfWork,
        clock: c.get<Clock>(MESSAGING_TYPES.Clock),
        ids: c.get<IdGenerator>(MESSAGING_TYPES.IdGenerator),
        channelTypes: c.get<ChannelTypeRegistry>(MESSAGING_TYPES.ChannelTypes),
        limits: c.get<MessagingLimits>(MESSAGING_TYPES.Limits),
        wake: c.get<WakeSignal>(MESSAGING_TYPES.WakeSignal),
        inboxFeed,
        eventFeed,
        secrets: c.get<ChannelSecrets>(MESSAGING_TYPES.ChannelSecrets),
        requireSealedSecrets: storage.persistent !== false,
        destinations,
        quietHoursPassThrough: new Set(options.quietHours?.passThrough ?? QUIET_HOURS_PASS_THROUGH_DEFAULT),
      }))
      .inSingletonScope()
    const service = <T>(id: symbol, make: (ctx: ServiceContext) => T) =>
      bind<T>(id)
        .toDynamicValue((c) => make(c.get<ServiceContext>(MESSAGING_TYPES.ServiceContext)))
        .inSingletonScope()
    service(MESSAGING_TYPES.ChannelService, (ctx) => new ChannelService(ctx))
    service(MESSAGING_TYPES.MembershipService, (ctx) => new MembershipService(ctx))
    service(MESSAGING_TYPES.OutboxService, (ctx) => new OutboxService(ctx))
    service(MESSAGING_TYPES.AuditService, (ctx) => new AuditService(ctx))
    service(MESSAGING_TYPES.EventService, (ctx) => new EventService(ctx))
    service(MESSAGING_TYPES.ReceiptService, (ctx) => new ReceiptService(ctx))
    service(MESSAGING_TYPES.EventEndpointService, (ctx) => new EventEndpointService(ctx))
    service(MESSAGING_TYPES.DeliveryService, (ctx) => new DeliveryService(ctx))
    service(MESSAGING_TYPES.DeadLetterService, (ctx) => new DeadLetterService(ctx))
    service(MESSAGING_TYPES.ScheduleService, (ctx) => new ScheduleService(ctx))
    service(MESSAGING_TYPES.InboxService, (ctx) => new InboxService(ctx))
    bind<TemplateEngine>(MESSAGING_TYPES.TemplateEngine).toConstantValue(
      options.templateEngine ?? createLiquidTemplateEngine(),
    )
    bind<TemplateService>(MESSAGING_TYPES.TemplateService)
      .toDynamicValue(
        (c) =>
          new TemplateService(
            c.get<ServiceContext>(MESSAGING_TYPES.ServiceContext),
            new TemplateRenderer(c.get<TemplateEngine>(MESSAGING_TYPES.TemplateEngine)),
          ),
      )
      .inSingletonScope()
    service(MESSAGING_TYPES.ProfileService, (ctx) => new ProfileService(ctx))
    service(MESSAGING_TYPES.CategoryService, (ctx) => new CategoryService(ctx))
    service(MESSAGING_TYPES.PreferenceService, (ctx) => new PreferenceService(ctx))
    service(MESSAGING_TYPES.NotifyService, (ctx) => new NotifyService(ctx))
    bind<Messaging>(MESSAGING_TYPES.Messaging)
      .toDynamicValue(
        (c) =>
          new Messaging(
            c.get(MESSAGING_TYPES.ChannelService),
            c.get(MESSAGING_TYPES.MembershipService),
            c.get(MESSAGING_TYPES.OutboxService),
            c.get(MESSAGING_TYPES.AuditService),
            c.get(MESSAGING_TYPES.DeliveryService),
            c.get(MESSAGING_TYPES.DeadLetterService),
            c.get(MESSAGING_TYPES.InboxService),
            c.get(MESSAGING_TYPES.Storage),
            c.get(MESSAGING_TYPES.ChannelTypes),
            c.get(MESSAGING_TYPES.WakeSignal),
            c.get(MESSAGING_TYPES.ProfileService),
            c.get(MESSAGING_TYPES.CategoryService),
            c.get(MESSAGING_TYPES.PreferenceService),
            c.get(MESSAGING_TYPES.TemplateService),
            c.get(MESSAGING_TYPES.NotifyService),
            c.get(MESSAGING_TYPES.ScheduleService),
            options.destinations ?? {},
            c.get(MESSAGING_TYPES.EventService),
            c.get(MESSAGING_TYPES.ReceiptService),
            c.get(MESSAGING_TYPES.EventEndpointService),
          ),
      )
      .inSingletonScope()
  })
}

/**
 * The facade, wired. A host that does not use inversify never touches it. Without a
 * `storage`, the data lives in SQLite (`sqlitePath`, default `:memory:`).
 *
 * @example
 * import { createMessaging } from 'messaging'
 * const messaging = createMessaging({ sqlitePath: './messaging.db' })
 * // or any store: createMessaging({ storage: createMemoryStorage() }) from 'messaging/memory'
 */
export function createMessaging(options: MessagingOptions = {}): Messaging {
  const container = new Container({ defaultScope: 'Singleton' })
  container.loadSync(messagingModule(options))
  return container.get<Messaging>(MESSAGING_TYPES.Messaging)
}

/**
 * SQLite, the zero-setup default. better-sqlite3 (a native module) is loaded only here, on
 * first use, so a host that passes its own storage never loads it.
 */
function defaultStorage(options: MessagingOptions): MessagingStorage {
  return createSqliteStorage({ path: options.sqlitePath ?? ':memory:' })
}

function secretsOf(options: MessagingOptions): ChannelSecrets {
  const given = options.secrets
  if (given && 'encrypts' in given) return given
  if (given) return channelSecrets(given)
  if (typeof process !== 'undefined' && process.env?.MESSAGING_SECRET_KEYS) {
    return channelSecrets(createSecretBox(secretKeysFromEnv(process.env)))
  }
  return keylessSecrets
}
