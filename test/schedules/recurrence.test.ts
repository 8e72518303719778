// Custom recurrences in two time zones across daylight-saving changes (Europe/Oslo: 29 March and
// 25 October 2026; America/New_York: 8 March and 1 November 2026), by the rule in recurrence.ts:
// a time in the spring gap moves forward by the gap, a time in the autumn overlap runs once, at
// its first occurrence; hourly schedules count real hours.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { latestOccurrence, nextOccurrence, nextRunOf, type Recurrence } from '../../shared/schedules/recurrence.js';

const OSLO = 'Europe/Oslo';
const NEW_YORK = 'America/New_York';

function recurrence(partial: Partial<Recurrence> & Pick<Recurrence, 'frequency'>): Recurrence {
  return { interval: 1, time: '00:00', timeZone: 'UTC', ...partial };
}

/** The first `count` due times after `from`, as ISO strings in UTC. */
function occurrences(rule: Recurrence, from: string, count: number): string[] {
  const out: string[] = [];
  let at = new Date(from);
  for (let index = 0; index < count; index++) {
    at = nextOccurrence(rule, at)!;
    out.push(at.toISOString());
  }
  return out;
}

describe('daily', () => {
  it('02:30 in Oslo moves to 03:30 on the spring-forward day, once', () => {
    expect(occurrences(recurrence({ frequency: 'daily', time: '02:30', timeZone: OSLO }), '2026-03-27T12:00:00Z', 3)).toEqual([
      '2026-03-28T01:30:00.000Z', // 02:30 CET
      '2026-03-29T01:30:00.000Z', // 02:30 does not exist → 03:30 CEST
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
    ]);
  });

  it('02:30 in Oslo runs once on the fall-back day, at the first (summer-time) 02:30', () => {
    expect(occurrences(recurrence({ frequency: 'daily', time: '02:30', timeZone: OSLO }), '2026-10-23T12:00:00Z', 3)).toEqual([
      '2026-10-24T00:30:00.000Z', // 02:30 CEST
      '2026-10-25T00:30:00.000Z', // 02:30 CEST, the first of two; the second (01:30Z) does not run
      '2026-10-26T01:30:00.000Z', // 02:30 CET
    ]);
  });

  it('01:30 in New York runs once on the fall-back day, at 01:30 EDT', () => {
    expect(occurrences(recurrence({ frequency: 'daily', time: '01:30', timeZone: NEW_YORK }), '2026-10-31T12:00:00Z', 2)).toEqual([
      '2026-11-01T05:30:00.000Z', // 01:30 EDT; 01:30 EST (06:30Z) does not run
      '2026-11-02T06:30:00.000Z', // 01:30 EST
    ]);
  });

  it('02:30 in New York moves to 03:30 EDT on the spring-forward day', () => {
    expect(occurrences(recurrence({ frequency: 'daily', time: '02:30', timeZone: NEW_YORK }), '2026-03-07T00:00:00Z', 3)).toEqual([
      '2026-03-07T07:30:00.000Z', // 02:30 EST
      '2026-03-08T07:30:00.000Z', // 02:30 does not exist → 03:30 EDT
      '2026-03-09T06:30:00.000Z', // 02:30 EDT
    ]);
  });

  it('every second day counts from 1970-01-01 in the local calendar, and daysOfWeek narrows it', () => {
    const everyOther = occurrences(
      recurrence({ frequency: 'daily', interval: 2, time: '08:00', timeZone: OSLO }),
      '2026-06-01T00:00:00Z',
      3,
    );
    expect(everyOther.map((iso) => (Date.parse(iso) - Date.parse(everyOther[0]!)) / 86_400_000)).toEqual([0, 2, 4]);
    // 2026-06-01 is a Monday.
    expect(
      occurrences(
        recurrence({ frequency: 'daily', time: '08:00', timeZone: OSLO, daysOfWeek: ['saturday', 'sunday'] }),
        '2026-06-01T00:00:00Z',
        3,
      ),
    ).toEqual(['2026-06-06T06:00:00.000Z', '2026-06-07T06:00:00.000Z', '2026-06-13T06:00:00.000Z']);
  });
});

describe('weekly', () => {
  it('Sundays 02:30 in Oslo across the spring change', () => {
    expect(
      occurrences(recurrence({ frequency: 'weekly', daysOfWeek: ['sunday'], time: '02:30', timeZone: OSLO }), '2026-03-20T00:00:00Z', 3),
    ).toEqual([
      '2026-03-22T01:30:00.000Z',
      '2026-03-29T01:30:00.000Z', // 03:30 CEST
      '2026-04-05T00:30:00.000Z',
    ]);
  });

  it('Sundays 01:30 in New York across the autumn change', () => {
    expect(
      occurrences(
        recurrence({ frequency: 'weekly', daysOfWeek: ['sunday'], time: '01:30', timeZone: NEW_YORK }),
        '2026-10-20T00:00:00Z',
        3,
      ),
    ).toEqual([
      '2026-10-25T05:30:00.000Z',
      '2026-11-01T05:30:00.000Z', // the first 01:30
      '2026-11-08T06:30:00.000Z',
    ]);
  });

  it('several days, every second week, Monday by default', () => {
    const twoDays = occurrences(
      recurrence({ frequency: 'weekly', interval: 2, daysOfWeek: ['tuesday', 'friday'], time: '09:00', timeZone: NEW_YORK }),
      '2026-06-01T00:00:00Z',
      4,
    );
    const gaps = twoDays.slice(1).map((iso, index) => (Date.parse(iso) - Date.parse(twoDays[index]!)) / 86_400_000);
    expect(gaps).toEqual([3, 11, 3]);
    const monday = nextOccurrence(recurrence({ frequency: 'weekly', time: '09:00', timeZone: OSLO }), new Date('2026-06-02T00:00:00Z'))!;
    expect(monday.toISOString()).toBe('2026-06-08T07:00:00.000Z');
  });
});

