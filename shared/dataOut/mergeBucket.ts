// The merge step of an incremental run, for one key bucket of one entity: the previous snapshot's
// keys of this bucket are loaded (key → row hash; about 16 MB of rows per bucket, so memory stays
// bounded whatever the entity's size), the rows the copy steps spilled for this bucket are
// streamed past them, and every insert, update and delete is written to the bucket's change
// partition with its operation; the keys seen become the bucket's new snapshot.
import { workContainer } from '../storage/clients.js';
import { readRecords } from '../lake/lakeReader.js';
import { recordOutcomes, ZERO_COUNTS, type RecordOutcome, type RunCounts } from '../runs/worker.js';
import { bucketOf, headerOf, partitionPath, type DataOutStep, type RowOperation } from './dataOutPlan.js';
import { BlockCsvFile, CsvPartitionWriter } from './csvFiles.js';
import { listBlobs, snapshotPrefix, spillPrefix } from './workFiles.js';
import type { StepContext } from './stepContext.js';

const MERGE_BLOCK_BYTES = 512 * 1024;

/** Marks a key this run has seen (row hashes never take this value). */
const SEEN = '';

export async function mergeBucket(
  context: StepContext,
  step: DataOutStep & { kind: 'merge' },
  track: (counts: RunCounts) => void,
): Promise<void> {
  const { plan } = context;
  const entity = plan.entities[step.entity]!;
  const work = await workContainer();
  const counts: RunCounts = { ...ZERO_COUNTS };
  track(counts);

  // Bucket counts are powers of two that only grow, so this bucket's keys all sit in one bucket
  // of the previous snapshot (the one its number falls into), mixed with keys of sibling buckets.
  const previous = new Map<string, string>();
  if (plan.base) {
    const sameBuckets = plan.base.buckets === plan.buckets;
    const prefix = snapshotPrefix(plan.exportId, plan.base.runId, entity.name, step.bucket & (plan.base.buckets - 1));
    for (const blob of await listBlobs(work, prefix)) {
      for await (const record of readRecords(work, blob.name, 0, blob.size, { abortSignal: context.signal })) {
        const [key, hash] = record.values as [string, string];
        if ((sameBuckets || bucketOf(key, plan.buckets) === step.bucket) && !previous.has(key)) previous.set(key, hash);
      }
      await context.checkpoint();
    }
  }

  // Up to 16 merges run at once on a host: small blocks keep their buffers to a few MB each.
  const snapshot = new BlockCsvFile(
    work.getBlockBlobClient(`${snapshotPrefix(plan.exportId, plan.runId, entity.name, step.bucket)}merged.csv`),
    MERGE_BLOCK_BYTES,
  );
  const operations: Record<RowOperation, number> = { insert: 0, update: 0, delete: 0 };
  let output: CsvPartitionWriter | undefined;
  const destination = await context.destination();
  const emit = async (operation: RowOperation, row: string[]) => {
    // A bucket without changes writes no file at all.
    output ??= new CsvPartitionWriter(destination.getBlockBlobClient(partitionPath(plan, step)), {
      header: plan.includeHeader ? headerOf(plan, entity) : undefined,
      abortSignal: context.signal,
      blockBytes: MERGE_BLOCK_BYTES,
    });
    operations[operation]++;
    const wait = output.write([operation, ...row]);
    if (wait) await wait;
  };

  const outcomes: RecordOutcome[] = [];
  // Keys seen in this run are marked in the same map, not copied into a set: a key parsed from a
  // spilled row is a slice that would keep its whole row alive.
  const keys = previous;
  let seen = 0;
  try {
    // Spill files are named after their copy chunk: in name order, rows come in lake order.
    for (const spill of await listBlobs(work, spillPrefix(plan.exportId, plan.runId, entity.name, step.bucket))) {
      const copyChunkId = spill.name.slice(spill.name.lastIndexOf('/') + 1).replace(/\.csv$/, '');
      for await (const record of readRecords(work, spill.name, 0, spill.size, { abortSignal: context.signal })) {
        const [key, hash, offset] = record.values as [string, string, string];
        const row = record.values.slice(3);
        const before = keys.get(key);
        if (before === SEEN) {
          // The first row of a key wins, as in the previous snapshot.
          counts.skipped++;
          outcomes.push({
            chunkId: copyChunkId,
            offset: Number(offset),
            segmentId: entity.name,
            email: key,
            status: 'skipped',
            category: 'invalidRecord',
            code: 'duplicateKey',
            message: `Another row of ${entity.name} has the same key; the first one was written.`,
          });
          continue;
        }
        keys.set(key, SEEN);
        const wait = snapshot.add([key, hash]);
        if (wait) await wait;
        if (before === undefined) await emit('insert', row);
        else if (before !== hash) await emit('update', row);
        if ((++seen & 1023) === 0) await context.checkpoint();
      }
    }
    // What the previous snapshot had and this run did not see was removed: the key alone says which.
    for (const [key, hash] of keys)
      if (hash !== SEEN)
        await emit(
          'delete',
          entity.columns.map((_, index) => (index === entity.keyColumn ? key : '')),
        );
    await snapshot.commit();
    if (output) {
      await output.finish();
      // Per-operation counts travel with the partition, for model.json and the run's details.
      await destination
        .getBlockBlobClient(partitionPath(plan, step))
        .setMetadata({ inserts: String(operations.insert), updates: String(operations.update), deletes: String(operations.delete) });
    }
  } catch (error) {
    output?.abort();
    throw error;
  }
  counts.sent = operations.insert + operations.update + operations.delete;
  await recordOutcomes(plan.runId, outcomes);
}
