// Chunks that failed whole — the queue gave up on them, or no sender took them up — leave rows
// no batch acknowledged and so no record outcome. At the run's end, while the chunk's file is
// still there (a run's working files go with it), each such row gets a failed outcome naming the
// chunk's reason: the records view lists every member not delivered, and `retryOf` sends them.
import { listChunks, recordOutcomes, type RecordOutcome, type RunRecord } from '../runs/worker.js';
import { lakeContainer, workContainer } from '../storage/clients.js';
import { readRecords } from '../lake/lakeReader.js';
import { profileKeyColumn } from '../lake/profileKey.js';
import { failedWholeForRetryableReason } from '../delivery/retryFailures.js';
import { parseSendRow } from '../delivery/planDelivery.js';
import { matchingPlan, rowEmail } from './dataMatching.js';

/** Outcomes written per ledger call: a chunk of 50,000 rows never sits in memory whole. */
const OUTCOMES_PER_WRITE = 1000;

export async function recordWholeChunkFailures(run: RunRecord, mapping: Record<string, string>): Promise<number> {
  let recorded = 0;
  for (const chunk of await listChunks(run.id)) {
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
    let outcomes: RecordOutcome[] = [];
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
        outcomes.push({
          chunkId: chunk.chunkId,
          offset: record.offset,
          segmentId: chunk.segmentId,
          ...(key ? { key } : {}),
          source: row ? { partition: row.partition, offset: row.position } : { partition: chunk.blobName, offset: record.offset },
          email: rowEmail(values, emailColumn),
          status: 'failed',
          category: 'vendorUnavailable',
          code: 'chunkFailed',
          message,
        });
        if (outcomes.length >= OUTCOMES_PER_WRITE) {
          await recordOutcomes(run.id, outcomes);
          recorded += outcomes.length;
          outcomes = [];
        }
      }
    } catch (error) {
      // The file changed or went (a lake refresh since): its offsets no longer name these rows.
      if ((error as Error).name !== 'PartitionChangedError') throw error;
    }
    await recordOutcomes(run.id, outcomes);
    recorded += outcomes.length;
  }
  return recorded;
}
