// The timer's sweep (every minute, and the safety net for the event-driven start): settles waiting
// runs, then fires every export whose latest due time — a custom recurrence's, or the latest
// system refresh that touched it — has no run yet. Fire marks make a due time fire once, however
// many sweeps run at the same moment. `now` is a parameter so tests can move the clock.
import pLimit from 'p-limit';
import type { ExportRecord } from '../exports/exportDefinition.js';
import { listExports } from '../exports/exportStore.js';
import { SYSTEM_REFRESH_PROCESS, type RefreshRecord } from '../refreshes/refresh.js';
import { latestOccurrence } from './recurrence.js';
import { dueKeyForRefresh, dueKeyForTime } from './scheduleMarks.js';
import { recentRefreshes, settleWaitingRuns, touches, type SettledRuns } from './dependencies.js';
import { fireDue, mayNeedFiring, type Due, type FireOutcome } from './fireDue.js';

export interface SweepSummary extends SettledRuns {
  fired: FireOutcome[];
  errors: { exportId: string; message: string }[];
}

/** The latest successful system refresh that touched the export, if any. */
export function latestSystemRefreshFor(record: ExportRecord, refreshes: RefreshRecord[]): RefreshRecord | undefined {
  return refreshes
    .filter(
      (refresh) =>
        refresh.process === SYSTEM_REFRESH_PROCESS && refresh.status === 'succeeded' && refresh.finishedAt && touches(refresh, record),
    )
    .reduce<RefreshRecord | undefined>(
      (latest, refresh) => (!latest || refresh.finishedAt! > latest.finishedAt! ? refresh : latest),
      undefined,
    );
}

/**
 * The due time a sweep at `now` is responsible for. Only the latest one: missed earlier ones are
 * superseded by it (one catch-up run, not a burst). A due time from before the export was last
 * changed belongs to an earlier definition and does not fire.
 */
export function dueOf(record: ExportRecord, refreshes: RefreshRecord[], now: Date): Due | undefined {
  if (!record.connectionId || !record.schedule.active) return undefined;
  const changedAt = Date.parse(record.updatedAt);
  if (record.schedule.mode === 'custom') {
    const dueAt = latestOccurrence(record.schedule.recurrence, now);
    return dueAt && dueAt.getTime() > changedAt ? { key: dueKeyForTime(dueAt), trigger: 'schedule' } : undefined;
  }
  const refresh = latestSystemRefreshFor(record, refreshes);
  return refresh && Date.parse(refresh.finishedAt!) > changedAt
    ? { key: dueKeyForRefresh(refresh.id), trigger: 'systemRefresh' }
    : undefined;
}

export async function sweepSchedules(now: Date): Promise<SweepSummary> {
  const [records, refreshes] = await Promise.all([listExports(), recentRefreshes(now)]);
  const settled = await settleWaitingRuns(records, refreshes, now);
  const summary: SweepSummary = { ...settled, fired: [], errors: [] };
  const limit = pLimit(8);
  await Promise.all(
    records.map((record) =>
      limit(async () => {
        const due = dueOf(record, refreshes, now);
        if (!due) return;
        try {
          if (!(await mayNeedFiring(record, due, now))) return;
          const outcome = await fireDue(record, due, refreshes, now);
          if (outcome.result !== 'alreadyFired') summary.fired.push(outcome);
        } catch (error) {
          // One export's failure must not hold the others back; its claim expires and is retried.
          summary.errors.push({ exportId: record.id, message: (error as Error).message });
        }
      }),
    ),
  );
  return summary;
}
