import { describe, expect, it } from 'vitest'
import { instantOfWallTime, quietHoursEnd, quietHoursSchema } from '../../src/domain/quiet-hours.js'

const end = (now: string, start: string, stop: string, zone: string) =>
  quietHoursEnd(new Date(now), { start, end: stop }, zone)?.toISOString() ?? null

const NIGHT = ['22:00', '07:00'] as const

describe('quiet hours in the recipient’s own time zone', () => {
  it('holds until the local end, crossing midnight, and lets through outside (end exclusive, start inclusive)', () => {
    // 23:30 CEST on 1 June: the end is 07:00 CEST the next morning.
    expect(end('2026-06-01T21:30:00Z', ...NIGHT, 'Europe/Berlin')).toBe('2026-06-02T05:00:00.000Z')
    // 05:00 CEST, after midnight: the end is the same morning.
    expect(end('2026-06-02T03:00:00Z', ...NIGHT, 'Europe/Berlin')).toBe('2026-06-02T05:00:00.000Z')
    expect(end('2026-06-01T20:00:00Z', ...NIGHT, 'Europe/Berlin')).toBe('2026-06-02T05:00:00.000Z')
    expect(end('2026-06-01T19:59:59Z', ...NIGHT, 'Europe/Berlin')).toBeNull()
    expect(end('2026-06-02T05:00:00Z', ...NIGHT, 'Europe/Berlin')).toBeNull()
    expect(end('2026-06-01T12:00:00Z', ...NIGHT, 'Europe/Berlin')).toBeNull()
    // A window within one day.
    expect(end('2026-06-01T11:30:00Z', '13:00', '14:00', 'Europe/Berlin')).toBe('2026-06-01T12:00:00.000Z')
    expect(end('2026-06-01T12:30:00Z', '13:00', '14:00', 'Europe/Berlin')).toBeNull()
    // UTC as a zone: what a recipient without one gets.
    expect(end('2026-06-01T23:00:00Z', ...NIGHT, 'UTC')).toBe('2026-06-02T07:00:00.000Z')
  })

  it('Europe/Berlin spring forward (29 March 2026, 02:00 CET -> 03:00 CEST)', () => {
    // 23:30 CET the night before: 07:00 CEST is 7.5 hours of wall clock away but 6.5 real hours.
    expect(end('2026-03-28T22:30:00Z', ...NIGHT, 'Europe/Berlin')).toBe('2026-03-29T05:00:00.000Z')
    // An end inside the skipped hour: held until the clocks jump past it, 03:00 CEST.
    expect(end('2026-03-29T00:15:00Z', '01:00', '02:30', 'Europe/Berlin')).toBe('2026-03-29T01:00:00.000Z')
    // After the jump, 03:10 CEST is already past 02:30: outside.
    expect(end('2026-03-29T01:10:00Z', '01:00', '02:30', 'Europe/Berlin')).toBeNull()
  })

  it('Europe/Berlin fall back (25 October 2026, 03:00 CEST -> 02:00 CET): the hour that repeats', () => {
    expect(end('2026-10-24T21:00:00Z', ...NIGHT, 'Europe/Berlin')).toBe('2026-10-25T06:00:00.000Z')
    // 01:00 CEST: the first 02:30 (CEST) ends it.
    expect(end('2026-10-24T23:00:00Z', '00:00', '02:30', 'Europe/Berlin')).toBe('2026-10-25T00:30:00.000Z')
    // 02:10 CET, the second pass: the first 02:30 is past, the second (CET) ends it.
    expect(end('2026-10-25T01:10:00Z', '00:00', '02:30', 'Europe/Berlin')).toBe('2026-10-25T01:30:00.000Z')
  })

  it('Pacific/Auckland, both transitions (+13 NZDT / +12 NZST), on the other side of the date line', () => {
    // Fall back, 5 April 2026 03:00 NZDT -> 02:00 NZST: 23:00 NZDT until 07:00 NZST.
    expect(end('2026-04-04T10:00:00Z', ...NIGHT, 'Pacific/Auckland')).toBe('2026-04-04T19:00:00.000Z')
    // Spring forward, 27 September 2026 02:00 NZST -> 03:00 NZDT.
    expect(end('2026-09-26T10:30:00Z', ...NIGHT, 'Pacific/Auckland')).toBe('2026-09-26T18:00:00.000Z')
    expect(end('2026-09-26T13:30:00Z', '01:00', '02:30', 'Pacific/Auckland')).toBe('2026-09-26T14:00:00.000Z')
    // Midwinter: 22:00 NZST is 10:00 UTC the same day.
    expect(end('2026-06-15T10:00:00Z', ...NIGHT, 'Pacific/Auckland')).toBe('2026-06-15T19:00:00.000Z')
  })

  it('zones with a 30-minute offset: Asia/Kolkata (+05:30) and Australia/Adelaide across its spring forward', () => {
    expect(end('2026-01-10T17:00:00Z', ...NIGHT, 'Asia/Kolkata')).toBe('2026-01-11T01:30:00.000Z')
    expect(end('2026-01-10T16:29:00Z', ...NIGHT, 'Asia/Kolkata')).toBeNull()
    // 4 October 2026 02:00 ACST (+09:30) -> 03:00 ACDT (+10:30): 22:00 ACST until 07:00 ACDT.
    expect(end('2026-10-03T12:30:00Z', ...NIGHT, 'Australia/Adelaide')).toBe('2026-10-03T20:30:00.000Z')
  })

  it('maps every wall time of a day with a transition to the first instant that reads it or later', () => {
    for (const zone of ['Europe/Berlin', 'Pacific/Auckland', 'Australia/Adelaide', 'America/St_Johns']) {
      for (const day of [
        '2026-03-29',
        '2026-04-05',
        '2026-09-27',
        '2026-10-04',
        '2026-10-25',
        '2026-11-01',
      ]) {
        for (let minutes = 0; minutes < 24 * 60; minutes += 10) {
          const wall = Date.parse(`${day}T00:00:00Z`) + minutes * 60_000
          const at = instantOfWallTime(wall, zone)
          const reading = (t: number) => {
            const p = Object.fromEntries(
              new Intl.DateTimeFormat('en-US', {
                timeZone: zone,
                hourCycle: 'h23',
                year: 'numeric',
                month: 'numeric',
                day: 'numeric',
                hour: 'numeric',
                minute: 'numeric',
              })
                .formatToParts(new Date(t))
                .map((x) => [x.type, Number(x.value)]),
            ) as Record<string, number>
            return Date.UTC(p.year ?? 0, (p.month ?? 1) - 1, p.day, p.hour, p.minute)
          }
          // It reads `wall` or later, and a minute before it read earlier than `wall`.
          expect(reading(at), `${zone} ${new Date(wall).toISOString()}`).toBeGreaterThanOrEqual(wall)
          expect(reading(at - 60_000), `${zone} ${new Date(wall).toISOString()}`).toBeLessThan(wall)
        }
      }
    }
  })

  it('validates quiet hours with the field and the rule', () => {
    const issues = (v: unknown) => {
      const r = quietHoursSchema.safeParse(v)
      return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')} ${i.message}`)
    }
    expect(issues({ start: '22:00', end: '07:00' })).toEqual([])
    expect(issues({ start: '24:00', end: '07:00' })[0]).toMatch(/^start must be a local time/)
    expect(issues({ start: '7:00', end: '08:00' })[0]).toMatch(/^start /)
    expect(issues({ start: '08:00', end: '08:00' })[0]).toMatch(/^end must differ/)
  })
})
