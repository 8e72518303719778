// Reasons the engine stores for people to read (a run's reason, a chunk's reason, a record's
// message) often quote a vendor's error text; a credential echoed in it is redacted before the
// row is written, over real Azurite.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../local/azurite.js';
import { rememberSecret } from '../../shared/observability/log.js';
import { chunkIdFor, getChunk, listRecordOutcomes, recordOutcomes, recordPlannedChunks, saveChunk } from '../../shared/runs/runLedger.js';
import { getRun, insertRun, newRunId } from '../../shared/runs/runStore.js';
import { ZERO_COUNTS } from '../../shared/runs/run.js';

let azurite: RunningAzurite;
const savedStorage = process.env.AzureWebJobsStorage;
const API_KEY = 'vendor-api-key-4f1c9a7e';

beforeAll(async () => {
  azurite = await startAzurite();
  process.env.AzureWebJobsStorage = azurite.connectionString;
  // The sender remembers each secret it reads, as it does before calling the vendor.
  rememberSecret(API_KEY);
});

afterAll(async () => {
  if (savedStorage === undefined) delete process.env.AzureWebJobsStorage;
  else process.env.AzureWebJobsStorage = savedStorage;
  await azurite?.stop();
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
    const run = await insertRun({
      id: newRunId(),
      exportId: 'export-redaction',
      trigger: 'manual',
      status: 'failed',
      reason: vendorText,
      requestedBy: { id: 'alice', name: 'Alice' },
      createdAt: now,
      startedAt: now,
      finishedAt: now,
      counts: ZERO_COUNTS,
      planned: true,
      chunksTotal: 1,
      segments: [],
      preparedDetails: null,
      cancelRequested: false,
      waitingFor: null,
      tasks: [],
      etag: '',
    });
    expectRedacted((await getRun(run.exportId, run.id)).reason);

    const chunkId = chunkIdFor(0);
    await recordPlannedChunks(run.id, [
      {
        chunkId,
        step: 'send',
        segmentId: 'Segment_X',
        container: 'lake',
        blobName: 'x.csv',
        blobEtag: '"0x0"',
        start: 0,
        end: 10,
        delimiter: ',',
        columnHeaders: false,
      },
    ]);
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
