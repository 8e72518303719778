// `retryOf`: a run that sends again only what another run of the export failed to deliver for a
// reason a later attempt can cure — the vendor's 5xx or outage, a timeout or reset, throttling
// that outlasted the run — never a record the vendor rejected or one that is invalid. The retry
// reads the lake's current values of those members (by profile key, or email for older runs).
// Members of chunks that failed whole (poisoned, or ended by the recovery sweep) get their record
// outcomes when the run ends (shared/segmentSender/chunkFailures.ts), so they are found here too.
import { ValidationFailed } from '../errors.js';
import type { ErrorCategory } from '../destinations/destination.js';
import { getExport } from '../exports/exportStore.js';
import { listRecordOutcomes, type ChunkState } from '../runs/runLedger.js';
import { findRun } from '../runs/runStore.js';
import { isTerminal } from '../runs/run.js';

/** Failures a later attempt can cure. invalidRecord (vendor rejections, bad emails), auth and config cannot. */
export const RETRYABLE_CATEGORIES: readonly ErrorCategory[] = ['rateLimited', 'vendorUnavailable', 'network'];

/** Throws 400 naming body.retryOf unless the run is an ended run of this segment export. */
export async function checkRetryable(exportId: string, runId: string): Promise<void> {
  const record = await getExport(exportId);
  if (record.kind !== 'segment')
    throw new ValidationFailed("Only segment exports retry a run's failures.", [
      { path: 'body.retryOf', message: 'a data-out export runs again in full or incrementally; omit retryOf' },
    ]);
  const run = await findRun(exportId, runId);
  if (!run)
    throw new ValidationFailed(`Export '${record.name}' has no run '${runId}'.`, [
      { path: 'body.retryOf', message: `no run '${runId}' of this export; GET /api/exports/${exportId}/runs lists them` },
    ]);
  if (!isTerminal(run.status))
    throw new ValidationFailed(`Run '${runId}' has not ended (${run.status}).`, [
      { path: 'body.retryOf', message: 'retry a run once it has ended' },
    ]);
}

/** Keys (or emails) of the members the run failed to send for a retryable reason. */
export async function retryableFailures(runId: string): Promise<Set<string>> {
  const keys = new Set<string>();
  let continuationToken: string | undefined;
  do {
    const page = await listRecordOutcomes(runId, { status: 'failed', top: 1000, continuationToken });
    for (const record of page.records) {
      if (record.operation !== 'send' || !RETRYABLE_CATEGORIES.includes(record.category as ErrorCategory)) continue;
      if (record.key) keys.add(record.key);
      else if (record.email) keys.add(record.email.toLowerCase());
    }
    continuationToken = page.continuationToken;
  } while (continuationToken);
  return keys;
}

/**
 * A chunk that ended failed with rows no batch acknowledged, for a reason a later attempt can
 * cure: the queue gave up after its retries (shared/runs/poisonedWork.ts: the vendor's 5xx or
 * throttling outlasting the sender's own retries, timeouts, a storage or Key Vault outage), or no
 * sender took it up (shared/runs/recoverRuns.ts). A chunk the sender ended itself failed for a
 * reason no retry cures (credentials refused, list gone, connection removed). Removal chunks are
 * left out: a retry run only sends.
 */
export function failedWholeForRetryableReason(
  chunk: Pick<ChunkState, 'status' | 'resumeOffset' | 'end' | 'step' | 'delivery' | 'reason'>,
): boolean {
  if (chunk.status !== 'failed' || chunk.resumeOffset >= chunk.end) return false;
  if (chunk.step === 'remove' || chunk.delivery?.kind === 'remove') return false;
  return /^Chunk \S+ failed \d+ times/.test(chunk.reason) || chunk.reason.startsWith('No sender took the chunk up');
}
