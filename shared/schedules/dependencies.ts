// Dependency gating: an export depends on the refresh processes that write its segments or
// entities. A scheduled run due while one of them is running waits for it; if it fails, the run
// is skipped, so no export ever reads half-refreshed data.
import pLimit from 'p-limit';
import type { ExportRecord } from '../exports/exportDefinition.js';
import { NotFound } from '../errors.js';
import { enqueuePlan } from '../runs/startRun.js';
import { finishRunEarly } from '../runs/finalizeRun.js';
import { findRun, updateRun } from '../runs/runStore.js';
import type { RunRecord } from '../runs/run.js';
import { ABANDONED_AFTER_MS, isAbandoned, type RefreshRecord } from '../refreshes/refresh.js';
import { getRefresh, listRefreshesStartedSince } from '../refreshes/refreshStore.js';

/** Whether the refresh writes data the export reads. A refresh naming nothing touches everything. */
export function touches(
  refresh: Pick<RefreshRecord, 'segments' | 'entities'>,
  record: Pick<ExportRecord, 'segments' | 'entities'>,
): boolean {
  if (refresh.segments.length === 0 && refresh.entities.length === 0) return true;
  // Segment entities carry the segment's id as their name, so either list may name a segment.
  const reads = new Set([...record.segments, ...record.entities].map((name) => name.toLowerCase()));
  return [...refresh.segments, ...refresh.entities].some((name) => reads.has(name.toLowerCase()));
}

/** Refreshes the export depends on that are running now, oldest first. */
export function runningDependencies(record: ExportRecord, refreshes: RefreshRecord[], now: Date): RefreshRecord[] {
  return refreshes
    .filter((refresh) => refresh.status === 'running' && !isAbandoned(refresh, now) && touches(refresh, record))
    .sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

export function waitingReason(refresh: RefreshRecord): string {
  return `Waiting for the ${refresh.process} refresh ${refresh.id} to finish.`;
}

export type WaitOutcome = 'released' | 'skipped' | 'waiting';

/**
 * Moves a waiting run on: skipped if a refresh it depends on failed (or was abandoned) while it
 * waited, still waiting while another one runs, otherwise released to the planner.
 * Safe to call concurrently: each change is a conditional write on the run.
 */
export async function settleWaitingRun(run: RunRecord, record: ExportRecord, known: RefreshRecord[], now: Date): Promise<WaitOutcome> {
  if (run.status !== 'waiting') return 'waiting';
  // The awaited refresh may be older than the recent ones the caller listed.
  const missing = run.waitingFor && !known.some((refresh) => refresh.id === run.waitingFor) ? await findRefresh(run.waitingFor) : undefined;
  const refreshes = missing ? [...known, missing] : known;
  const failed = refreshes.find(
    (refresh) =>
      refresh.status === 'failed' &&
      touches(refresh, record) &&
      (refresh.id === run.waitingFor || (refresh.finishedAt ?? '') >= run.createdAt),
  );
  if (failed) {
    const why = failed.reason ? `: ${failed.reason}` : '';
    await finishRunEarly(
      run,
      'skipped',
      `Skipped: the ${failed.process} refresh ${failed.id} it waited for failed${why}. Nothing was sent, so no half-refreshed data left.`,
    );
    return 'skipped';
  }
  const awaited = refreshes.find((refresh) => refresh.id === run.waitingFor);
  if (awaited && isAbandoned(awaited, now)) {
    await finishRunEarly(
      run,
      'skipped',
      `Skipped: the ${awaited.process} refresh ${awaited.id} it waited for reported no end within 24 hours.`,
    );
    return 'skipped';
  }
  const running = runningDependencies(record, refreshes, now);
  if (running.length > 0) {
    const next = running[0]!;
    if (next.id !== run.waitingFor) {
      await updateRun(run.exportId, run.id, (latest) =>
        latest.status === 'waiting' ? { ...latest, waitingFor: next.id, reason: waitingReason(next) } : undefined,
      );
    }
    return 'waiting';
  }
  let released = false;
  await updateRun(run.exportId, run.id, (latest) => {
    // Re-evaluated on every attempt: a retry after a concurrent write may find it moved on.
    released = latest.status === 'waiting' && !latest.cancelRequested;
    return released ? { ...latest, status: 'queued', waitingFor: null, reason: null } : undefined;
  });
  // Only the caller whose write moved it from waiting enqueues it: one plan message per run.
  if (released) await enqueuePlan(run);
  return released ? 'released' : 'waiting';
}

async function findRefresh(id: string): Promise<RefreshRecord | undefined> {
  try {
    return await getRefresh(id);
  } catch (error) {
    if (error instanceof NotFound) return undefined;
    throw error;
  }
}

/** The refreshes that can matter to gating now: started within twice the abandon limit. */
export function recentRefreshes(now: Date): Promise<RefreshRecord[]> {
  return listRefreshesStartedSince(new Date(now.getTime() - 2 * ABANDONED_AFTER_MS));
}

export interface SettledRuns {
  released: string[];
  skipped: string[];
}

/** Settles the waiting runs of the given exports (a waiting run is always its export's active run). */
export async function settleWaitingRuns(records: ExportRecord[], refreshes: RefreshRecord[], now: Date): Promise<SettledRuns> {
  const settled: SettledRuns = { released: [], skipped: [] };
  const limit = pLimit(8);
  await Promise.all(
    records
      .filter((record) => record.activeRunId)
      .map((record) =>
        limit(async () => {
          const run = await findRun(record.id, record.activeRunId!);
          if (run?.status !== 'waiting') return;
          const outcome = await settleWaitingRun(run, record, refreshes, now);
          if (outcome !== 'waiting') settled[outcome].push(run.id);
        }),
      ),
  );
  return settled;
}
