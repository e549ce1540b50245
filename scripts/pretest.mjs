#!/usr/bin/env node
// `npm test` runs this first: the suite needs servers and a browser of the machine (real
// parts, never mocks), and a missing one is a failure, never a skip. As root with apt (a
// fresh Debian or Ubuntu machine, CI), it installs what is missing from the distribution;
// anywhere else it says plainly what to install and stops before the suite.
import { execFileSync, spawnSync } from 'node:child_process'
import { accessSync, constants, existsSync, readdirSync } from 'node:fs'
import { delimiter, join } from 'node:path'

const which = (name) =>
  (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, name), constants.X_OK)
      return true
    } catch {
      return false
    }
  })

const debianPostgres = () => {
  try {
    return readdirSync('/usr/lib/postgresql').some((v) => existsSync(`/usr/lib/postgresql/${v}/bin/initdb`))
  } catch {
    return false
  }
}

/** What the suite needs, how to tell it is there, its Debian package, and what to do elsewhere. */
const NEEDS = [
  {
    what: 'PostgreSQL server binaries (initdb, pg_ctl): the tests start a throwaway server',
    present: () =>
      Boolean(process.env.DATABASE_URL || process.env.PG_BINDIR) || debianPostgres() || which('initdb'),
    debian: 'postgresql',
    elsewhere:
      'PostgreSQL 15 or later (macOS: brew install postgresql@15), or DATABASE_URL naming a server where the tests may create databases and roles',
  },
  {
    what: 'Chromium at /usr/bin/chromium: the web components run in it headless',
    present: () => existsSync('/usr/bin/chromium'),
    debian: 'chromium',
    elsewhere: 'Chromium installed at /usr/bin/chromium',
  },
  {
    what: 'faketime: tests that move the clock of a process',
    present: () => which('faketime'),
    debian: 'faketime',
    elsewhere: 'libfaketime (macOS: brew install libfaketime)',
  },
  {
    what: 'nats-server: the JetStream relay tests',
    present: () =>
      Boolean(process.env.NATS_SERVER) || existsSync('/usr/sbin/nats-server') || which('nats-server'),
    debian: 'nats-server',
    elsewhere:
      'nats-server 2.9 or later (https://nats.io; macOS: brew install nats-server), or NATS_SERVER naming it',
  },
  {
    what: 'ip (iproute2): the multi-host test builds its hosts from network namespaces',
    present: () => which('ip') || existsSync('/usr/sbin/ip') || existsSync('/sbin/ip'),
    debian: 'iproute2',
    elsewhere: 'iproute2 (Linux only; the test runs as root)',
  },
]

const missing = NEEDS.filter((n) => !n.present())
if (missing.length === 0) process.exit(0)

const root = typeof process.getuid === 'function' && process.getuid() === 0
if (root && which('apt-get')) {
  const packages = missing.map((n) => n.debian)
  process.stderr.write(`pretest: installing ${packages.join(', ')} (apt-get, as root)\n`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env })
  const install = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env,
  })
  const still = NEEDS.filter((n) => !n.present())
  if (install.status === 0 && still.length === 0) process.exit(0)
  process.stderr.write(`pretest: still missing after apt-get: ${still.map((n) => n.debian).join(', ')}\n`)
  process.exit(1)
}

process.stderr.write(
  [
    'npm test needs these on this machine, and they are missing:',
    ...missing.map(
      (n) => `  - ${n.what}\n    install: ${n.elsewhere}; Debian/Ubuntu: apt-get install ${n.debian}`,
    ),
    `On Debian or Ubuntu, as root, npm test installs them itself (or: sudo apt-get install ${missing.map((n) => n.debian).join(' ')}).`,
    '',
  ].join('\n'),
)
process.exit(1)
