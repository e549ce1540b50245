import { execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { connect, RetentionPolicy, StorageType } from 'nats'
import { afterAll, describe, expect, it } from 'vitest'
import { type NatsCluster, startNatsCluster } from '../support/nats-cluster.js'
import { createTestNetwork } from '../support/netns.js'

/**
 * The harnesses the scale tests stand on, checked on their own: a three-node JetStream cluster
 * that keeps a replicated stream through the loss of one node, and hosts made of network
 * namespaces that reach each other and the test's own namespace, and leave nothing behind.
 */
describe('three-node JetStream cluster on loopback', () => {
  let cluster: NatsCluster | undefined
  afterAll(async () => {
    await cluster?.stop()
  })

  it('keeps a three-replica stream writable with one node killed, and the restarted node catches up', async () => {
    cluster = await startNatsCluster()
    const nc = await connect({ servers: [...cluster.servers] })
    try {
      const jsm = await nc.jetstreamManager()
      const info = await jsm.streams.add({
        name: 'HARNESS',
        subjects: ['harness.>'],
        num_replicas: 3,
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
      })
      expect(info.config.num_replicas).toBe(3)
      expect(info.cluster?.replicas?.length).toBe(2)
      const js = nc.jetstream()
      // A publish whose answer is lost with a node (the client reconnects elsewhere) is sent
      // again with its message id: the stream keeps one copy either way.
      const publish = async (subject: string, id: string) => {
        for (let tries = 1; ; tries++) {
          try {
            return await js.publish(subject, id, { msgID: id, timeout: 2000 })
          } catch (e) {
            if (tries >= 10) throw e
          }
        }
      }
      for (let i = 0; i < 100; i++) await publish('harness.before', `b${i}`)

      const victim = cluster.nodes.find((n) => n.name !== info.cluster?.leader)!
      await victim.kill()
      expect(victim.running).toBe(false)
      for (let i = 0; i < 100; i++) await publish('harness.during', `d${i}`)
      // A publish repeated with its message id is dropped by the stream, node down or not.
      const again = await publish('harness.during', 'd0')
      expect(again.duplicate).toBe(true)

      await victim.restart()
      await cluster.ready()
      const deadline = Date.now() + 20_000
      for (;;) {
        const now = await jsm.streams.info('HARNESS')
        const back = now.cluster?.replicas?.find((r) => r.name === victim.name)
        if (now.cluster?.leader === victim.name || back?.current) {
          expect(now.state.messages).toBe(200)
          break
        }
        if (Date.now() > deadline)
          throw new Error(`${victim.name} did not catch up: ${victim.log().slice(-1000)}`)
        await new Promise((r) => setTimeout(r, 100))
      }
    } finally {
      await nc.close()
    }
  })
})

describe('hosts from network namespaces', () => {
  it('reach each other and a server in the test namespace, and are gone after remove()', async () => {
    const server = createServer((_req, res) => res.end('gateway'))
    const network = await createTestNetwork({ hosts: 3 })
    try {
      server.listen(0, network.gateway)
      await once(server, 'listening')
      const { port } = server.address() as AddressInfo
      const [h1, h2] = network.hosts as [(typeof network.hosts)[0], (typeof network.hosts)[0]]
      expect(new Set(network.hosts.map((h) => h.address)).size).toBe(3)

      const listener = h1.spawn(
        process.execPath,
        [
          '-e',
          `require('http').createServer((q, s) => s.end('h1')).listen(8080, '${h1.address}', () => console.log('up'))`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      )
      await once(listener.stdout!, 'data')
      const probe = h2.spawn(
        process.execPath,
        [
          '-e',
          `Promise.all([fetch('http://${h1.address}:8080'), fetch('http://${network.gateway}:${port}')])
             .then((rs) => Promise.all(rs.map((r) => r.text()))).then((t) => console.log(t.join(',')))`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      )
      let out = ''
      probe.stdout!.on('data', (d: Buffer) => {
        out += d.toString()
      })
      const [code] = (await once(probe, 'exit')) as [number]
      expect(code).toBe(0)
      expect(out.trim()).toBe('h1,gateway')
      // Loopback inside a namespace is its own: the host's 127.0.0.1 services are not there.
      expect(execFileSync('ip', ['-n', h2.name, '-br', 'addr']).toString()).toContain(h2.address)
    } finally {
      await network.remove()
      server.close()
    }
    const namespaces = execFileSync('ip', ['netns', 'list']).toString()
    for (const h of network.hosts) expect(namespaces).not.toContain(h.name)
    expect(execFileSync('ip', ['-br', 'addr']).toString()).not.toContain(network.gateway)
  })
})
