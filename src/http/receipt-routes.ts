import { z } from 'zod'
import { tenantIdSchema } from '../domain/ids.js'
import { emailReceiptBodySchema, MAX_RECEIPT_BODY_BYTES, type ReceiptInput } from '../domain/receipts.js'
import type { RouteDef } from './router.js'
import { receiptResultSchema } from './schemas.js'

/** The tenant and channel a receipt's URL names: the provider is given one URL per channel. */
const receiptPath = z.strictObject({ infrastructureId: tenantIdSchema, channelId: tenantIdSchema })

/** Twilio's status callback, as documented (the route reads the raw form; the signature covers every field). */
const twilioStatusCallback = z.looseObject({
  MessageSid: z.string().regex(/^(SM|MM)[0-9a-fA-F]{32}$/),
  MessageStatus: z
    .string()
    .describe(
      '`delivered` confirms the message; `undelivered` and `failed` bounce it; `queued`, `sending`, `sent` and the rest are ignored.',
    ),
  ErrorCode: z.string().optional().describe('Twilio error code of an undelivered or failed message.'),
  AccountSid: z.string().optional(),
  From: z.string().optional(),
  To: z.string().optional(),
})

/**
 * Inbound delivery receipts (docs/live.md, "Provider receipts"). Public: no principal; each
 * receipt is admitted by its signature, made with a secret of the channel its path names.
 */
export const RECEIPT_ROUTES: readonly RouteDef[] = [
  {
    method: 'POST',
    path: '/receipts/sms/:infrastructureId/:channelId',
    operationId: 'receiveSmsReceipt',
    tag: 'receipts',
    summary: "An SMS provider's status callback (Twilio)",
    description:
      "Set as the status callback URL of a Twilio-backed SMS channel. `X-Twilio-Signature` must be Twilio's signature of this URL (as the provider called it: see `publicOrigin`) and the form, with the auth token of the channel's Twilio account or of one of its fallbacks; otherwise 401 and nothing changes. `delivered` moves the delivered message whose attempt recorded `MessageSid` to `confirmed`, `undelivered` or `failed` to `bounced`, with a `message.confirmed` or `message.bounced` event. A message in any other state, or a second receipt, changes nothing (`unchanged`). An unknown channel or message is 404.",
    input: receiptPath,
    from: 'raw',
    public: true,
    rawBody: {
      mediaType: 'application/x-www-form-urlencoded',
      schema: twilioStatusCallback,
      maxBytes: MAX_RECEIPT_BODY_BYTES,
    },
    headers: { 'x-twilio-signature': 'twilioSignature' },
    response: receiptResultSchema,
    run: (m, _principal, input, ctx) =>
      m.receiveReceipt({ ...input, kind: 'sms', url: ctx.publicUrl } as ReceiptInput),
  },
  {
    method: 'POST',
    path: '/receipts/email/:infrastructureId/:channelId',
    operationId: 'receiveEmailReceipt',
    tag: 'receipts',
    summary: "An email service's signed delivery receipt",
    description:
      "A JSON receipt signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`: `v1,` base64 HMAC-SHA256 of `id.timestamp.body`) with the email channel's `receiptSecret`; unsigned, wrongly signed, or signed more than 5 minutes from the server's clock: 401 and nothing changes. Names the message by `messageId` (the module's) or `providerMessageId` (the Message-ID its delivered attempt recorded). `delivered` moves a delivered message to `confirmed`, `bounced` to `bounced`, with the event; any other state, or a second receipt, changes nothing (`unchanged`). An unknown channel or message is 404.",
    input: receiptPath,
    from: 'raw',
    public: true,
    rawBody: {
      mediaType: 'application/json',
      schema: emailReceiptBodySchema,
      maxBytes: MAX_RECEIPT_BODY_BYTES,
    },
    headers: {
      'webhook-id': 'webhookId',
      'webhook-timestamp': 'webhookTimestamp',
      'webhook-signature': 'webhookSignature',
    },
    response: receiptResultSchema,
    run: (m, _principal, input, ctx) =>
      m.receiveReceipt({ ...input, kind: 'email', url: ctx.publicUrl } as ReceiptInput),
  },
]
