export { createOutboundHttp, type OutboundHttp, type OutboundHttpOptions } from '../shared/safe-http.js'
export {
  createHttpJsonSmsProvider,
  createTwilioSmsProvider,
  type HttpJsonSmsProviderConfig,
  type SmsProvider,
  type SmsRequest,
  type TwilioSmsProviderConfig,
} from './sms-provider.js'
export {
  createSmsTransport,
  e164Schema,
  type SmsTransportOptions,
  smsChannelType,
  smsPayloadSchema,
} from './sms-transport.js'
