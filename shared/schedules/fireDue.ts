// Firing one due time of one export: claim its mark (one winner), then start the run — queued, or
// waiting while a refresh it depends on is running — and record which run serves the due time.
import type { Principal } from '../auth/principal.js';
import { Conflict } from '../errors.js';
import type { ExportRecord } from '../exports/exportDefinition.js';
import { findExport } from '../exports/exportStore.js';
import type { RefreshRecord } from '../refreshes/refresh.js';
import { startRun } from '../runs/startRun.js';
import { findRun, listRuns } from '../runs/runStore.js';
import { isTerminal, type RunTrigger } from '../runs/run.js';
import { runningDependencies, waitingReason } from './dependencies.js';
import { claimMark, findMark, markBlocked, markFired, MARK_LEASE_MS, refreshIdOfDueKey } from './scheduleMarks.js';

/** Who starts the runs of schedules. */
export const SCHEDULER: Principal = { id: 'scheduler', name: 'Scheduler', roles: ['system'] };

export interface Due {
  /** Row key of the fire mark: the due time or the system refresh. */
  key: string;
  trigger: Extract<RunTrigger, 'schedule' | 'systemRefresh'>;
}

export type FireResult =
  /** queued for the planner */
  | 'started'
  /** created waiting for a running refresh */
  | 'waiting'
  /** served by a run that had not read any data yet */
  | 'joined'
  /** a run was already sending; retried by the next sweep */
  | 'blocked'
  /** someone else fired (or is firing) it */
  | 'alreadyFired';

export interface FireOutcome {
  exportId: string;
  dueKey: string;
  result: FireResult;
  runId?: string;
  reason?: string;
}

/** Cheap pre-check for sweeps: false when the due time is certainly handled already. */
export async function mayNeedFiring(record: ExportRecord, due: Due, now: Date): Promise<boolean> {
  const mark = await findMark(record.id, due.key);
  if (!mark) return true;
  if (mark.state === 'fired') return false;
  if (mark.state === 'blocked') return !record.activeRunId;
  return now.getTime() - Date.parse(mark.claimedAt) >= MARK_LEASE_MS;
}

export async function fireDue(record: ExportRecord, due: Due, refreshes: RefreshRecord[], now: Date): Promise<FireOutcome> {
  const outcome = (result: FireResult, extra: { runId?: string; reason?: string } = {}): FireOutcome => ({
    exportId: record.id,
    dueKey: due.key,
    result,
    ...extra,
  });
  const claim = await claimMark(record.id, due.key, now);
  if (!claim.claimed) return outcome('alreadyFired', { runId: claim.mark?.runId ?? undefined });

  if (claim.takenOver?.state === 'claimed') {
    // The previous holder's lease expired: it may have started the run before it stopped.
    const { runs } = await listRuns(record.id, 10);
    const theirs = runs.find((run) => run.trigger === due.trigger && run.createdAt >= claim.takenOver!.claimedAt);
    if (theirs) {
      await markFired(record.id, due.key, claim.etag, theirs.id);
      return outcome('joined', { runId: theirs.id });
    }
  }

  const latest = await findExport(record.id);
  if (!latest?.connectionId || !latest.schedule.active) {
    const reason = 'The export was switched off or lost its connection before its due time was fired.';
    await markBlocked(record.id, due.key, claim.etag, reason);
    return outcome('blocked', { reason });
  }
  if (latest.activeRunId) {
    const active = await findRun(latest.id, latest.activeRunId);
    if (active && !isTerminal(active.status)) {
      // A run that has not read the lake yet will export the newest data anyway.
      if (active.status === 'waiting' || active.status === 'queued') {
        await markFired(latest.id, due.key, claim.etag, active.id, `Joined run ${active.id}, which had not started yet.`);
        return outcome('joined', { runId: active.id });
      }
      const reason = `Run ${active.id} was still ${active.status}; this due time starts when it ends.`;
      await markBlocked(latest.id, due.key, claim.etag, reason);
      return outcome('blocked', { runId: active.id, reason });
    }
  }

  const dependencies = runningDependencies(latest, refreshes, now);
  const waitFor = dependencies[0];
  try {
    const refreshId = due.trigger === 'systemRefresh' ? refreshIdOfDueKey(due.key) : undefined;
    const run = await startRun(SCHEDULER, latest.id, due.trigger, {
      ...(waitFor ? { status: 'waiting', waitingFor: waitFor.id, reason: waitingReason(waitFor) } : {}),
      refreshId,
    });
    await markFired(latest.id, due.key, claim.etag, run.id);
    return outcome(waitFor ? 'waiting' : 'started', { runId: run.id });
  } catch (error) {
    // Someone started a run in between: retried once it ends. Other errors leave the claim to
    // expire, so a later sweep takes the due time over.
    if (!(error instanceof Conflict)) throw error;
    await markBlocked(latest.id, due.key, claim.etag, error.message);
    return outcome('blocked', { reason: error.message });
  }
}
