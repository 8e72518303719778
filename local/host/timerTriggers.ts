// Timer triggers: six-field NCRONTAB schedules (seconds first) or TimeSpan intervals, never
// overlapping with themselves, with runOnStartup honoured.
import { Cron } from 'croner';
import type { Timer } from '@azure/functions';
import type { RegisteredFunction } from './coreApi.js';
import { triggerOf } from './coreApi.js';
import type { InFlight, Invoker } from './invoke.js';
import type { HostLogger } from './logger.js';
import { parseTimeSpan, resolveAppSettingExpressions } from './settings.js';

export interface Schedule {
  /** Next occurrence strictly after `from`, or null if there is none. */
  next(from: Date): Date | null;
  describe: string;
}

/**
 * NCRONTAB as the runtime reads it: `{second} {minute} {hour} {day} {month} {day-of-week}`;
 * day-of-month and day-of-week must both match (NCrontab semantics, not Vixie cron's OR).
 * A TimeSpan ("00:05:00") means a fixed interval.
 */
export function parseSchedule(expression: string, timezone?: string): Schedule {
  const text = expression.trim();
  if (/^(\d+\.)?\d{1,2}:\d{1,2}:\d{1,2}(\.\d+)?$/.test(text)) {
    const intervalMs = parseTimeSpan(text);
    if (intervalMs <= 0) throw new Error(`Timer interval must be positive: "${expression}"`);
    return { next: (from) => new Date(from.getTime() + intervalMs), describe: `every ${text}` };
  }
  if (text.split(/\s+/).length !== 6) {
    throw new Error(`Timer schedule "${expression}" must have six fields: {second} {minute} {hour} {day} {month} {day-of-week}.`);
  }
  const cron = new Cron(text, { mode: '6-part', domAndDow: true, timezone, paused: true });
  return { next: (from) => cron.nextRun(from), describe: text };
}

export class TimerTrigger {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private stopped = false;
  private last: Date | undefined;
  readonly schedule: Schedule;
  readonly runOnStartup: boolean;

  constructor(
    readonly fn: RegisteredFunction,
    private readonly invoker: Invoker,
    private readonly inFlight: InFlight,
    private readonly logger: HostLogger,
    timezone?: string,
  ) {
    const trigger = triggerOf(fn);
    this.schedule = parseSchedule(resolveAppSettingExpressions(String(trigger.schedule ?? '')), timezone);
    this.runOnStartup = trigger.runOnStartup === true;
  }

  start(): void {
    if (this.runOnStartup) this.fire(false);
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Runs the function now (admin API); skipped if it is already running. */
  fire(isPastDue: boolean): void {
    if (this.stopped) return;
    if (this.running) {
      this.logger.log({
        level: 'information',
        category: 'host',
        functionName: this.fn.metadata.name,
        message: `Timer skipped: the previous invocation is still running.`,
      });
      return;
    }
    this.running = true;
    const now = new Date();
    const next = this.schedule.next(now);
    const timer: Timer = {
      schedule: { adjustForDST: true },
      scheduleStatus: {
        last: (this.last ?? new Date(0)).toISOString(),
        next: (next ?? now).toISOString(),
        lastUpdated: now.toISOString(),
      },
      isPastDue,
    };
    this.last = now;
    const run = this.invoker
      .invoke(this.fn, timer, { reason: `Timer fired at ${now.toISOString()}` })
      .catch(() => {
        // Logged by the invoker; a failed timer run waits for its next occurrence.
      })
      .finally(() => {
        this.running = false;
      });
    void this.inFlight.track(run);
  }

  private arm(): void {
    if (this.stopped) return;
    const next = this.schedule.next(new Date());
    if (!next) return;
    // setTimeout is limited to ~24.8 days; re-arm in steps for schedules further out.
    const delay = Math.min(next.getTime() - Date.now(), 2 ** 31 - 1);
    this.timer = setTimeout(() => {
      if (Date.now() >= next.getTime()) this.fire(false);
      this.arm();
    }, Math.max(0, delay));
  }
}
