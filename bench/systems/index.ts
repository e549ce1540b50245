import { type Subject, type SubjectOptions, SYSTEM_NAMES, type SystemName } from '../common.js'
import type { Lane, RunContext } from '../run.js'
import { openGraphile } from './graphile.js'
import { openModule } from './module.js'
import { openPgBoss } from './pgboss.js'
import { openRaw } from './raw.js'

/** `--systems a,b`: every name must be one of SYSTEM_NAMES (a typo must not silently measure nothing). */
export function parseSystems(text: string): SystemName[] {
  const names = text
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
  const unknown = names.filter((n) => !(SYSTEM_NAMES as readonly string[]).includes(n))
  if (unknown.length > 0)
    throw new Error(`unknown system ${unknown.join(', ')}: --systems takes ${SYSTEM_NAMES.join(', ')}`)
  if (names.length === 0) throw new Error(`--systems takes one or more of ${SYSTEM_NAMES.join(', ')}`)
  return [...new Set(names)] as SystemName[]
}

let dbCounter = 0

/** A fresh database name for one system of one figure. */
export const databaseName = (label: string) =>
  `bench_${label.replace(/\W+/g, '_')}_${process.pid}_${++dbCounter}`

/** Opens one system on a fresh database of the run's server. */
export async function openSystem(
  ctx: RunContext,
  system: SystemName,
  opts: Partial<SubjectOptions> & { asOwner?: boolean } = {},
): Promise<Lane<Subject>> {
  const o: SubjectOptions = { tenants: ctx.sizes.tenants ?? 100, poolSize: 32, ...opts }
  const db = databaseName(opts.asOwner ? `${system}_owner` : system)
  let subject: Subject
  switch (system) {
    case 'module':
      subject = await openModule(ctx.server, db, ctx.template, o, { asOwner: opts.asOwner === true })
      break
    case 'pg-boss':
      subject = await openPgBoss(ctx.server, db, o)
      break
    case 'graphile-worker':
      subject = await openGraphile(ctx.server, db, o)
      break
    case 'raw':
      subject = await openRaw(ctx.server, db, o)
      break
  }
  return { label: subject.name, subject, databases: subject.databases }
}

/**
 * Opens each of `systems` the run asked for; a system that fails to open is reported as a
 * failed row instead of stopping the figure.
 */
export async function openLanes(
  ctx: RunContext,
  figure: string,
  systems: readonly SystemName[],
  opts: Partial<SubjectOptions> = {},
): Promise<{ lanes: Lane<Subject>[]; failed: { system: string; error: string }[] }> {
  const lanes: Lane<Subject>[] = []
  const failed: { system: string; error: string }[] = []
  for (const system of systems.filter((s) => ctx.systems.includes(s))) {
    ctx.progress(figure, system, 'setup')
    try {
      lanes.push(await openSystem(ctx, system, opts))
    } catch (e) {
      failed.push({ system, error: e instanceof Error ? e.message : String(e) })
    }
  }
  return { lanes, failed }
}
