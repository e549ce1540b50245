import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common'
import { Messaging } from 'messaging'
import { People } from './people'

/** The host's own route: a deployment finished, operations and the reader hear of it. */
@Controller('deployments')
export class DeploymentsController {
  // Injected by class: the facade's class from `messaging` is the token the module provides.
  constructor(
    private readonly messaging: Messaging,
    private readonly people: People,
  ) {}

  @Post(':service/finished')
  @HttpCode(202)
  async finished(@Param('service') service: string, @Body() body: { version: string }) {
    const { infrastructureId, automation } = this.people
    const hook = await this.messaging.enqueue(automation, {
      infrastructureId,
      channelKey: 'ops-hook',
      payload: { event: 'deployment.finished', service, version: body.version },
    })
    const inbox = await this.messaging.enqueue(automation, {
      infrastructureId,
      channelKey: 'alerts',
      payload: { title: `${service} ${body.version} is live` },
    })
    return { webhookMessageId: hook.message.id, inboxMessageId: inbox.message.id }
  }
}
