import { z } from 'zod'

/**
 * A recipient's quiet hours: local wall-clock times in their own time zone, `start`
 * inclusive, `end` exclusive. `start` after `end` crosses midnight (`22:00` to `07:00`).
 */
export interface QuietHours {
  readonly start: string
  readonly end: string
}

const hhmm = z.string().regex(/^(?:[01]\d|2[0-3]):[0-5]\d$/, {
  message: 'must be a local time HH:MM, 00:00 to 23:59',
})

export const quietHoursSchema = z.strictObject({ start: hhmm, end: hhmm }).refine((v) => v.start !== v.end, {
  message: 'must differ from start: quiet hours of no length hold nothing',
  params: { rule: 'empty_window' },
  path: ['end'],
})

/** Channel types quiet hours hold by default: all but the in-app inbox, which arrives silently at once. */
export const QUIET_HOURS_PASS_THROUGH_DEFAULT: readonly string[] = ['in_app']

const minutesOf = (hhmmText: string) => {
  const [h, m] = hhmmText.split(':').map(Number)
  return (h ?? 0) * 60 + (m ?? 0)
}

const formatters = new Map<string, Intl.DateTimeFormat>()
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
    formatters.set(timeZone, f)
  }
  return f
}

interface Wall {
  readonly year: number
  readonly month: number
  readonly day: number
  readonly hour: number
  readonly minute: number
  readonly second: number
}

/** The wall-clock time of an instant in a zone. */
function wallOf(instant: number, timeZone: string): Wall {
  const parts: Record<string, number> = {}
  for (const p of formatter(timeZone).formatToParts(new Date(instant))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value)
  }
  return {
    year: parts.year ?? 1970,
    month: parts.month ?? 1,
    day: parts.day ?? 1,
    hour: parts.hour ?? 0,
    minute: parts.minute ?? 0,
    second: parts.second ?? 0,
  }
}

const wallMs = (w: Wall) => Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second)

/** The zone's offset from UTC at an instant, in ms (whole seconds). */
const offsetAt = (instant: number, timeZone: string) =>
  wallMs(wallOf(instant, timeZone)) - Math.floor(instant / 1000) * 1000

const DAY_MS = 86_400_000

/**
 * The first instant at which a zone's clocks read `wall` or later. A time that occurs twice
 * (the hour a fall-back repeats) is its first occurrence; a time that does not occur (the
 * hour a spring-forward skips) is the end of the gap, when the clocks jump past it (02:30
 * in Berlin on the spring-forward day: 03:00 CEST). A zone changes its offset at most once
 * within a day around any instant, so the offsets a day before and after are the only
 * candidates, and a gap lies between the two readings. `after_`: only an occurrence later
 * than this instant counts (inside a repeated hour, the second pass's end is the later one).
 */
export function instantOfWallTime(wall: number, timeZone: string, after_ = Number.NEGATIVE_INFINITY): number {
  const before = offsetAt(wall - DAY_MS, timeZone)
  const after = offsetAt(wall + DAY_MS, timeZone)
  const fits = [wall - before, wall - after].filter((t) => t > after_ && wallMs(wallOf(t, timeZone)) === wall)
  if (fits.length > 0) return Math.min(...fits)
  // In a gap: the earliest minute whose reading is past `wall` (offsets change on whole minutes).
  let lo = Math.floor(Math.min(wall - before, wall - after) / 60_000)
  let hi = Math.ceil(Math.max(wall - before, wall - after) / 60_000)
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2)
    if (wallMs(wallOf(mid * 60_000, timeZone)) >= wall) hi = mid
    else lo = mid + 1
  }
  return lo * 60_000
}

/**
 * When the quiet hours around `now` end, in the recipient's zone; null when `now` lies
 * outside them. The end is the next local `end` after `now`: the same local day, or the
 * next one for quiet hours that crossed midnight before `now`.
 */
export function quietHoursEnd(now: Date, quiet: QuietHours, timeZone: string): Date | null {
  const wall = wallOf(now.getTime(), timeZone)
  const t = wall.hour * 60 + wall.minute
  const start = minutesOf(quiet.start)
  const end = minutesOf(quiet.end)
  const inside = start < end ? t >= start && t < end : t >= start || t < end
  if (!inside) return null
  // Crossing midnight and already past the start: the end is tomorrow's.
  const dayOffset = start > end && t >= start ? 1 : 0
  const endWall = Date.UTC(wall.year, wall.month - 1, wall.day + dayOffset, Math.floor(end / 60), end % 60)
  return new Date(instantOfWallTime(endWall, timeZone, now.getTime()))
}

/**
 * The quiet hours an infrastructure's admin sets for its recipients who set none of their
 * own, read in each recipient's time zone like their own would be.
 */
export interface QuietHoursDefault {
  readonly infrastructureId: string
  readonly quietHours: QuietHours
  readonly updatedBy: string
  readonly updatedAt: Date
}
