// Chunks that failed whole, over real Azurite: when the run ends, each row no batch acknowledged
// gets a failed record (`chunkFailed`) and is counted in the run's `failed`; a row the planner
// marked as repeating an earlier member's email — in a lake chunk's saved list, or flagged in a
// delivery file — is skipped as the sender skips it (`duplicateEmail`), never counted as failed.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BlobServiceClient } from '@azure/storage-blob';
import { stringify } from 'csv-stringify/sync';
import { seedLake } from '../../local/demoData/seedLake.js';
import { listSegments, partitionBlobs, readModel, readRecords } from '../../shared/lake/lakeReader.js';
import { insertExport } from '../../shared/exports/exportStore.js';
import { insertRun, getRun, newRunId } from '../../shared/runs/runStore.js';
import { chunkIdFor, listRecordOutcomes, recordPlannedChunks, type ChunkRange } from '../../shared/runs/runLedger.js';
import { failPoisonedChunk } from '../../shared/runs/poisonedWork.js';
import { saveChunkDuplicates } from '../../shared/segmentSender/duplicateMembers.js';
import { workContainer } from '../../shared/storage/clients.js';
import '../../functions/runWorkers.js';
import { useLocalServices } from '../support/localServices.js';
import { exportRecord, runRecord } from '../support/engineRecords.js';

const PROFILES = 40;
const local = useLocalServices();

describe('a run whose chunks failed whole', () => {
  it('records and counts every unsent row as failed, and the rows marked as repeated emails as skipped', async () => {
    const lake = BlobServiceClient.fromConnectionString(local.azurite.connectionString).getContainerClient('lake');
    await lake.createIfNotExists();
    await seedLake({ containerClient: lake, profiles: PROFILES, kind: 'b2c', seed: 3, invalidEmailRate: 0 });
    const segment = listSegments(await readModel(lake)).find((candidate) => candidate.entity.name === 'Segment_AllCustomers')!;
    const [blob] = await partitionBlobs(lake, segment.entity);
    const rows: { offset: number; values: string[] }[] = [];
    for await (const record of readRecords(lake, blob!.blobName, 0, blob!.size)) rows.push(record);
    expect(rows).toHaveLength(PROFILES);

    const exportId = randomUUID();
    await insertExport(exportRecord({ id: exportId, name: 'Failed whole', segments: [segment.entity.name] }));
    const runId = newRunId();
    await insertRun(
      runRecord({
        id: runId,
        exportId,
        planned: true,
        chunksTotal: 2,
        segments: [
          {
            segmentId: segment.entity.name,
            segmentName: segment.name,
            type: 'Profile',
            entity: segment.entity.name,
            attributes: segment.entity.attributes.map((attribute) => attribute.name),
            memberCount: PROFILES,
          },
        ],
      }),
    );

    // A delivery file of five members to send, the third flagged as repeating an email.
    const send = stringify(
      rows
        .slice(0, 5)
        .map((row, index) => [row.values[0]!, 'hash', index === 2 ? 'duplicate' : '', blob!.blobName, String(row.offset), ...row.values]),
    );
    const file = (await workContainer()).getBlockBlobClient(`runs/${runId}/delivery/b00000-test/send-s0.csv`);
    const uploaded = await file.upload(send, Buffer.byteLength(send));
    const common = { step: 'send', segmentId: segment.entity.name, delimiter: ',', columnHeaders: false };
    const lakeChunk: ChunkRange = {
      ...common,
      chunkId: chunkIdFor(0),
      container: 'lake',
      blobName: blob!.blobName,
      blobEtag: blob!.etag,
      start: 0,
      end: blob!.size,
      duplicates: 2,
    };
    const deliveryChunk: ChunkRange = {
      ...common,
      chunkId: chunkIdFor(1),
      container: 'work',
      blobName: file.name,
      blobEtag: uploaded.etag!,
      start: 0,
      end: Buffer.byteLength(send),
      delivery: { kind: 'send', bucket: 0 },
    };
    const repeated = [rows[3]!.offset, rows[7]!.offset];
    await saveChunkDuplicates(runId, lakeChunk.chunkId, repeated);
    await recordPlannedChunks(runId, [lakeChunk, deliveryChunk]);

    // The queue gives up on both before anything was sent; the second one's end finalizes the run.
    for (const chunk of [lakeChunk, deliveryChunk]) await failPoisonedChunk({ exportId, runId, chunkId: chunk.chunkId });

    const run = await getRun(exportId, runId);
    expect(run.status).toBe('failed');
    const failed = PROFILES - repeated.length + 4;
    expect(run.counts).toMatchObject({ failed, skipped: repeated.length + 1, succeeded: 0 });
    const records = (await listRecordOutcomes(runId, { top: 1000 })).records;
    const byCode = (code: string) => records.filter((record) => record.code === code);
    expect(byCode('chunkFailed')).toHaveLength(failed);
    expect(byCode('chunkFailed').every((record) => record.status === 'failed')).toBe(true);
    const skipped = byCode('duplicateEmail');
    expect(skipped.every((record) => record.status === 'skipped')).toBe(true);
    expect(skipped.map((record) => record.email).sort()).toEqual(
      [rows[3]!, rows[7]!, rows[2]!]
        .map((row) => row.values[segment.entity.attributes.findIndex((a) => a.name === 'Email')]!.trim().toLowerCase())
        .sort(),
    );
  }, 60_000);
});
