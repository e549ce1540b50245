import { execFileSync, spawn } from 'node:child_process'
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  symlinkSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
/** The checkout's installed packages: the only source of dependencies, so nothing reaches the network. */
const CHECKOUT_MODULES = realpathSync(join(ROOT, 'node_modules'))

export interface PackedPackage {
  readonly tarball: string
  /** The tarball's file list, as `npm pack` reported it. */
  readonly files: readonly string[]
  readonly manifest: {
    readonly dependencies?: Record<string, string>
    readonly peerDependencies?: Record<string, string>
    readonly exports: Record<string, unknown>
    readonly bin: Record<string, string>
  }
}

/** Builds the package (`npm run build`) and packs it (`npm pack`) into `dir`. */
export function buildAndPack(dir: string): PackedPackage {
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] })
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  const [report] = JSON.parse(out) as [{ filename: string; files: { path: string }[] }]
  const tarball = join(dir, report.filename)
  const manifest = JSON.parse(
    execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' }),
  ) as PackedPackage['manifest']
  return { tarball, files: report.files.map((f) => f.path), manifest }
}

/**
 * Installs the tarball into `<dir>/node_modules/messaging` as npm would (files extracted, the
 * bin linked and executable) and links, from the checkout's node_modules, exactly the
 * package's declared dependencies plus the host's own: a module the package loads at run
 * time without declaring it is not found. Linked packages resolve their own dependencies
 * from the checkout, as an npm install would have placed them.
 */
export function installPackage(
  dir: string,
  packed: PackedPackage,
  hostDependencies: readonly string[],
): void {
  const modules = join(dir, 'node_modules')
  const target = join(modules, 'messaging')
  mkdirSync(target, { recursive: true })
  execFileSync('tar', ['-xzf', packed.tarball, '-C', target, '--strip-components=1'])
  const names = new Set([...Object.keys(packed.manifest.dependencies ?? {}), ...hostDependencies])
  for (const name of names) {
    const source = join(CHECKOUT_MODULES, name)
    if (!existsSync(source)) throw new Error(`${name} is not installed in the checkout (npm ci first)`)
    mkdirSync(dirname(join(modules, name)), { recursive: true })
    symlinkSync(source, join(modules, name), 'dir')
  }
  mkdirSync(join(modules, '.bin'), { recursive: true })
  for (const [name, file] of Object.entries(packed.manifest.bin)) {
    chmodSync(join(target, file), 0o755)
    symlinkSync(join('..', 'messaging', file), join(modules, '.bin', name))
  }
}

/** A fresh directory for the install, outside the checkout (no node_modules above it). */
export function freshDirectory(label: string): string {
  return mkdtempSync(join(tmpdir(), `messaging-${label}-`))
}

/** Copies a host app from test/package/hosts into the install directory. */
export function copyHost(name: string, dir: string): string {
  const to = join(dir, name)
  cpSync(join(ROOT, 'test/package/hosts', name), to, { recursive: true })
  return to
}

export interface Finished {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  /** The process was still running at the deadline and was killed. */
  readonly timedOut: boolean
}

/**
 * Runs a command to its end, or kills it at `timeoutMs` (reported as `timedOut`, so a hang
 * is a failure with its output, not a stuck suite). With `exitAfterErrorMs`, once the command
 * has written to stderr it has that long to exit: start-up on a loaded machine gets the whole
 * `timeoutMs`, a command that reported its failure gets only the short budget. The
 * environment is exactly `env` plus PATH and HOME.
 */
export function run(
  command: string,
  args: readonly string[],
  options: {
    cwd: string
    env?: Record<string, string>
    timeoutMs: number
    input?: string
    exitAfterErrorMs?: number
  },
): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    let timedOut = false
    const kill = () => {
      timedOut = true
      child.kill('SIGKILL')
    }
    let afterError: NodeJS.Timeout | undefined
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString()
    })
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString()
      if (options.exitAfterErrorMs !== undefined) afterError ??= setTimeout(kill, options.exitAfterErrorMs)
    })
    const timer = setTimeout(kill, options.timeoutMs)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      clearTimeout(afterError)
      resolve({ code, signal, stdout, stderr, timedOut })
    })
    child.stdin.end(options.input ?? '')
  })
}

/** The `RESULT {json}` line a host app prints when it is done. */
export function resultOf<T>(finished: Finished): T {
  const line = finished.stdout.split('\n').find((l) => l.startsWith('RESULT '))
  if (!line || finished.code !== 0) {
    throw new Error(
      `exit ${finished.code}${finished.timedOut ? ' (killed at the deadline)' : ''}\n${finished.stdout}\n${finished.stderr}`,
    )
  }
  return JSON.parse(line.slice('RESULT '.length)) as T
}

export const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T
