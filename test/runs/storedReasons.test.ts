// Reasons the engine stores for people to read (a run's reason, a chunk's reason, a record's
// message) often quote a vendor's error text; a credential echoed in it is redacted before the
// row is written, over real Azurite.
import { beforeAll, describe, expect, it } from 'vitest';
import { rememberSecret } from '../../shared/observability/log.js';
import { chunkIdFor, getChunk, listRecordOutcomes, recordOutcomes, recordPlannedChunks, saveChunk } from '../../shared/runs/runLedger.js';
import { getRun, insertRun, newRunId } from '../../shared/runs/runStore.js';
import { chunkRange, runRecord } from '../support/engineRecords.js';
import { useLocalServices } from '../support/localServices.js';

useLocalServices();
const API_KEY = 'vendor-api-key-4f1c9a7e';

beforeAll(() => {
  // The sender remembers each secret it reads, as it does before calling the vendor.
  rememberSecret(API_KEY);
});

const vendorText = `401 from vendor: key ${API_KEY} is not valid (Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc.def, https://x.blob.core.windows.net/c?sv=1&sig=c2lnbmF0dXJl)`;

function expectRedacted(text: string | null | undefined): void {
  expect(text).toContain('401 from vendor');
  for (const secret of [API_KEY, 'eyJhbGciOiJIUzI1NiJ9', 'c2lnbmF0dXJl']) expect(text).not.toContain(secret);
  expect(text).toContain('[redacted]');
}

describe('stored reasons', () => {
  it("redact credentials in a run's reason, a chunk's reason and a record's message", async () => {
    const now = new Date().toISOString();
    const run = await insertRun(
      runRecord({
        id: newRunId(),
        exportId: 'export-redaction',
        status: 'failed',
        reason: vendorText,
        createdAt: now,
        finishedAt: now,
        planned: true,
        chunksTotal: 1,
      }),
    );
    expectRedacted((await getRun(run.exportId, run.id)).reason);

    const chunkId = chunkIdFor(0);
    await recordPlannedChunks(run.id, [chunkRange({ chunkId })]);
    await saveChunk({ ...(await getChunk(run.id, chunkId))!, status: 'failed', reason: `Attempt failed: ${vendorText}` });
    expectRedacted((await getChunk(run.id, chunkId))!.reason);

    await recordOutcomes(run.id, [
      {
        chunkId,
        offset: 0,
        segmentId: 'Segment_X',
        email: 'a@example.com',
        status: 'failed',
        category: 'auth',
        code: '401',
        message: vendorText,
      },
    ]);
    expectRedacted((await listRecordOutcomes(run.id, { top: 10 })).records[0]!.message);
  });
});
