// The event-driven start: when a refresh ends, the runs waiting for it move on and — for a
// successful system refresh — the exports on the default schedule that it touched start, in the
// same request, within seconds. The minute sweep catches whatever this misses.
import pLimit from 'p-limit';
import { listExports } from '../exports/exportStore.js';
import { SYSTEM_REFRESH_PROCESS, type RefreshRecord } from '../refreshes/refresh.js';
import { dueKeyForRefresh } from './scheduleMarks.js';
import { recentRefreshes, settleWaitingRuns, touches } from './dependencies.js';
import { fireDue, type FireOutcome } from './fireDue.js';

export interface RefreshEffects {
  /** Waiting runs released to the planner. */
  released: string[];
  /** Waiting runs skipped because this refresh failed. */
  skipped: string[];
  /** Runs started (or joined, or created waiting) for exports on the default schedule. */
  fired: FireOutcome[];
  /** Exports that could not be handled now; the sweep retries them. */
  deferred: string[];
}

export async function onRefreshEnded(refresh: RefreshRecord, now: Date): Promise<RefreshEffects> {
  const [records, listed] = await Promise.all([listExports(), recentRefreshes(now)]);
  const refreshes = [refresh, ...listed.filter((candidate) => candidate.id !== refresh.id)];
  const touched = records.filter((record) => touches(refresh, record));
  const settled = await settleWaitingRuns(touched, refreshes, now);
  const effects: RefreshEffects = { ...settled, fired: [], deferred: [] };
  if (refresh.process !== SYSTEM_REFRESH_PROCESS || refresh.status !== 'succeeded') return effects;

  const limit = pLimit(8);
  await Promise.all(
    touched
      .filter((record) => record.connectionId && record.schedule.active && record.schedule.mode === 'systemRefresh')
      .map((record) =>
        limit(async () => {
          try {
            effects.fired.push(await fireDue(record, { key: dueKeyForRefresh(refresh.id), trigger: 'systemRefresh' }, refreshes, now));
          } catch {
            effects.deferred.push(record.id);
          }
        }),
      ),
  );
  return effects;
}
