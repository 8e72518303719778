// The planner's one pass over a segment (scanSegment): the chunk boundaries it finds are exactly
// recordBoundaries' cuts, quoted newlines and header rows included, and the repeated rows are the
// ones findDuplicateRows finds — so reading the segment once instead of twice changes no plan.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { startAzurite, type RunningAzurite } from '../../local/azurite.js';
import { recordBoundaries, type PartitionBlob } from '../../shared/lake/lakeReader.js';
import {
  findDuplicateRows,
  hashesMeeting,
  mergeSorted,
  repeatedRowsOf,
  repeatedRowsOfPartition,
  sortedHashes,
  scanPartitionStretch,
  scanSegment,
  scanStart,
} from '../../shared/segmentSender/duplicateMembers.js';

let azurite: RunningAzurite;
let lake: ContainerClient;

beforeAll(async () => {
  azurite = await startAzurite();
  lake = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('lake');
  await lake.createIfNotExists();
});

afterAll(async () => {
  await azurite?.stop();
});

async function upload(name: string, csv: string, columnHeaders = false): Promise<PartitionBlob> {
  const uploaded = await lake.getBlockBlobClient(name).upload(csv, Buffer.byteLength(csv));
  return {
    blobName: name,
    size: Buffer.byteLength(csv),
    etag: uploaded.etag!,
    format: { $type: 'CsvFormatSettings', delimiter: ',', columnHeaders, quoteStyle: 'QuoteStyle.Csv', csvStyle: 'CsvStyle.QuoteAlways' },
  };
}

function rows(count: number, repeatEvery = 0): string {
  let csv = '';
  for (let index = 0; index < count; index++) {
    const email = repeatEvery && index % repeatEvery === repeatEvery - 1 ? `Member${index - 1}@example.com` : `member${index}@example.com`;
    // Every seventh row has a quoted name with a comma and a newline inside.
    csv += index % 7 === 0 ? `${email},"Name, ${index}\nsecond line"\n` : `${email},Name ${index}\n`;
  }
  return csv;
}

describe('scanSegment', () => {
  it('cuts every partition where recordBoundaries does and finds the same repeated rows, in one read', async () => {
    const blobs = [
      await upload('scan-a.csv', rows(2_000, 97)),
      await upload('scan-b.csv', `Email,Name\n${rows(300)}`, true),
      await upload('scan-empty.csv', ''),
      await upload('scan-small.csv', rows(3)),
    ];
    for (const targetBytes of [64, 1_000, 10_000, 1_000_000]) {
      const scan = await scanSegment(lake, blobs, 0, targetBytes);
      for (const blob of blobs)
        expect(scan.cuts.get(blob.blobName), `${blob.blobName} at ${targetBytes}`).toEqual(
          await recordBoundaries(lake, blob.blobName, blob.size, targetBytes),
        );
      expect(scan.duplicates).toEqual(await findDuplicateRows(lake, blobs, 0));
    }
    const duplicates = (await scanSegment(lake, blobs, 0)).duplicates;
    // Rows 96, 193, … repeat the row before them (case differs); the second partition repeats the
    // first's members but for those whose own row was a repeat there.
    expect(duplicates.get('scan-a.csv')).toHaveLength(Math.floor(2_000 / 97));
    expect(duplicates.get('scan-b.csv')).toHaveLength(300 - 3);
  });

  it('without an email column finds no repeated rows and cuts by the byte scan', async () => {
    const blob = await upload('scan-c.csv', rows(500));
    const scan = await scanSegment(lake, [blob], -1, 2_000);
    expect(scan.duplicates.size).toBe(0);
    expect(scan.cuts.get('scan-c.csv')).toEqual(await recordBoundaries(lake, blob.blobName, blob.size, 2_000));
  });

  it('read in stretches (a planner handing on between them), finds the cuts and repeated rows of one pass', async () => {
    const blobs = [await upload('stretch-a.csv', rows(3_100, 89)), await upload('stretch-b.csv', `Email,Name\n${rows(700)}`, true)];
    const targetBytes = 5_000;
    const whole = await scanSegment(lake, blobs, 0, targetBytes);
    const hashes: { blobName: string; hashes: Float64Array }[] = [];
    const cuts = new Map<string, number[]>();
    let stretches = 0;
    for (const blob of blobs) {
      const found: number[] = [];
      for (let position = scanStart(targetBytes); position.offset < blob.size; stretches++) {
        // Stops at its first look at the clock: every stretch is as short as one can be.
        const stretch = await scanPartitionStretch(lake, blob, 0, targetBytes, position, () => true);
        found.push(...stretch.cuts);
        hashes.push({ blobName: blob.blobName, hashes: stretch.hashes });
        position = stretch.next;
      }
      cuts.set(blob.blobName, [0, ...found, blob.size]);
    }
    expect(stretches).toBeGreaterThan(blobs.length + 4);
    expect(cuts).toEqual(whole.cuts);
    expect(await repeatedRowsOf(lake, blobs, 0, hashes)).toEqual(whole.duplicates);
    expect(whole.duplicates.get('stretch-b.csv')).toHaveLength(700 - Math.floor(700 / 89));
  });

  it('partition by partition, each checked against the partitions read before it, finds the repeated rows of the whole read', async () => {
    // The planner cuts a partition's chunks once it has read it: its rows that repeat an earlier
    // row's email (in an earlier partition or its own) must be those the whole read finds.
    const blobs = [
      await upload('part-a.csv', rows(1_500, 61)),
      await upload('part-b.csv', rows(400)),
      await upload('part-empty.csv', ''),
      await upload('part-c.csv', `Email,Name\n${rows(900, 50)}`, true),
      await upload('part-d.csv', 'someone.new@example.com,New\n  MEMBER7@example.com ,Again\n'),
    ];
    let earlier: Float64Array = new Float64Array(0);
    const found = new Map<string, number[]>();
    for (const [index, blob] of blobs.entries()) {
      const own = sortedHashes((await scanPartitionStretch(lake, blob, 0, Infinity, scanStart(Infinity))).hashes);
      const meeting = hashesMeeting(earlier, own);
      earlier = mergeSorted(earlier, own);
      const repeated = await repeatedRowsOfPartition(lake, blobs.slice(0, index), blob, 0, meeting);
      if (repeated.length > 0) found.set(blob.blobName, repeated);
    }
    expect(found).toEqual(await findDuplicateRows(lake, blobs, 0));
    expect(found.get('part-b.csv')).toHaveLength(400 - Math.floor(400 / 61));
    expect(found.get('part-d.csv'), 'a row repeating the first partition, in other case and with spaces').toHaveLength(1);
    expect([...earlier].every((hash, index) => index === 0 || earlier[index - 1]! <= hash)).toBe(true);
  });
});
