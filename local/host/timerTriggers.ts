// Timer triggers: six-field NCRONTAB schedules (seconds first) or TimeSpan intervals, never
// overlapping with themselves, with runOnStartup honoured; as in the runtime, a timer listens on
// the one instance holding its listener lock, and fires once with isPastDue when the recorded
// next occurrence was missed.
import { Cron } from 'croner';
import type { Timer } from '@azure/functions';
import type { RegisteredFunction } from './coreApi.js';
import { triggerOf } from './coreApi.js';
import type { InFlight, Invoker } from './invoke.js';
import type { ListenerLock } from './listenerLock.js';
import type { HostLogger } from './logger.js';
import { pastDueBy, type ScheduleMonitor } from './scheduleMonitor.js';
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

export interface TimerCoordination {
  /** Only the holder of this lock runs the timer (one firing per occurrence across instances). */
  lock: (onAcquired: () => void, onLost: () => void) => ListenerLock;
  status: ScheduleMonitor;
}

export type FiringReason = 'schedule' | 'startup' | 'pastDue' | 'admin';

export class TimerTrigger {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private stopped = false;
  private listening = false;
  private last: Date | undefined;
  private lock: ListenerLock | undefined;
  readonly schedule: Schedule;
  readonly runOnStartup: boolean;

  constructor(
    readonly fn: RegisteredFunction,
    private readonly invoker: Invoker,
    private readonly inFlight: InFlight,
    private readonly logger: HostLogger,
    timezone?: string,
    private readonly coordination?: TimerCoordination,
  ) {
    const trigger = triggerOf(fn);
    this.schedule = parseSchedule(resolveAppSettingExpressions(String(trigger.schedule ?? '')), timezone);
    this.runOnStartup = trigger.runOnStartup === true;
  }

  start(): void {
    if (!this.coordination) {
      void this.listen();
      return;
    }
    this.lock = this.coordination.lock(
      () => void this.listen(),
      () => this.unlisten(),
    );
    this.lock.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unlisten();
    await this.lock?.release();
  }

  /** Runs the function now (admin API, or the listener); skipped if it is already running. */
  fire(reason: FiringReason, occurrence = new Date()): void {
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
      isPastDue: reason === 'pastDue',
    };
    const reasonText =
      reason === 'pastDue'
        ? 'Timer fired for a past-due occurrence'
        : reason === 'admin'
          ? 'Invoked via the admin API; timer'
          : 'Timer fired';
    const run = this.invoker
      .invoke(this.fn, timer, { reason: `${reasonText} at ${now.toISOString()}` })
      .catch(() => {
        // Logged by the invoker; a failed timer run waits for its next occurrence.
      })
      .then(async () => {
        // As the runtime: the status is recorded once the invocation ends, so an occurrence whose
        // run was killed is still past due when a host next starts.
        if (reason === 'admin' || !this.coordination) return;
        this.last = occurrence;
        await this.coordination.status
          .write({ last: occurrence, next: next ?? occurrence, lastUpdated: new Date() })
          .catch((error: Error) =>
            this.logger.host('warning', `Could not record the schedule status of ${this.fn.metadata.name}: ${error.message}`),
          );
      })
      .finally(() => {
        this.running = false;
      });
    void this.inFlight.track(run);
  }

  private async listen(): Promise<void> {
    if (this.stopped || this.listening) return;
    this.listening = true;
    const now = new Date();
    let status;
    try {
      status = await this.coordination?.status.read();
    } catch (error) {
      this.logger.host('warning', `Could not read the schedule status of ${this.fn.metadata.name}: ${(error as Error).message}`);
    }
    if (!this.listening || this.stopped) return;
    if (status) this.last = status.last;
    if (pastDueBy(status, now) > 0) {
      this.logger.log({
        level: 'information',
        category: 'host',
        functionName: this.fn.metadata.name,
        message: `Timer is past due: its occurrence at ${status!.next.toISOString()} was missed.`,
      });
      this.fire('pastDue', status!.next);
    } else if (this.runOnStartup) {
      this.fire('startup', now);
    } else if (!status && this.coordination) {
      // First start: record the next occurrence, so a host that misses it knows.
      const next = this.schedule.next(now);
      if (next) await this.coordination.status.write({ last: new Date(0), next, lastUpdated: now }).catch(() => undefined);
    }
    this.arm();
  }

  private unlisten(): void {
    this.listening = false;
    clearTimeout(this.timer);
  }

  private arm(): void {
    if (this.stopped || !this.listening) return;
    const next = this.schedule.next(new Date());
    if (!next) return;
    // setTimeout is limited to ~24.8 days; re-arm in steps for schedules further out.
    const delay = Math.min(next.getTime() - Date.now(), 2 ** 31 - 1);
    this.timer = setTimeout(
      () => {
        if (Date.now() >= next.getTime()) this.fire('schedule', next);
        this.arm();
      },
      Math.max(0, delay),
    );
  }
}
