// The schedule editor (export form and bulk dialog) and how a schedule reads in a table.
import { field, h, uniqueId } from './dom.js';
import type { Recurrence, Schedule } from './types.js';

const DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

export function describeSchedule(schedule: Schedule): string {
  const state = schedule.active ? '' : ' (off)';
  if (schedule.mode === 'systemRefresh') return `System refresh${state}`;
  const r = schedule.recurrence;
  const every =
    r.interval > 1
      ? `Every ${r.interval} ${r.frequency.replace(/ly$/, '').replace('dai', 'day')}s`
      : r.frequency[0]!.toUpperCase() + r.frequency.slice(1);
  const on =
    r.frequency === 'weekly' && r.daysOfWeek?.length
      ? ` on ${r.daysOfWeek.map((d) => d.slice(0, 3)).join(', ')}`
      : r.frequency === 'monthly' && r.dayOfMonth
        ? ` on day ${r.dayOfMonth}`
        : '';
  const at = r.frequency === 'hourly' ? ` at :${r.time.slice(3)}` : ` at ${r.time}`;
  return `${every}${on}${at} ${r.timeZone}${state}`;
}

function timeZones(): string[] {
  const supported = (Intl as unknown as { supportedValuesOf?: (key: string) => string[] }).supportedValuesOf;
  return supported ? ['UTC', ...supported('timeZone')] : ['UTC'];
}

export interface ScheduleEditor {
  element: HTMLElement;
  value(): Schedule;
}

/** Mode (system refresh / custom), on or off, and for custom: frequency, interval, days, time and time zone. */
export function scheduleEditor(initial: Schedule, options: { nextRun?: string | null; pathPrefix: string }): ScheduleEditor {
  const name = uniqueId('schedule-mode');
  const recurrence: Recurrence =
    initial.mode === 'custom'
      ? initial.recurrence
      : { frequency: 'daily', interval: 1, time: '06:00', timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC' };
  const active = h('input', { type: 'checkbox', checked: initial.active });
  const systemRadio = h('input', { type: 'radio', name, value: 'systemRefresh', checked: initial.mode === 'systemRefresh' });
  const customRadio = h('input', { type: 'radio', name, value: 'custom', checked: initial.mode === 'custom' });
  const frequency = h(
    'select',
    null,
    ...['hourly', 'daily', 'weekly', 'monthly'].map((f) => h('option', { value: f, selected: f === recurrence.frequency }, f)),
  );
  const interval = h('input', { type: 'number', min: 1, max: 366, value: String(recurrence.interval ?? 1), inputmode: 'numeric' });
  const time = h('input', { type: 'time', value: recurrence.time ?? '00:00' });
  const listId = uniqueId('time-zones');
  const timeZone = h('input', { type: 'text', value: recurrence.timeZone ?? 'UTC', list: listId, autocomplete: 'off' });
  const zoneList = h('datalist', { id: listId }, ...timeZones().map((zone) => h('option', { value: zone })));
  const dayBoxes = DAYS.map((day) => h('input', { type: 'checkbox', value: day, checked: recurrence.daysOfWeek?.includes(day) ?? false }));
  const dayOfMonth = h('input', {
    type: 'number',
    min: 1,
    max: 31,
    value: recurrence.dayOfMonth ? String(recurrence.dayOfMonth) : '',
    inputmode: 'numeric',
  });
  const days = h(
    'fieldset',
    { class: 'days', 'data-path': `${options.pathPrefix}.recurrence.daysOfWeek` },
    h('legend', null, 'Days of the week'),
    ...dayBoxes.map((box, index) =>
      h('label', { class: 'inline' }, box, ' ', DAYS[index]!.slice(0, 1).toUpperCase() + DAYS[index]!.slice(1)),
    ),
  );
  const monthDay = field('Day of the month', dayOfMonth, {
    path: `${options.pathPrefix}.recurrence.dayOfMonth`,
    hint: "Past a month's end means its last day.",
  });
  const custom = h(
    'div',
    { class: 'custom-schedule' },
    field('Repeats', frequency, { path: `${options.pathPrefix}.recurrence.frequency` }),
    field('Every (interval)', interval, { path: `${options.pathPrefix}.recurrence.interval` }),
    days,
    monthDay,
    field('Time', time, { path: `${options.pathPrefix}.recurrence.time`, hint: 'For hourly schedules, the minutes count.' }),
    field('Time zone', timeZone, { path: `${options.pathPrefix}.recurrence.timeZone`, hint: 'An IANA name such as Europe/Oslo.' }),
    zoneList,
  );
  const nextRun = h('p', { class: 'next-run', 'aria-live': 'polite' });
  const update = () => {
    custom.hidden = !customRadio.checked;
    days.hidden = frequency.value !== 'weekly';
    monthDay.hidden = frequency.value !== 'monthly';
    const saved = options.nextRun;
    nextRun.textContent = !active.checked
      ? 'Off: runs only when started by hand.'
      : systemRadio.checked
        ? "Runs when the platform's system refresh of its segments succeeds."
        : saved
          ? `Next run: ${new Date(saved).toLocaleString(undefined, { dateStyle: 'full', timeStyle: 'short', timeZone: timeZone.value || 'UTC' })} (${timeZone.value}) — as saved; changes show after saving.`
          : 'The next run is shown once the schedule is saved.';
  };
  for (const control of [active, systemRadio, customRadio, frequency, timeZone]) control.addEventListener('change', update);
  update();
  const element = h(
    'fieldset',
    { class: 'schedule', 'data-path': options.pathPrefix },
    h('legend', null, 'Schedule'),
    h('label', { class: 'inline' }, active, ' Schedule on'),
    h(
      'div',
      { role: 'radiogroup', 'aria-label': 'Schedule type', class: 'radios' },
      h('label', { class: 'inline' }, systemRadio, ' System refresh (default)'),
      h('label', { class: 'inline' }, customRadio, ' Custom recurrence'),
    ),
    custom,
    nextRun,
  );
  return {
    element,
    value(): Schedule {
      if (systemRadio.checked) return { active: active.checked, mode: 'systemRefresh' };
      const value: Recurrence = {
        frequency: frequency.value as Recurrence['frequency'],
        interval: Number(interval.value || 1),
        time: time.value || '00:00',
        timeZone: timeZone.value.trim() || 'UTC',
      };
      if (value.frequency === 'weekly') value.daysOfWeek = dayBoxes.filter((box) => box.checked).map((box) => box.value);
      if (value.frequency === 'weekly' && value.daysOfWeek!.length === 0) delete value.daysOfWeek;
      if (value.frequency === 'monthly' && dayOfMonth.value) value.dayOfMonth = Number(dayOfMonth.value);
      return { active: active.checked, mode: 'custom', recurrence: value };
    },
  };
}