describe('monthly', () => {
  it('the 29th at 02:30 in Oslo: the last day of February, then the spring-forward day', () => {
    expect(
      occurrences(recurrence({ frequency: 'monthly', dayOfMonth: 29, time: '02:30', timeZone: OSLO }), '2026-02-01T00:00:00Z', 3),
    ).toEqual([
      '2026-02-28T01:30:00.000Z', // no 29 February in 2026: the month's last day
      '2026-03-29T01:30:00.000Z', // 03:30 CEST
      '2026-04-29T00:30:00.000Z',
    ]);
  });

  it('the 1st at 01:30 in New York runs once on 1 November', () => {
    expect(
      occurrences(recurrence({ frequency: 'monthly', dayOfMonth: 1, time: '01:30', timeZone: NEW_YORK }), '2026-10-15T00:00:00Z', 2),
    ).toEqual(['2026-11-01T05:30:00.000Z', '2026-12-01T06:30:00.000Z']);
  });

  it('every third month counts from January 1970: January, April, July, October', () => {
    const months = occurrences(
      recurrence({ frequency: 'monthly', interval: 3, dayOfMonth: 31, time: '12:00' }),
      '2026-01-01T00:00:00Z',
      4,
    ).map((iso) => iso.slice(0, 10));
    expect(months).toEqual(['2026-01-31', '2026-04-30', '2026-07-31', '2026-10-31']);
  });
});

describe('hourly', () => {
  it('counts real hours in Oslo: the skipped hour does not run, the repeated hour runs twice', () => {
    const spring = recurrence({ frequency: 'hourly', time: '00:15', timeZone: OSLO });
    expect(occurrences(spring, '2026-03-29T00:00:00Z', 3)).toEqual([
      '2026-03-29T00:15:00.000Z',
      '2026-03-29T01:15:00.000Z',
      '2026-03-29T02:15:00.000Z',
    ]); // 01:15, 03:15, 04:15 local
    expect(occurrences(spring, '2026-10-25T00:00:00Z', 3)).toEqual([
      '2026-10-25T00:15:00.000Z',
      '2026-10-25T01:15:00.000Z',
      '2026-10-25T02:15:00.000Z',
    ]); // 02:15, 02:15, 03:15 local
  });

  it('every 6 hours from 03:45 in New York', () => {
    const local = occurrences(
      recurrence({ frequency: 'hourly', interval: 6, time: '03:45', timeZone: NEW_YORK }),
      '2026-06-01T04:00:00Z',
      4,
    );
    expect(local).toEqual(['2026-06-01T07:45:00.000Z', '2026-06-01T13:45:00.000Z', '2026-06-01T19:45:00.000Z', '2026-06-02T01:45:00.000Z']); // 03:45, 09:45, 15:45, 21:45 EDT
  });
});

describe('next and latest agree', () => {
  const rule = fc.record({
    frequency: fc.constantFrom('hourly', 'daily', 'weekly', 'monthly' as const),
    interval: fc.integer({ min: 1, max: 5 }),
    time: fc
      .tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }))
      .map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`),
    timeZone: fc.constantFrom(OSLO, NEW_YORK, 'UTC', 'Asia/Kolkata', 'Australia/Lord_Howe'),
    daysOfWeek: fc.option(
      fc.subarray(['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const, { minLength: 1 }),
      { nil: undefined },
    ),
    dayOfMonth: fc.option(fc.integer({ min: 1, max: 31 }), { nil: undefined }),
  });
  const instant = fc
    .integer({ min: Date.parse('2025-01-01T00:00:00Z'), max: Date.parse('2028-12-31T00:00:00Z') })
    .map((ms) => new Date(ms));

  it('latest ≤ t < next, with no due time between them', () => {
    fc.assert(
      fc.property(rule, instant, (partial, at) => {
        const rec = recurrence(partial as Recurrence);
        const latest = latestOccurrence(rec, at)!;
        const next = nextOccurrence(rec, at)!;
        expect(latest.getTime()).toBeLessThanOrEqual(at.getTime());
        expect(next.getTime()).toBeGreaterThan(at.getTime());
        expect(nextOccurrence(rec, latest)!.getTime()).toBe(next.getTime());
        expect(latestOccurrence(rec, next)!.getTime()).toBe(next.getTime());
      }),
      { numRuns: 400 },
    );
  });
});

describe('nextRun of an export', () => {
  const custom = { active: true, mode: 'custom' as const, recurrence: recurrence({ frequency: 'daily', time: '06:00', timeZone: OSLO }) };
  it('is the next due time of an active custom schedule', () => {
    expect(nextRunOf(custom, new Date('2026-06-01T10:00:00Z'))).toBe('2026-06-02T04:00:00.000Z');
  });
  it('is null when the schedule is off or follows system refreshes', () => {
    expect(nextRunOf({ ...custom, active: false }, new Date())).toBeNull();
    expect(nextRunOf({ active: true, mode: 'systemRefresh' }, new Date())).toBeNull();
  });
});
