/**
 * A webhook receiver on one "host" of the multi-host test, run inside a network namespace:
 *
 *   host-receiver.ts <address> <port>
 *
 * Verifies every Standard Webhooks signature (RECEIVER_SECRET) and prints one JSON line per
 * delivery: the message id, the host that sent it (from its User-Agent) and when.
 * A delivery with a bad signature is refused (401) and printed as such.
 */
import { createServer } from 'node:http'
import { Webhook } from 'standardwebhooks'

const [address, port] = process.argv.slice(2) as [string, string]
const verifier = new Webhook(process.env.RECEIVER_SECRET!)

const server = createServer((req, res) => {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8')
    try {
      verifier.verify(body, req.headers as Record<string, string>)
    } catch {
      process.stdout.write(`${JSON.stringify({ bad: true })}\n`)
      res.writeHead(401).end()
      return
    }
    const id = String(req.headers['webhook-id'])
    const by = String(req.headers['user-agent']).replace('host-test/', '')
    process.stdout.write(`${JSON.stringify({ id, by, at: Date.now() })}\n`)
    // A receiver that takes a moment, so the run lasts long enough to be cut.
    setTimeout(() => res.writeHead(204).end(), 5)
  })
})
server.listen(Number(port), address, () => process.stdout.write('ready\n'))
process.once('SIGTERM', () => server.close(() => process.exit(0)))
