// Custom recurrences → due times, in the schedule's own time zone (luxon, IANA zones).
//
// The rule for daylight-saving changes, for daily, weekly and monthly schedules:
// - A time that does not exist that day (spring forward, e.g. 02:30 in Europe/Oslo on the last
//   Sunday of March) runs once, moved forward by the length of the gap: 02:30 → 03:30 local.
// - A time that exists twice that day (fall back, e.g. 02:30 in Oslo or 01:30 in New York on the
//   day summer time ends) runs once, at its first occurrence (the earlier instant, summer time).
// Hourly schedules count real hours: at minute mm of every local hour h with
// (h − HH) mod interval = 0, so the hour skipped in spring does not run and the hour repeated in
// autumn runs twice (once per real hour).
// Intervals count from a fixed origin so a due time never depends on when it was computed: every
// N days from 1970-01-01, every N ISO weeks from the week of 1970-01-01, every N months from
// January 1970 (local calendar). Weekly without daysOfWeek means Monday; monthly without
// dayOfMonth means the 1st; a dayOfMonth past the month's end means its last day. daysOfWeek also
// narrows daily and hourly schedules.
import { DateTime } from 'luxon';
import type { Schedule } from '../exports/exportDefinition.js';

export type Recurrence = Extract<Schedule, { mode: 'custom' }>['recurrence'];

const WEEKDAY_NUMBERS: Record<string, number> = { monday: 1, tuesday: 2, wednesday: 3, thursday: 4, friday: 5, saturday: 6, sunday: 7 };
const DAY_MS = 86_400_000;

function timeOf(recurrence: Recurrence): { hour: number; minute: number } {
  const [hour, minute] = recurrence.time.split(':').map(Number);
  return { hour: hour!, minute: minute! };
}

function epochDay(date: DateTime): number {
  return Math.round(Date.UTC(date.year, date.month - 1, date.day) / DAY_MS);
}

function allowedWeekdays(recurrence: Recurrence, fallback: number[] | undefined): Set<number> | undefined {
  if (recurrence.daysOfWeek?.length) return new Set(recurrence.daysOfWeek.map((day) => WEEKDAY_NUMBERS[day]!));
  return fallback ? new Set(fallback) : undefined;
}

/** Whether the local calendar day is one the (non-hourly) recurrence runs on. */
function runsOnDay(recurrence: Recurrence, day: DateTime): boolean {
  const interval = recurrence.interval;
  switch (recurrence.frequency) {
    case 'hourly':
    case 'daily': {
      const weekdays = allowedWeekdays(recurrence, undefined);
      if (weekdays && !weekdays.has(day.weekday)) return false;
      return recurrence.frequency === 'hourly' || epochDay(day) % interval === 0;
    }
    case 'weekly': {
      if (!allowedWeekdays(recurrence, [1])!.has(day.weekday)) return false;
      // 1970-01-01 was a Thursday; +3 puts each Monday-to-Sunday week in one bucket.
      return Math.floor((epochDay(day) + 3) / 7) % interval === 0;
    }
    case 'monthly': {
      const wanted = Math.min(recurrence.dayOfMonth ?? 1, day.daysInMonth!);
      return day.day === wanted && ((day.year - 1970) * 12 + day.month - 1) % interval === 0;
    }
  }
}

/** The instant the recurrence's time of day falls on for a local date, by the DST rule above. */
export function localTimeOn(
  date: { year: number; month: number; day: number },
  time: { hour: number; minute: number },
  timeZone: string,
): DateTime {
  // luxon moves a time inside a gap forward by the gap, which is the rule; inside an overlap it
  // picks the later offset, so take the earliest of the possible offsets instead.
  const at = DateTime.fromObject(
    { year: date.year, month: date.month, day: date.day, hour: time.hour, minute: time.minute },
    { zone: timeZone },
  );
  return at.getPossibleOffsets().reduce((earliest, candidate) => (candidate.toMillis() < earliest.toMillis() ? candidate : earliest), at);
}

function hourlyCandidate(recurrence: Recurrence, base: DateTime): DateTime | undefined {
  const { hour, minute } = timeOf(recurrence);
  // Real-time arithmetic keeps the offset of this very hour (a repeated hour stays itself).
  const candidate = base.plus({ minutes: minute - base.minute, seconds: -base.second, milliseconds: -base.millisecond });
  if (candidate.hour !== base.hour) return undefined;
  if ((((candidate.hour - hour) % recurrence.interval) + recurrence.interval) % recurrence.interval !== 0) return undefined;
  return runsOnDay(recurrence, candidate) ? candidate : undefined;
}

/** Days to look through: enough to find the next occurrence of any valid recurrence. */
function searchDays(recurrence: Recurrence): number {
  // Every N days on given weekdays repeats every lcm(N, 7) ≤ 7N days; so does every N weeks.
  return 7 * recurrence.interval + 14;
}

function search(recurrence: Recurrence, from: Date, direction: 1 | -1, accept: (at: DateTime) => boolean): Date | null {
  const zone = recurrence.timeZone;
  if (recurrence.frequency === 'hourly') {
    const start = DateTime.fromJSDate(from, { zone }).startOf('hour');
    for (let step = -2; step < 24 * 8 + 4; step++) {
      const candidate = hourlyCandidate(recurrence, start.plus({ hours: direction * step }));
      if (candidate && accept(candidate)) return candidate.toJSDate();
    }
    return null;
  }
  const time = timeOf(recurrence);
  const startDay = DateTime.fromJSDate(from, { zone }).startOf('day');
  if (recurrence.frequency === 'monthly') {
    const startMonth = startDay.startOf('month');
    for (let step = -1; step < recurrence.interval + 3; step++) {
      const month = startMonth.plus({ months: direction * step });
      const day = month.set({ day: Math.min(recurrence.dayOfMonth ?? 1, month.daysInMonth!) });
      if (!runsOnDay(recurrence, day)) continue;
      const candidate = localTimeOn(day, time, zone);
      if (accept(candidate)) return candidate.toJSDate();
    }
    return null;
  }
  for (let step = -1; step < searchDays(recurrence); step++) {
    const day = startDay.plus({ days: direction * step });
    if (!runsOnDay(recurrence, day)) continue;
    const candidate = localTimeOn(day, time, zone);
    if (accept(candidate)) return candidate.toJSDate();
  }
  return null;
}

/** The first due time strictly after `after`. */
export function nextOccurrence(recurrence: Recurrence, after: Date): Date | null {
  return search(recurrence, after, 1, (at) => at.toMillis() > after.getTime());
}

/** The latest due time at or before `atOrBefore` (the one a sweep at that moment should fire). */
export function latestOccurrence(recurrence: Recurrence, atOrBefore: Date): Date | null {
  return search(recurrence, atOrBefore, -1, (at) => at.toMillis() <= atOrBefore.getTime());
}

/** `nextRun` of an export: the next due time of an active custom schedule; null otherwise. */
export function nextRunOf(schedule: Schedule, now: Date): string | null {
  if (!schedule.active || schedule.mode !== 'custom') return null;
  return nextOccurrence(schedule.recurrence, now)?.toISOString() ?? null;
}
