import { type DynamicModule, Module, type Provider } from '@nestjs/common'
import { HttpAdapterHost } from '@nestjs/core'
import { Messaging } from '../../messaging.js'
import { createFetchHandler, type FetchHandler, type FetchHandlerOptions } from '../fetch-handler.js'
import { nodeMiddleware } from './node.js'

/** Injection token of the Messaging facade: `@Inject(MESSAGING) messaging: Messaging`. */
export const MESSAGING = Symbol.for('messaging.nest.Messaging')
/** Injection token of the module's FetchHandler. */
export const MESSAGING_HTTP_HANDLER = Symbol.for('messaging.nest.FetchHandler')
const MOUNT = Symbol.for('messaging.nest.Mount')

export interface MessagingModuleOptions extends Omit<FetchHandlerOptions, 'messaging'> {
  readonly messaging: Messaging
  /** Serve the HTTP routes (default true); false only exposes the facade to DI. */
  readonly mount?: boolean
  /** Register the providers globally (default false). */
  readonly global?: boolean
}

export interface MessagingModuleAsyncOptions {
  readonly imports?: DynamicModule['imports']
  readonly inject?: Array<string | symbol | (abstract new (...args: never[]) => unknown)>
  readonly useFactory: (...args: never[]) => MessagingModuleOptions | Promise<MessagingModuleOptions>
  readonly global?: boolean
}

const OPTIONS = Symbol.for('messaging.nest.Options')

/**
 * The handler is registered on the underlying Express app while Nest instantiates providers,
 * which is before `app.init()` adds Nest's own body parser: the handler reads the raw
 * body, so its caps, 400s and 415s hold as everywhere else.
 */
function mount(host: HttpAdapterHost, handler: FetchHandler, options: MessagingModuleOptions): boolean {
  const adapter = host?.httpAdapter
  if (options.mount === false || !adapter) return false
  if (adapter.getType() !== 'express') {
    throw new Error(
      'MessagingModule mounts on @nestjs/platform-express; use mount: false and mount the handler yourself',
    )
  }
  adapter.use(handler.basePath || '/', nodeMiddleware(handler))
  return true
}

function providers(): Provider[] {
  return [
    { provide: MESSAGING, useFactory: (o: MessagingModuleOptions) => o.messaging, inject: [OPTIONS] },
    { provide: Messaging, useExisting: MESSAGING },
    {
      provide: MESSAGING_HTTP_HANDLER,
      useFactory: (o: MessagingModuleOptions) => createFetchHandler(o),
      inject: [OPTIONS],
    },
    {
      provide: MOUNT,
      useFactory: mount,
      inject: [HttpAdapterHost, MESSAGING_HTTP_HANDLER, OPTIONS],
    },
  ]
}

/**
 * A Nest dynamic module: serves the HTTP routes under the base path and exposes the facade
 * to Nest's DI (by the MESSAGING token, and by the Messaging class where the host emits
 * decorator metadata). Runs on @nestjs/platform-express.
 *
 * @example
 * \@Module({ imports: [MessagingModule.forRoot({ messaging, authenticate })] })
 * class AppModule {}
 *
 * \@Injectable()
 * class Alerts { constructor(@Inject(MESSAGING) private readonly messaging: Messaging) {} }
 */
// biome-ignore lint/complexity/noStaticOnlyClass: Nest identifies a module by its class.
export class MessagingModule {
  static forRoot(options: MessagingModuleOptions): DynamicModule {
    return {
      module: MessagingModule,
      global: options.global ?? false,
      providers: [{ provide: OPTIONS, useValue: options }, ...providers()],
      exports: [MESSAGING, Messaging, MESSAGING_HTTP_HANDLER],
    }
  }

  /** Options from other providers (a config service, a storage built at startup). */
  static forRootAsync(options: MessagingModuleAsyncOptions): DynamicModule {
    return {
      module: MessagingModule,
      global: options.global ?? false,
      imports: options.imports ?? [],
      providers: [
        { provide: OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] },
        ...providers(),
      ],
      exports: [MESSAGING, Messaging, MESSAGING_HTTP_HANDLER],
    }
  }
}
// Applied as a call: the module itself needs no decorator support from the host's compiler.
Module({})(MessagingModule)
