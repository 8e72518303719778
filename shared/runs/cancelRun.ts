// Cancel: flags the run; senders check the flag before every batch and stop within seconds.
import type { Principal } from '../auth/principal.js';
import { recordAudit } from '../audit/auditLog.js';
import { Conflict } from '../errors.js';
import { getRun, updateRun } from './runStore.js';
import { finalizeIfComplete, finishRunEarly } from './finalizeRun.js';
import { isTerminal, type RunRecord } from './run.js';

export async function cancelRun(principal: Principal, exportId: string, runId: string): Promise<RunRecord> {
  const current = await getRun(exportId, runId);
  if (isTerminal(current.status)) throw new Conflict(`Run '${runId}' has already ended (${current.status}).`);
  const run = await updateRun(exportId, runId, (latest) => (isTerminal(latest.status) ? undefined : { ...latest, cancelRequested: true }));
  await recordAudit(principal, 'run.cancelled', { type: 'run', id: runId }, { exportId });
  // Not yet sending anything: end it now. Otherwise the senders end their chunks.
  if (run.status === 'queued' || run.status === 'waiting') await finishRunEarly(run, 'cancelled', 'Cancelled before it started.');
  else await finalizeIfComplete(exportId, runId);
  return getRun(exportId, runId);
}
