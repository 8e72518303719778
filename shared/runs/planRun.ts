// The core's planner: sets a queued run running, resolves its export's destination, and hands
// the run to the worker that takes it (the segment sender, the data-out writer) to cut into chunks.
import { QUEUES } from '../storage/names.js';
import { getExport } from '../exports/exportStore.js';
import { findConnection } from '../connections/connectionStore.js';
import { destinationAccess, type DestinationAccess } from './destinationAccess.js';
import { deferWhileSecretsUnavailable, secretsOutageNote } from './secretsOutage.js';
import { getRun, updateRun } from './runStore.js';
import { finishRunEarly } from './finalizeRun.js';
import { endCancelledPlanning } from './cancelRun.js';
import { isTerminal, type RunRecord } from './run.js';
import type { PlanRunMessage } from './startRun.js';
import { workerForExport } from './workers.js';
import { invocationDeadline } from './invocationBudget.js';
import { silentLogger, type Logger } from '../observability/log.js';

/**
 * `deadline` (tests shorten it) is when the plan is handed on to a continuation; by default the
 * invocation budget from now (invocationBudget.ts).
 */
export async function planRun(message: PlanRunMessage, log: Logger = silentLogger, options: { deadline?: number } = {}): Promise<void> {
  const deadline = options.deadline ?? invocationDeadline();
  let run = await getRun(message.exportId, message.runId);
  // Re-delivered after planning finished, or the run ended meanwhile: nothing to do.
  if (run.planned || (run.status !== 'queued' && run.status !== 'running')) return;
  // Chunks of the partitions read so far may be sending: they end cancelled, and the run with them.
  if (run.cancelRequested) return endCancelledPlanning(run, 'Cancelled before it started.');
  const now = new Date().toISOString();
  // Conditional on the version read (updateRun writes under its ETag): a run that ended or was
  // cancelled meanwhile is never set running again.
  run = await updateRun(run.exportId, run.id, (current) =>
    mayPlan(current)
      ? {
          ...current,
          status: 'running',
          startedAt: current.startedAt ?? now,
          tasks: current.tasks.map((task) =>
            task.name === 'plan' ? { ...task, status: 'running', startedAt: task.startedAt ?? now } : task,
          ),
        }
      : undefined,
  );
  if (!mayPlan(run)) {
    if (!isTerminal(run.status) && run.cancelRequested) return endCancelledPlanning(run, 'Cancelled before it started.');
    return;
  }

  const record = await getExport(run.exportId);
  const connection = record.connectionId ? await findConnection(record.connectionId) : undefined;
  if (!connection) return finishRunEarly(run, 'failed', 'The export has no connection (it was removed).');
  let access: DestinationAccess;
  try {
    access = await destinationAccess(connection.id, record.details);
  } catch (error) {
    if (!(await deferWhileSecretsUnavailable(QUEUES.exportRuns, message, error))) throw error;
    return log.warn(secretsOutageNote(message));
  }
  const worker = workerForExport(record, access.destination);
  if (!worker)
    return finishRunEarly(run, 'failed', `Nothing here carries out ${record.kind} exports to ${access.destination.displayName}.`);
  return worker.plan({ message, run, record, connection, access, deadline }, log);
}

/** A run the planner may (still) work on: not ended, not cancelled, not waiting for a refresh. */
function mayPlan(run: RunRecord): boolean {
  return (run.status === 'queued' || run.status === 'running') && !run.cancelRequested;
}
