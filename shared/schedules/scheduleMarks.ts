// Fire markers: one row per export and due time (a custom due time or a system refresh). The row
// is created with a conditional insert, so of several sweeps (or a sweep and a refresh's own
// request) reaching the same due time, exactly one claims it. A claim is a lease: if its holder
// dies before recording the outcome, another may take it over once the lease has expired. Marks
// of earlier due times are removed once a later one fires.
import { hostname } from 'node:os';
import { odata } from '@azure/data-tables';
import { table } from '../storage/clients.js';
import { TABLES } from '../storage/names.js';
import { getEntity, isStatus } from '../storage/entities.js';
import { isPreconditionFailed } from '../storage/preconditionFailed.js';

export const MARK_LEASE_MS = 2 * 60 * 1000;

/**
 * claimed: someone is firing it (until claimedAt + lease); fired: a run serves it;
 * blocked: not started because a run was in progress — retried until a later due time supersedes it.
 */
export type MarkState = 'claimed' | 'fired' | 'blocked';

export interface ScheduleMark {
  exportId: string;
  dueKey: string;
  state: MarkState;
  claimedAt: string;
  claimedBy: string;
  runId: string | null;
  reason: string | null;
  etag: string;
}

interface MarkRow {
  state: string;
  claimedAt: string;
  claimedBy: string;
  runId: string;
  reason: string;
}

const INSTANCE = `${hostname()}:${process.pid}`;

/** Row key of a custom due time. */
export function dueKeyForTime(dueAt: Date): string {
  return `due-${dueAt.toISOString()}`;
}

/** Row key of a system refresh an export runs after. */
export function dueKeyForRefresh(refreshId: string): string {
  return `refresh-${refreshId}`;
}

/** The refresh a due key stands for, if it is a refresh's (see dueKeyForRefresh). */
export function refreshIdOfDueKey(dueKey: string): string | undefined {
  return dueKey.startsWith('refresh-') ? dueKey.slice('refresh-'.length) : undefined;
}

function fromRow(exportId: string, dueKey: string, row: MarkRow & { etag: string }): ScheduleMark {
  return {
    exportId,
    dueKey,
    state: row.state as MarkState,
    claimedAt: row.claimedAt,
    claimedBy: row.claimedBy,
    runId: row.runId || null,
    reason: row.reason || null,
    etag: row.etag,
  };
}

export async function findMark(exportId: string, dueKey: string): Promise<ScheduleMark | undefined> {
  const row = await getEntity<MarkRow>(await table(TABLES.scheduleMarks), exportId, dueKey);
  return row ? fromRow(exportId, dueKey, row) : undefined;
}

/** A claim held: `etag` is the mark's version as claimed, which settling it is conditional on. */
export type Claim = { claimed: true; etag: string; takenOver?: ScheduleMark } | { claimed: false; mark?: ScheduleMark };

/**
 * Claims a due time for this caller. Exactly one of several concurrent callers gets
 * `claimed: true`; `takenOver` is set when the claim replaced an expired or blocked one.
 */
export async function claimMark(exportId: string, dueKey: string, now: Date): Promise<Claim> {
  const client = await table(TABLES.scheduleMarks);
  const row = {
    partitionKey: exportId,
    rowKey: dueKey,
    state: 'claimed',
    claimedAt: now.toISOString(),
    claimedBy: INSTANCE,
    runId: '',
    reason: '',
  };
  try {
    const created = await client.createEntity<MarkRow>(row);
    return { claimed: true, etag: created.etag! };
  } catch (error) {
    if (!isStatus(error, 409)) throw error;
  }
  const existing = await findMark(exportId, dueKey);
  if (!existing) return { claimed: false };
  const expired = existing.state === 'claimed' && now.getTime() - Date.parse(existing.claimedAt) >= MARK_LEASE_MS;
  if (existing.state !== 'blocked' && !expired) return { claimed: false, mark: existing };
  try {
    // The ETag makes the take-over itself a race with one winner.
    const updated = await client.updateEntity<MarkRow>(row, 'Replace', { etag: existing.etag });
    return { claimed: true, etag: updated.etag!, takenOver: existing };
  } catch (error) {
    if (isPreconditionFailed(error) || isStatus(error, 404)) return { claimed: false, mark: existing };
    throw error;
  }
}

/**
 * Records the outcome, only while the claim is still this caller's (the mark's ETag unchanged): a
 * holder slower than its lease must not overwrite what the caller that took the mark over
 * recorded. False when the claim was lost.
 */
async function settle(
  exportId: string,
  dueKey: string,
  claimEtag: string,
  state: MarkState,
  runId: string | null,
  reason: string | null,
): Promise<boolean> {
  const client = await table(TABLES.scheduleMarks);
  try {
    await client.updateEntity<Partial<MarkRow>>(
      { partitionKey: exportId, rowKey: dueKey, state, runId: runId ?? '', reason: reason ?? '' },
      'Merge',
      { etag: claimEtag },
    );
    return true;
  } catch (error) {
    if (isPreconditionFailed(error) || isStatus(error, 404)) return false;
    throw error;
  }
}

/** The due time is served by this run; the export's earlier settled marks go (see pruneSettledMarks). */
export async function markFired(
  exportId: string,
  dueKey: string,
  claimEtag: string,
  runId: string,
  reason: string | null = null,
): Promise<boolean> {
  if (!(await settle(exportId, dueKey, claimEtag, 'fired', runId, reason))) return false;
  // Tidying only: what a failed prune leaves, the next due time's prune removes.
  await pruneSettledMarks(exportId, dueKey).catch(() => undefined);
  return true;
}

/**
 * A sweep only ever looks at an export's latest due time, so once one has fired, the export's
 * other fired or blocked marks can never matter again: without this, a schedule would leave a row
 * per due time forever. A claim still held (its holder may be firing) is left alone.
 */
export async function pruneSettledMarks(exportId: string, keep: string): Promise<number> {
  const client = await table(TABLES.scheduleMarks);
  let removed = 0;
  const rows = client.listEntities<MarkRow>({ queryOptions: { filter: odata`PartitionKey eq ${exportId}`, select: ['RowKey', 'state'] } });
  for await (const row of rows) {
    if (row.rowKey === keep || row.state === 'claimed') continue;
    try {
      await client.deleteEntity(exportId, row.rowKey!, { etag: row.etag });
      removed++;
    } catch (error) {
      // Changed or removed meanwhile (taken over, pruned by another fire): theirs to settle.
      if (!isPreconditionFailed(error) && !isStatus(error, 404)) throw error;
    }
  }
  return removed;
}

/** Not started now (a run was in progress); a later sweep may claim it again. */
export function markBlocked(exportId: string, dueKey: string, claimEtag: string, reason: string): Promise<boolean> {
  return settle(exportId, dueKey, claimEtag, 'blocked', null, reason);
}
