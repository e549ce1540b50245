export {
  createEmailTransport,
  type EmailTransportOptions,
  emailChannelType,
  emailPayloadSchema,
  type SmtpRelay,
} from './email-transport.js'
