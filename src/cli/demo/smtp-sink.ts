import type { AddressInfo } from 'node:net'
import { createServer, type Socket } from 'node:net'

/**
 * The demo's SMTP server: the smallest part of RFC 5321 a relay needs (EHLO/HELO, MAIL,
 * RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT), plain text on 127.0.0.1, no TLS and no
 * AUTH offered, so the email transport sends as it would to an internal relay. It lives in
 * the package so `messaging demo` runs from an install without development dependencies.
 */
export interface SmtpSink {
  readonly port: number
  /** Accepted mails: envelope recipients and the Subject and Message-ID headers. */
  readonly received: { rcptTo: string[]; subject: string; messageId: string }[]
  close(): Promise<void>
}

/** One mail of at most 1 MiB: the demo's are a few hundred bytes. */
const MAX_MESSAGE_BYTES = 1024 * 1024
/** A client silent this long is dropped (RFC 5321 4.5.3.2 allows minutes; loopback needs seconds). */
const IDLE_TIMEOUT_MS = 30_000

const address = (arg: string): string | null => /^<([^<>]*)>/.exec(arg.trim())?.[1] ?? null

function headerOf(head: string, name: string): string {
  // Unfold continuation lines (RFC 5322 2.2.3) before matching.
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ')
  return new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(unfolded)?.[1]?.trim() ?? ''
}

function session(socket: Socket, received: SmtpSink['received']): void {
  let from: string | null = null
  let rcptTo: string[] = []
  let data: string[] | null = null
  let size = 0
  let buffer = ''
  const reply = (line: string) => socket.write(`${line}\r\n`)
  const reset = () => {
    from = null
    rcptTo = []
    data = null
    size = 0
  }
  const endOfData = () => {
    const text = data!.join('\r\n')
    const head = text.split(/\r\n\r\n/)[0] ?? ''
    if (size > MAX_MESSAGE_BYTES) reply('552 5.3.4 message too big')
    else {
      received.push({ rcptTo, subject: headerOf(head, 'subject'), messageId: headerOf(head, 'message-id') })
      reply('250 2.0.0 queued')
    }
    reset()
  }
  const command = (line: string) => {
    const verb = line.slice(0, 4).toUpperCase()
    const arg = line.slice(4).trim()
    switch (verb) {
      case 'EHLO':
        return reply('250-localhost\r\n250 8BITMIME')
      case 'HELO':
        return reply('250 localhost')
      case 'MAIL': {
        const a = /^FROM:(.*)$/i.exec(arg)
        from = a ? address(a[1]!) : null
        return reply(from === null ? '501 5.5.4 syntax: MAIL FROM:<address>' : '250 2.1.0 ok')
      }
      case 'RCPT': {
        const a = /^TO:(.*)$/i.exec(arg)
        const to = a ? address(a[1]!) : null
        if (from === null) return reply('503 5.5.1 MAIL first')
        if (!to) return reply('501 5.5.4 syntax: RCPT TO:<address>')
        rcptTo.push(to)
        return reply('250 2.1.5 ok')
      }
      case 'DATA':
        if (rcptTo.length === 0) return reply('503 5.5.1 RCPT first')
        data = []
        return reply('354 end data with <CR><LF>.<CR><LF>')
      case 'RSET':
        reset()
        return reply('250 2.0.0 ok')
      case 'NOOP':
        return reply('250 2.0.0 ok')
      case 'QUIT':
        reply('221 2.0.0 bye')
        return socket.end()
      default:
        return reply('502 5.5.2 command not implemented')
    }
  }
  socket.setEncoding('utf8')
  socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy())
  socket.on('error', () => socket.destroy())
  socket.on('data', (chunk: string) => {
    buffer += chunk
    for (let i = buffer.indexOf('\r\n'); i >= 0; i = buffer.indexOf('\r\n')) {
      const line = buffer.slice(0, i)
      buffer = buffer.slice(i + 2)
      if (data === null) command(line)
      else if (line === '.') endOfData()
      else {
        // Dot-stuffing (RFC 5321 4.5.2): a leading dot was doubled by the sender.
        size += line.length + 2
        if (size <= MAX_MESSAGE_BYTES) data.push(line.startsWith('.') ? line.slice(1) : line)
      }
    }
    if (buffer.length > MAX_MESSAGE_BYTES) socket.destroy()
  })
  reply('220 localhost ESMTP messaging demo')
}

/** A plain SMTP server on loopback (no TLS, no auth): the relay the email transport is given. */
export async function startSmtpSink(): Promise<SmtpSink> {
  const received: SmtpSink['received'] = []
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    session(socket, received)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  return {
    port: (server.address() as AddressInfo).port,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}
