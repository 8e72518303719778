// The other work a connection's rate will carry while a run goes: the runs active on it now
// (their calls still to make) and the runs its exports' schedules start within the next hour.
// Read only: export rows, run rows and the running runs' ledgers.
import type { DestinationAdapter } from '../destinations/destination.js';
import type { ExportRecord } from '../exports/exportDefinition.js';
import { listExports } from '../exports/exportStore.js';
import type { SegmentSummary } from '../lake/segmentCatalog.js';
import type { RateLimit } from '../runs/destinationAccess.js';
import { findRun } from '../runs/runStore.js';
import { toRunView } from '../runs/runProgress.js';
import { isTerminal, type RunRecord } from '../runs/run.js';
import { nextOccurrence } from '../schedules/recurrence.js';
import { predictRun, type CompetingRun } from './predictRun.js';

/** How far ahead scheduled runs count against a plan. */
export const LOOKAHEAD_SECONDS = 3600;

export interface ConnectionLoad {
  competing: CompetingRun[];
  /** The other segment exports on the connection. */
  exportIds: string[];
  /** Every other segment export of the deployment, the most recently run first (planning speed is the machine's). */
  deploymentExportIds: string[];
  /** What the load leaves out or guesses, in words for the plan's warnings. */
  notes: string[];
}

/** The rate tokens a run of `record` as defined now would take: every member of its segments. */
function fullRunRateCalls(record: ExportRecord, segments: SegmentSummary[], destination: DestinationAdapter, rate: RateLimit): number {
  const members = record.segments.map((id) => segments.find((segment) => segment.id === id)?.memberCount ?? 0);
  const send = destination.listPerSegment ? members : [members.reduce((sum, count) => sum + count, 0)];
  return predictRun(destination, rate, { send, remove: 0 }).rateCalls;
}

/** The share of an active run's rate calls still to come, from its ledger's progress. */
async function remainingRateCalls(run: RunRecord, estimate: () => number): Promise<number> {
  const total = run.prediction?.rateCalls ?? estimate();
  if (!run.planned || run.counts.members === 0) return total;
  const view = await toRunView(run);
  const done = view.tasks.find((task) => task.name === 'send')?.counts?.members ?? 0;
  return Math.ceil(total * Math.max(0, 1 - done / Math.max(1, view.counts.members)));
}

export async function connectionLoad(
  exportId: string,
  connectionId: string,
  destination: DestinationAdapter,
  rate: RateLimit,
  segments: SegmentSummary[],
  now: Date,
): Promise<ConnectionLoad> {
  const segmentExports = (await listExports()).filter((record) => record.id !== exportId && record.kind === 'segment');
  const others = segmentExports.filter((record) => record.connectionId === connectionId);
  const competing: CompetingRun[] = [];
  const notes: string[] = [];
  let afterRefresh = 0;
  for (const record of others) {
    const estimate = () => fullRunRateCalls(record, segments, destination, rate);
    const active = record.activeRunId ? await findRun(record.id, record.activeRunId) : undefined;
    if (active && !isTerminal(active.status)) {
      // A waiting run starts when its refresh ends: counted as starting now, the cautious guess.
      competing.push({ exportId: record.id, runId: active.id, rateCalls: await remainingRateCalls(active, estimate), startsInSeconds: 0 });
      continue;
    }
    if (!record.schedule.active) continue;
    if (record.schedule.mode === 'custom') {
      const next = nextOccurrence(record.schedule.recurrence, now);
      const startsInSeconds = next ? (next.getTime() - now.getTime()) / 1000 : Infinity;
      if (startsInSeconds <= LOOKAHEAD_SECONDS) competing.push({ exportId: record.id, rateCalls: estimate(), startsInSeconds });
    } else {
      afterRefresh++;
    }
  }
  if (afterRefresh > 0) {
    notes.push(
      `${afterRefresh} other export${afterRefresh === 1 ? '' : 's'} on this connection run${afterRefresh === 1 ? 's' : ''} after each system refresh; a refresh during the run would slow it, and that is not counted.`,
    );
  }
  const deploymentExportIds = segmentExports
    .filter((record) => record.lastRefreshed)
    .sort((a, b) => b.lastRefreshed!.localeCompare(a.lastRefreshed!))
    .map((record) => record.id);
  return { competing, notes, exportIds: others.map((record) => record.id), deploymentExportIds };
}
