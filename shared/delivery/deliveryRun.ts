// Where a run meets delivery modes: the planner asks which files the senders read (everyone, the
// changes since the snapshot, who left, or another run's retryable failures), and the finalizer
// moves the export's snapshot on when the run succeeded, or drops the run's own files when not.
import { createHash } from 'node:crypto';
import { DEFAULT_DELIVERY, type ExportRecord } from '../exports/exportDefinition.js';
import type { RunDelivery, RunRecord } from '../runs/run.js';
import { bucketsFor } from './memberDiff.js';
import { commitSnapshot, discardRetryBatches, discardRunSnapshot, readSnapshotPointer } from './deliverySnapshot.js';
import type { DeliveryPlan, DeliverySource } from './planDelivery.js';
import { matchingPlan } from '../segmentSender/dataMatching.js';

/** A segment export that sends only changes or removes who left compares each run with a snapshot. */
export function keepsSnapshot(record: ExportRecord): boolean {
  const delivery = record.delivery ?? DEFAULT_DELIVERY;
  return record.kind === 'segment' && (delivery.mode === 'changes' || delivery.removals);
}

/**
 * What a snapshot was made for: the segments, the mapping, the destination and its details (the
 * list). Another fingerprint means the snapshot says nothing about the destination any more.
 */
export function deliveryFingerprint(record: ExportRecord): string {
  const sorted = (value: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return createHash('sha256')
    .update(
      JSON.stringify({
        segments: [...record.segments].sort(),
        mapping: sorted(record.mapping),
        details: sorted(record.details),
        connection: record.connectionId,
        type: record.connectionType,
      }),
    )
    .digest('base64url')
    .slice(0, 22);
}

/**
 * What the run's delivery files will be made of (the comparison itself goes in steps, see
 * planDelivery.ts), or undefined when the run sends the segments as they are. Reads the
 * snapshot's pointer only; throws when the mapping does not fit a segment.
 */
export async function planDelivery(
  run: RunRecord,
  record: ExportRecord,
  sources: DeliverySource[],
  totalMembers: number,
): Promise<{ plan: DeliveryPlan; delivery: RunDelivery } | undefined> {
  const fingerprint = deliveryFingerprint(record);
  const common = { exportId: record.id, runId: run.id, mapping: record.mapping };
  if (run.retryOf || keepsSnapshot(record))
    // The mapping must fit every segment before a step reads them.
    for (const source of sources) matchingPlan(record.mapping, source.segment.attributes);
  if (run.retryOf) {
    // What the destination accepts now is added to the export's snapshot, so the next `changes`
    // run does not send it again; nobody else's entry moves. Only a snapshot made for the same
    // segments, mapping and list says anything about these members.
    const pointer = keepsSnapshot(record) ? await readSnapshotPointer(record.id) : undefined;
    const extended = pointer?.fingerprint === fingerprint ? pointer : undefined;
    const buckets = extended ? extended.buckets : bucketsFor(totalMembers);
    return {
      plan: { ...common, buckets, selection: { kind: 'retry', retryOf: run.retryOf }, keepSnapshot: false },
      delivery: {
        keepsSnapshot: false,
        fingerprint,
        buckets,
        fullReason: null,
        removals: false,
        changes: null,
        ...(extended
          ? {
              extendsSnapshot: { runId: extended.runId, batchPrefix: `r${String(Date.parse(run.createdAt)).padStart(13, '0')}-${run.id}-` },
            }
          : {}),
      },
    };
  }
  if (!keepsSnapshot(record)) return undefined;
  const pointer = await readSnapshotPointer(record.id);
  const fullReason = !pointer
    ? 'first delivery'
    : run.fullResync
      ? 'full resync asked'
      : pointer.fingerprint !== fingerprint
        ? 'the segments, mapping or destination details changed'
        : record.delivery?.mode !== 'changes'
          ? 'full delivery'
          : null;
  const buckets = bucketsFor(totalMembers, pointer?.buckets);
  const removals = record.delivery?.removals ?? false;
  return {
    plan: {
      ...common,
      buckets,
      selection: { kind: 'snapshot', everyone: fullReason !== null, base: pointer, removals },
      keepSnapshot: true,
    },
    // The change counts are the comparison's, once it is done.
    delivery: { keepsSnapshot: true, fingerprint, buckets, fullReason, removals, changes: null },
  };
}

/**
 * At the run's end: a run that delivered (succeeded, or partly) becomes the export's snapshot,
 * holding exactly what the destination accepted; any other leaves the snapshot where it was.
 */
export async function settleDeliverySnapshot(run: RunRecord): Promise<void> {
  const extended = run.delivery?.extendsSnapshot;
  // A retry that did not deliver takes its batches back out of the snapshot it extended.
  if (extended && run.status !== 'succeeded' && run.status !== 'partiallySucceeded')
    await discardRetryBatches(run.exportId, extended.runId, extended.batchPrefix);
  if (!run.delivery?.keepsSnapshot) return;
  if (run.status === 'succeeded' || run.status === 'partiallySucceeded') {
    await commitSnapshot(run.exportId, {
      runId: run.id,
      buckets: run.delivery.buckets,
      fingerprint: run.delivery.fingerprint,
      committedAt: run.finishedAt ?? new Date().toISOString(),
    });
  } else await discardRunSnapshot(run.exportId, run.id);
}
