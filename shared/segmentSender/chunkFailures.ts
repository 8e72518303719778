// Chunks that failed whole — the queue gave up on them, or no sender took them up — leave rows
// no batch acknowledged and so no record outcome. As the run ends, while the chunk's file is
// still there (a run's working files go with it), each such row gets a failed outcome naming the
// chunk's reason: the records view lists every member not delivered, and `retryOf` sends them.
// Rows the planner marked as repeating an earlier member's email are skipped, as the sender skips
// them. The finalizer adds what is recorded here to the run's counts (no chunk counted these rows).
import { recordOutcomes, type ChunkState, type RecordOutcome, type RunRecord } from '../runs/worker.js';
import { lakeContainer, workContainer } from '../storage/clients.js';
import { readRecords } from '../lake/lakeReader.js';
import { profileKeyColumn } from '../lake/profileKey.js';
import { failedWholeForRetryableReason } from '../delivery/retryFailures.js';
import { parseSendRow } from '../delivery/planDelivery.js';
import { matchingPlan, rowEmail } from './dataMatching.js';
import { loadChunkDuplicates } from './duplicateMembers.js';
import { DUPLICATE_EMAIL } from './sendChunk.js';

/** Outcomes written per ledger call: a chunk of 50,000 rows never sits in memory whole. */
const OUTCOMES_PER_WRITE = 1000;

/** Rows recorded: failed (not sent), and skipped (repeated emails). */
export interface WholeChunkOutcomes {
  failed: number;
  skipped: number;
}

/** Records the outcomes of the rows of the run's chunks that failed whole; answers how many of each. */
export async function recordWholeChunkFailures(
  run: RunRecord,
  mapping: Record<string, string>,
  chunks: ChunkState[],
): Promise<WholeChunkOutcomes> {
  const recorded: WholeChunkOutcomes = { failed: 0, skipped: 0 };
  for (const chunk of chunks) {
    if (!failedWholeForRetryableReason(chunk)) continue;
    const segment = run.segments.find((candidate) => candidate.segmentId === chunk.segmentId);
    if (!segment) continue;
    let emailColumn = -1;
    try {
      emailColumn = matchingPlan(mapping, segment.attributes).emailColumn;
    } catch {
      // The mapping does not fit the segment: the outcomes carry keys alone.
    }
    const keyColumn = profileKeyColumn(segment.attributes);
    const message = `Not sent: ${chunk.reason}`.slice(0, 500);
    const container = chunk.container === 'work' ? await workContainer() : lakeContainer();
    // Lake rows the planner found repeating an earlier member's email (a delivery row carries its mark).
    const repeated = chunk.duplicates ? await loadChunkDuplicates(run.id, chunk.chunkId) : new Set<number>();
    let outcomes: RecordOutcome[] = [];
    const flush = async () => {
      await recordOutcomes(run.id, outcomes);
      for (const outcome of outcomes) recorded[outcome.status === 'skipped' ? 'skipped' : 'failed']++;
      outcomes = [];
    };
    try {
      for await (const record of readRecords(container, chunk.blobName, chunk.resumeOffset, chunk.end, {
        ifMatch: chunk.blobEtag,
        delimiter: chunk.delimiter,
        columnHeaders: chunk.columnHeaders,
      })) {
        // A delivery file's row carries its key and source; a lake row has the key at its column.
        const row = chunk.delivery ? parseSendRow(record.values) : undefined;
        const values = row ? row.values : record.values;
        const key = row ? row.key : (values[keyColumn] ?? '').trim();
        const about = {
          chunkId: chunk.chunkId,
          offset: record.offset,
          segmentId: chunk.segmentId,
          ...(key ? { key } : {}),
          source: row ? { partition: row.partition, offset: row.position } : { partition: chunk.blobName, offset: record.offset },
          email: rowEmail(values, emailColumn),
        };
        outcomes.push(
          row?.duplicate || repeated.has(record.offset)
            ? { ...about, ...DUPLICATE_EMAIL }
            : { ...about, status: 'failed', category: 'vendorUnavailable', code: 'chunkFailed', message },
        );
        if (outcomes.length >= OUTCOMES_PER_WRITE) await flush();
      }
    } catch (error) {
      // The file changed or went (a lake refresh since): its offsets no longer name these rows.
      if ((error as Error).name !== 'PartitionChangedError') throw error;
    }
    await flush();
  }
  return recorded;
}
