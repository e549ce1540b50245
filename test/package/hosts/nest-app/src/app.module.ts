import { type DynamicModule, Module } from '@nestjs/common'
import type { Messaging } from 'messaging'
import { MessagingModule } from 'messaging/http/nest'
import { DeploymentsController } from './alerts.controller'
import { People } from './people'

@Module({})
export class AppModule {
  static register(messaging: Messaging, people: People): DynamicModule {
    return {
      module: AppModule,
      imports: [
        MessagingModule.forRoot({
          messaging,
          authenticate: (request) => people.authenticate(request),
          global: true,
        }),
      ],
      controllers: [DeploymentsController],
      providers: [{ provide: People, useValue: people }],
    }
  }
}
