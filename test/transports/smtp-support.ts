import type { AddressInfo } from 'node:net'
import { SMTPServer, type SMTPServerAddress, type SMTPServerSession } from 'smtp-server'

export interface ReceivedMail {
  readonly mailFrom: string
  readonly rcptTo: string[]
  readonly user: string | undefined
  readonly raw: string
  readonly headers: Record<string, string>
  /** Decoded text/plain and text/html parts. */
  readonly text: string | undefined
  readonly html: string | undefined
}

export interface SmtpBehaviour {
  /** Reply code for RCPT TO of this address, or undefined to accept. */
  rcpt?: (address: string) => number | undefined
  /** Reply code for DATA, or undefined to accept. */
  data?: () => number | undefined
}

export interface LoopbackSmtp {
  readonly port: number
  readonly received: ReceivedMail[]
  readonly authAttempts: { user: string; pass: string }[]
  connections: number
  behave(b: SmtpBehaviour): void
  close(): Promise<void>
}

const smtpError = (code: number) => Object.assign(new Error(`refused with ${code}`), { responseCode: code })

function decode(body: string, encoding: string | undefined): string {
  const enc = (encoding ?? '7bit').toLowerCase()
  if (enc === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8')
  if (enc === 'quoted-printable') {
    const bytes = body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, h: string) => `%${h}`)
    return decodeURIComponent(bytes)
  }
  return body
}

function parseHeaders(block: string): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const line of block.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':')
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  return headers
}

/** Splits a raw RFC 5322 message into headers and its text/plain and text/html parts. */
export function parseMail(raw: string): Pick<ReceivedMail, 'headers' | 'text' | 'html'> {
  const split = raw.indexOf('\r\n\r\n')
  const headers = parseHeaders(raw.slice(0, split))
  const body = raw.slice(split + 4)
  const out: { text?: string; html?: string } = {}
  const visit = (h: Record<string, string>, b: string) => {
    const type = h['content-type'] ?? 'text/plain'
    const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1]
    if (type.startsWith('multipart/') && boundary) {
      for (const part of b.split(`--${boundary}`).slice(1)) {
        if (part.startsWith('--')) break
        const p = part.replace(/^\r\n/, '')
        const s = p.indexOf('\r\n\r\n')
        visit(parseHeaders(p.slice(0, s)), p.slice(s + 4).replace(/\r\n$/, ''))
      }
    } else if (type.startsWith('text/html')) out.html = decode(b, h['content-transfer-encoding']).trim()
    else if (type.startsWith('text/plain')) out.text = decode(b, h['content-transfer-encoding']).trim()
  }
  visit(headers, body)
  return { headers, text: out.text, html: out.html }
}

/** A real SMTP server (smtp-server) on loopback that accepts PLAIN/LOGIN auth and records what arrives. */
export async function startSmtpServer(credentials: { user: string; pass: string }): Promise<LoopbackSmtp> {
  let behaviour: SmtpBehaviour = {}
  const received: ReceivedMail[] = []
  const authAttempts: { user: string; pass: string }[] = []
  const state = { connections: 0 }
  const server = new SMTPServer({
    logger: false,
    authOptional: true,
    allowInsecureAuth: true,
    // No certificate on loopback: STARTTLS is not offered, so the client does not try it.
    disabledCommands: ['STARTTLS'],
    authMethods: ['PLAIN', 'LOGIN'],
    onConnect(_session, cb) {
      state.connections++
      cb()
    },
    onAuth(auth, _session, cb) {
      authAttempts.push({ user: auth.username ?? '', pass: auth.password ?? '' })
      if (auth.username === credentials.user && auth.password === credentials.pass)
        cb(null, { user: auth.username })
      else cb(smtpError(535))
    },
    onRcptTo(address: SMTPServerAddress, _session: SMTPServerSession, cb) {
      const code = behaviour.rcpt?.(address.address)
      cb(code ? smtpError(code) : null)
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        const code = behaviour.data?.()
        if (code) return cb(smtpError(code))
        const raw = Buffer.concat(chunks).toString('utf8')
        received.push({
          mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
          user: typeof session.user === 'string' ? session.user : undefined,
          raw,
          ...parseMail(raw),
        })
        cb()
      })
    },
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const { port } = server.server.address() as AddressInfo
  return {
    port,
    received,
    authAttempts,
    get connections() {
      return state.connections
    },
    set connections(n: number) {
      state.connections = n
    },
    behave(b) {
      behaviour = b
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
