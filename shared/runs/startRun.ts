// Starting a run: one active run per export, enforced with a conditional write on the export.
import type { Principal } from '../auth/principal.js';
import { recordAudit } from '../audit/auditLog.js';
import { Conflict, Unprocessable } from '../errors.js';
import { getExport, replaceExport } from '../exports/exportStore.js';
import { QUEUES } from '../storage/names.js';
import { sendQueueMessage } from '../storage/clients.js';
import type { ExportRecord } from '../exports/exportDefinition.js';
import { findRun, insertRun, newRunId, runIdTime } from './runStore.js';
import { ZERO_COUNTS, isTerminal, type RunRecord, type RunTrigger } from './run.js';
import type { WaitsForSecrets } from './secretsOutage.js';
import { isPreconditionFailed } from '../storage/preconditionFailed.js';

export interface PlanRunMessage extends WaitsForSecrets {
  exportId: string;
  runId: string;
}

/**
 * Points the export at the new run. Throws Conflict (with the active run's id) if it already has
 * a run in progress. The ETag makes two simultaneous starts race on one write: exactly one wins;
 * a write that lost to anything else (an edit, a run ending) is retried on the latest version.
 */
async function claimExport(exportId: string, runId: string): Promise<ExportRecord> {
  for (let attempt = 0; ; attempt++) {
    const record = await getExport(exportId);
    if (!record.connectionId) throw new Unprocessable(`Export '${record.name}' has no connection; choose one before running it.`);
    if (record.activeRunId) {
      const active = await findRun(record.id, record.activeRunId);
      // A claim whose run row is not written yet is a start happening right now: it counts too.
      const beingCreated = !active && Date.now() - runIdTime(record.activeRunId) < 60_000;
      if ((active && !isTerminal(active.status)) || beingCreated) {
        throw new Conflict(
          `Export '${record.name}' already has a run in progress (${record.activeRunId}, ${active?.status ?? 'starting'}). Wait for it or cancel it.`,
          { activeRunId: record.activeRunId },
        );
      }
    }
    try {
      return await replaceExport({ ...record, activeRunId: runId }, record.etag);
    } catch (error) {
      if (!isPreconditionFailed(error) || attempt >= 4) throw error;
    }
  }
}

export async function startRun(
  principal: Principal,
  exportId: string,
  trigger: RunTrigger,
  options: {
    status?: 'queued' | 'waiting';
    waitingFor?: string;
    reason?: string;
    refreshId?: string;
    retryOf?: string;
    fullResync?: boolean;
    /**
     * How the plan message of a queued run goes out; default: sent with the storage SDK before
     * startRun returns. An HTTP start hands it to a queue output binding instead (planOutput.ts).
     * Either way the run row is written first, so a message that never goes out is made up for by
     * the recovery sweep (a queued run without progress gets its plan message again).
     */
    sendPlan?: (message: PlanRunMessage) => void | Promise<void>;
  } = {},
): Promise<RunRecord> {
  const runId = newRunId();
  const record = await claimExport(exportId, runId);
  const now = new Date().toISOString();
  const status = options.status ?? 'queued';
  const run = await insertRun({
    id: runId,
    exportId,
    trigger,
    status,
    reason: options.reason ?? null,
    requestedBy: { id: principal.id, name: principal.name },
    createdAt: now,
    startedAt: null,
    finishedAt: null,
    counts: ZERO_COUNTS,
    planned: false,
    chunksTotal: 0,
    segments: [],
    preparedDetails: null,
    cancelRequested: false,
    waitingFor: options.waitingFor ?? null,
    // The lake snapshot is added by the planner when it reads model.json.
    provenance: { lake: null, refreshId: options.refreshId ?? null },
    retryOf: options.retryOf ?? null,
    fullResync: options.fullResync ?? false,
    delivery: null,
    tasks: [
      { name: 'plan', status: 'pending', startedAt: null, finishedAt: null },
      { name: 'send', status: 'pending', startedAt: null, finishedAt: null },
      { name: 'finalize', status: 'pending', startedAt: null, finishedAt: null },
    ],
    etag: '',
  });
  if (status === 'queued') await (options.sendPlan ?? sendPlanMessage)(planMessage(run));
  await recordAudit(
    principal,
    'export.run',
    { type: 'export', id: exportId, name: record.name },
    { runId, trigger, ...(options.retryOf ? { retryOf: options.retryOf } : {}), ...(options.fullResync ? { fullResync: true } : {}) },
  );
  return run;
}

export async function enqueuePlan(run: Pick<RunRecord, 'exportId' | 'id'>): Promise<void> {
  await sendPlanMessage(planMessage(run));
}

function planMessage(run: Pick<RunRecord, 'exportId' | 'id'>): PlanRunMessage {
  return { exportId: run.exportId, runId: run.id };
}

async function sendPlanMessage(message: PlanRunMessage): Promise<void> {
  await sendQueueMessage(QUEUES.exportRuns, message);
}
