// The lake reader against an in-memory Azurite: exact record boundaries (quotes, embedded
// newlines, CRLF, BOM), byte-range reads that add up to a full parse, resuming from a record
// offset, ETag checks, and partition locations that survive a change of storage port.
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../local/azurite.js';
import { ANNOTATIONS } from '../../shared/lake/cdmModel.js';
import {
  LakeError,
  listSegments,
  MODEL_BLOB,
  PartitionChangedError,
  partitionBlobName,
  partitionBlobs,
  readModel,
  readColumn,
  readFieldBatches,
  readRecords,
  recordBoundaries,
  type LakeRecord,
} from '../../shared/lake/lakeReader.js';
import { seedLake } from '../../local/demoData/seedLake.js';

let azurite: RunningAzurite;
let container: ContainerClient;

beforeAll(async () => {
  azurite = await startAzurite();
  container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('lake');
  await container.create();
});
afterAll(async () => {
  await azurite?.stop();
});

async function put(text: string | Buffer): Promise<{ blobName: string; size: number; etag: string }> {
  const blobName = `hand/${randomUUID()}.csv`;
  const body = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const response = await container.getBlockBlobClient(blobName).upload(body, body.length);
  return { blobName, size: body.length, etag: response.etag! };
}

async function collect(iterable: AsyncIterable<LakeRecord>): Promise<LakeRecord[]> {
  const records: LakeRecord[] = [];
  for await (const record of iterable) records.push(record);
  return records;
}

/** Reads every range between consecutive boundaries and concatenates the records. */
async function readAllRanges(blobName: string, boundaries: number[]): Promise<LakeRecord[]> {
  const records: LakeRecord[] = [];
  for (let i = 0; i + 1 < boundaries.length; i++)
    records.push(...(await collect(readRecords(container, blobName, boundaries[i]!, boundaries[i + 1]!))));
  return records;
}

// Quoted commas, doubled quotes, newlines (LF and CRLF) inside quotes, multi-byte characters, an
// empty field and an empty quoted field; records end in CRLF; the file starts with a BOM.
const HAND_ROWS = [
  ['1', 'Bjørn', 'Storgata 1, 3. etg', 'plain'],
  ['2', 'Søren "Sønne" Ødegård', 'line one\nline two', ''],
  ['3', 'Åse', 'a\r\nb,"c"', 'x'],
  ['4', '"', ',', '\n'],
  ['5', 'van der Berg', '', 'last'],
];
const HAND_CSV =
  '\ufeff' +
  HAND_ROWS.map((row) =>
    row
      .map((value) => (value === '' && row[0] === '5' ? '""' : /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value))
      .join(','),
  ).join('\r\n') +
  '\r\n';

describe('recordBoundaries + readRecords', () => {
  it('cuts a hand-written partition only at record starts, whatever the target size', async () => {
    const blob = await put(HAND_CSV);
    const full = parse(HAND_CSV, { bom: true }) as string[][];
    expect(full).toEqual(HAND_ROWS);
    const starts = (await collect(readRecords(container, blob.blobName, 0, blob.size))).map((record) => record.offset);
    expect(starts[0]).toBe(0);
    for (let target = 1; target <= blob.size + 1; target += target < 40 ? 1 : 7) {
      const boundaries = await recordBoundaries(container, blob.blobName, blob.size, target);
      expect(boundaries[0]).toBe(0);
      expect(boundaries.at(-1)).toBe(blob.size);
      for (const boundary of boundaries.slice(1, -1)) expect(starts).toContain(boundary);
      const records = await readAllRanges(blob.blobName, boundaries);
      expect(records.map((record) => record.values)).toEqual(HAND_ROWS);
      expect(records.map((record) => record.offset)).toEqual(starts);
    }
    // With a target of one byte every record is its own range.
    expect(await recordBoundaries(container, blob.blobName, blob.size, 1)).toEqual([...starts, blob.size]);
  });

  it('reports the byte offset where each record starts, and resumes from any of them', async () => {
    const blob = await put(HAND_CSV);
    const records = await collect(readRecords(container, blob.blobName, 0, blob.size));
    const bytes = Buffer.from(HAND_CSV, 'utf8');
    for (let i = 1; i < records.length; i++) {
      // The byte before a record start is the LF of the previous record's CRLF.
      expect(bytes.subarray(records[i]!.offset - 2, records[i]!.offset).toString()).toBe('\r\n');
      const resumed = await collect(readRecords(container, blob.blobName, records[i]!.offset, blob.size));
      expect(resumed).toEqual(records.slice(i));
    }
  });

  it('reads LF files without a final newline', async () => {
    const text = 'a,b\n"c\nd",e\nf,"g,h"';
    const blob = await put(text);
    const boundaries = await recordBoundaries(container, blob.blobName, blob.size, 2);
    expect(boundaries).toEqual([0, 4, 12, text.length]);
    expect((await readAllRanges(blob.blobName, boundaries)).map((record) => record.values)).toEqual([
      ['a', 'b'],
      ['c\nd', 'e'],
      ['f', 'g,h'],
    ]);
    expect(await recordBoundaries(container, (await put('')).blobName, 0, 10)).toEqual([0]);
  });

  it('honours another delimiter and a header row, and rejects records of the wrong width', async () => {
    const withHeader = await put('Id;Name\n1;"Berg; Olsen"\n2;Åse\n');
    const rows = await collect(readRecords(container, withHeader.blobName, 0, withHeader.size, { delimiter: ';', columnHeaders: true }));
    expect(rows).toEqual([
      { offset: 8, values: ['1', 'Berg; Olsen'] },
      { offset: 24, values: ['2', 'Åse'] },
    ]);
    const ragged = await put('a,b\nc,d,e\n');
    await expect(collect(readRecords(container, ragged.blobName, 0, ragged.size))).rejects.toThrow(/has 3 fields, expected 2/);
    const unclosed = await put('a,b\n"c,d\n');
    await expect(collect(readRecords(container, unclosed.blobName, 0, unclosed.size))).rejects.toThrow(/Unclosed quote/);
  });

  it('matches a full parse for any rows (property)', async () => {
    const field = fc.oneof(
      // RFC 4180 has CR only as part of CRLF or inside quotes, so no bare CR.
      fc.string({ unit: fc.constantFrom('a', 'ø', ',', '"', '\n', '\r\n', ' ', 'Å', '1'), maxLength: 8 }),
      fc.string({ maxLength: 6 }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(field, { minLength: 3, maxLength: 3 }), { minLength: 1, maxLength: 25 }),
        fc.integer({ min: 1, max: 64 }),
        async (rows, target) => {
          const text = stringify(rows, { record_delimiter: '\n' });
          const blob = await put(text);
          const boundaries = await recordBoundaries(container, blob.blobName, blob.size, target);
          const records = await readAllRanges(blob.blobName, boundaries);
          expect(records.map((record) => record.values)).toEqual(rows);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('splits seeded partitions exactly and the ranges add up to every member', async () => {
    const lake = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(`seeded-${randomUUID().slice(0, 8)}`);
    await lake.create();
    await seedLake({ containerClient: lake, profiles: 900, kind: 'b2c', seed: 11, rowsPerPartition: 200, invalidEmailRate: 0.05 });
    const model = await readModel(lake);
    for (const segment of listSegments(model).slice(0, 2)) {
      const blobs = await partitionBlobs(lake, segment.entity);
      expect(blobs.length).toBeGreaterThan(1);
      let members = 0;
      for (const blob of blobs) {
        const text = (await lake.getBlobClient(blob.blobName).downloadToBuffer()).toString('utf8');
        const boundaries = await recordBoundaries(lake, blob.blobName, blob.size, 8 * 1024, { ifMatch: blob.etag });
        expect(boundaries.length).toBeGreaterThan(2);
        const records: string[][] = [];
        for (let i = 0; i + 1 < boundaries.length; i++) {
          for await (const record of readRecords(lake, blob.blobName, boundaries[i]!, boundaries[i + 1]!, { ifMatch: blob.etag }))
            records.push(record.values);
        }
        expect(records).toEqual(parse(text));
        members += records.length;
      }
      expect(members).toBe(segment.memberCount);
    }
  });
});

describe('readColumn', () => {
  /** One column of every record of the blob, as readColumn gives it. */
  async function column(blob: { blobName: string; size: number }, index: number, options = {}): Promise<LakeRecord[]> {
    const records: LakeRecord[] = [];
    for await (const batch of readColumn(container, blob.blobName, 0, blob.size, index, options))
      batch.offsets.forEach((offset, at) => records.push({ offset, values: [batch.values[at]!] }));
    return records;
  }
  const fromRecords = (records: LakeRecord[], index: number) =>
    records.map((record) => ({ offset: record.offset, values: [record.values[index]!] }));

  it('gives each record offset and field as readRecords does: quotes, CRLF, a BOM, a header and another delimiter', async () => {
    const blob = await put(HAND_CSV);
    const records = await collect(readRecords(container, blob.blobName, 0, blob.size));
    for (let index = 0; index < HAND_ROWS[0]!.length; index++) expect(await column(blob, index)).toEqual(fromRecords(records, index));
    const withHeader = await put('Id;Name\r\n1;"Berg; Olsen"\r\n\r\n2;Åse');
    expect(await column(withHeader, 1, { delimiter: ';', columnHeaders: true })).toEqual([
      { offset: 9, values: ['Berg; Olsen'] },
      { offset: 28, values: ['Åse'] },
    ]);
  });

  it('fails where readRecords fails', async () => {
    const ragged = await put('a,b\nc,d,e\n');
    await expect(column(ragged, 0)).rejects.toThrow(/has 3 fields, expected 2/);
    const unclosed = await put('a,b\n"c,d\n');
    await expect(column(unclosed, 1)).rejects.toThrow(/Unclosed quote/);
    const misquoted = await put('a,b\nc,d"e"\n');
    await expect(column(misquoted, 0)).rejects.toThrow(LakeError);
  });

  it('matches readRecords for any rows (property)', async () => {
    const field = fc.oneof(
      fc.string({ unit: fc.constantFrom('a', 'ø', ',', '"', '\n', '\r\n', ' ', '1'), maxLength: 8 }),
      fc.string({ maxLength: 6 }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(field, { minLength: 3, maxLength: 3 }), { minLength: 1, maxLength: 25 }),
        fc.integer({ min: 0, max: 2 }),
        async (rows, index) => {
          const blob = await put(stringify(rows, { record_delimiter: '\r\n', quoted_match: /[\r\n]/ }));
          expect(await column(blob, index)).toEqual(fromRecords(await collect(readRecords(container, blob.blobName, 0, blob.size)), index));
        },
      ),
      { numRuns: 20 },
    );
  });
});

/** A container whose downloads arrive in pieces of the given sizes (cycled), as a socket may deliver them. */
function piecewise(bytes: Buffer, sizes: number[]): ContainerClient {
  return {
    getBlobClient: () => ({
      download: async (offset: number, count: number) => {
        const range = bytes.subarray(offset, offset + count);
        const pieces: Buffer[] = [];
        for (let at = 0, next = 0; at < range.length; next++) {
          const size = sizes[next % sizes.length]!;
          pieces.push(Buffer.from(range.subarray(at, at + size)));
          at += size;
        }
        return { readableStreamBody: Readable.from(pieces) };
      },
    }),
  } as unknown as ContainerClient;
}

describe('readFieldBatches', () => {
  /** The records of the blob as readFieldBatches gives them. */
  async function fields(lake: ContainerClient, blob: { blobName: string; size: number }, columns: number[], options = {}) {
    const records: LakeRecord[] = [];
    for await (const batch of readFieldBatches(lake, blob.blobName, 0, blob.size, columns, options)) records.push(...batch);
    return records;
  }
  /** Each record's offset and the values at `columns` (in that order). */
  const project = (records: LakeRecord[], columns: number[]) =>
    records.map((record) => ({ offset: record.offset, values: columns.map((column) => record.values[column]) }));

  it('gives the wanted fields of each record as readRecords does: quotes, CRLF, a BOM, a header and another delimiter', async () => {
    const blob = await put(HAND_CSV);
    const records = await collect(readRecords(container, blob.blobName, 0, blob.size));
    for (const columns of [[0], [3], [1, 3], [2, 0], [0, 1, 2, 3], []])
      expect(project(await fields(container, blob, columns), columns), `columns ${columns.join(',')}`).toEqual(project(records, columns));
    const withHeader = await put('Id;Name;City\r\n1;"Berg; Olsen";Oslo\r\n\r\n2;Åse;Bø');
    expect(project(await fields(container, withHeader, [1, 2], { delimiter: ';', columnHeaders: true }), [1, 2])).toEqual([
      { offset: 14, values: ['Berg; Olsen', 'Oslo'] },
      { offset: 38, values: ['Åse', 'Bø'] },
    ]);
  });

  it('decodes only the wanted fields of a record without quotes', async () => {
    const blob = await put('a1,bø,c1,d1\na2,b2,c2,d2\n');
    const records = await fields(container, blob, [1, 3]);
    expect(records.map((record) => record.values)).toEqual([
      [undefined, 'bø', undefined, 'd1'],
      [undefined, 'b2', undefined, 'd2'],
    ]);
  });

  it('fails where readRecords fails', async () => {
    const ragged = await put('a,b\nc,d,e\n');
    await expect(fields(container, ragged, [0])).rejects.toThrow(/has 3 fields, expected 2/);
    const short = await put('a,b,c\nd,e\n');
    await expect(fields(container, short, [0])).rejects.toThrow(/has 2 fields, expected 3/);
    const unclosed = await put('a,b\n"c,d\n');
    await expect(fields(container, unclosed, [1])).rejects.toThrow(/Unclosed quote/);
    const misquoted = await put('a,b\nc,d"e"\n');
    await expect(fields(container, misquoted, [0])).rejects.toThrow(LakeError);
  });

  it('matches readRecords for any rows and columns (property)', async () => {
    const field = fc.oneof(
      fc.string({ unit: fc.constantFrom('a', 'ø', ',', '"', '\n', '\r\n', ' ', '1', '😀'), maxLength: 8 }),
      fc.string({ maxLength: 6 }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(field, { minLength: 4, maxLength: 4 }), { minLength: 1, maxLength: 25 }),
        fc.uniqueArray(fc.integer({ min: 0, max: 3 }), { maxLength: 4 }),
        async (rows, columns) => {
          const blob = await put(stringify(rows, { record_delimiter: '\r\n', quoted_match: /[\r\n]/ }));
          const records = await collect(readRecords(container, blob.blobName, 0, blob.size));
          expect(project(await fields(container, blob, columns), columns)).toEqual(project(records, columns));
        },
      ),
      { numRuns: 20 },
    );
  });

  it('reads quoted records, broken or not, as readRecords does: the same fields or the same error (property)', async () => {
    const outcome = async (read: () => Promise<unknown>) => {
      try {
        return { value: await read() };
      } catch (error) {
        return { error: (error as Error).message };
      }
    };
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ unit: fc.constantFrom('a', 'ø', ',', '"', '""', ' ', '😀'), maxLength: 12 }), { minLength: 1, maxLength: 6 }),
        fc.uniqueArray(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }),
        async (lines, columns) => {
          const blob = await put(lines.join('\n') + '\n');
          const expected = await outcome(async () => project(await collect(readRecords(container, blob.blobName, 0, blob.size)), columns));
          expect(await outcome(async () => project(await fields(container, blob, columns), columns))).toEqual(expected);
          for (const column of columns) {
            const read = await outcome(async () => {
              const values: { offset: number; values: string[] }[] = [];
              for await (const batch of readColumn(container, blob.blobName, 0, blob.size, column))
                batch.offsets.forEach((offset, at) => values.push({ offset, values: [batch.values[at]!] }));
              return values;
            });
            const fromWhole = await outcome(async () =>
              (await collect(readRecords(container, blob.blobName, 0, blob.size))).map((record) => ({
                offset: record.offset,
                values: [record.values[column] ?? ''],
              })),
            );
            expect(read).toEqual(fromWhole);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('reads the same fields whatever the piece sizes a download arrives in', async () => {
    const bytes = Buffer.from(HAND_CSV + HAND_CSV.slice(1).repeat(3) + 'a,bø,c,d\n'.repeat(5), 'utf8');
    const expected = await collect(readRecords(piecewise(bytes, [bytes.length]), 'b', 0, bytes.length));
    for (const sizes of [[1], [2, 3], [7], [13, 1, 40], [64]])
      for (const columns of [[1], [0, 3]])
        expect(project(await fields(piecewise(bytes, sizes), { blobName: 'b', size: bytes.length }, columns), columns)).toEqual(
          project(expected, columns),
        );
  });
});

describe('records cut by the pieces a download arrives in', () => {
  it('reads the same records and columns whatever the piece sizes', async () => {
    const bytes = Buffer.from(HAND_CSV.repeat(1) + HAND_CSV.slice(1).repeat(3), 'utf8');
    const whole = piecewise(bytes, [bytes.length]);
    const expected = await collect(readRecords(whole, 'b', 0, bytes.length));
    expect(expected).toHaveLength(HAND_ROWS.length * 4);
    for (const sizes of [[1], [2, 3], [7], [13, 1, 40], [64]]) {
      const lake = piecewise(bytes, sizes);
      expect(await collect(readRecords(lake, 'b', 0, bytes.length)), `pieces of ${sizes.join(',')}`).toEqual(expected);
      for (let index = 0; index < 4; index++) {
        const column: LakeRecord[] = [];
        for await (const batch of readColumn(lake, 'b', 0, bytes.length, index))
          batch.offsets.forEach((offset, at) => column.push({ offset, values: [batch.values[at]!] }));
        expect(column).toEqual(expected.map((record) => ({ offset: record.offset, values: [record.values[index]!] })));
      }
    }
    await expect(collect(readRecords(piecewise(Buffer.from('a,b\n"c,d\n'), [3]), 'b', 0, 9))).rejects.toThrow(/Unclosed quote/);
  });
});

describe('ETag conditions', () => {
  it('fails with PartitionChangedError once the partition is rewritten', async () => {
    const blob = await put('a,b\nc,d\n');
    await container.getBlockBlobClient(blob.blobName).upload('e,f\n', 4);
    await expect(collect(readRecords(container, blob.blobName, 0, blob.size, { ifMatch: blob.etag }))).rejects.toBeInstanceOf(
      PartitionChangedError,
    );
    await expect(recordBoundaries(container, blob.blobName, blob.size, 2, { ifMatch: blob.etag })).rejects.toBeInstanceOf(
      PartitionChangedError,
    );
  });
});

describe('model.json', () => {
  it('is a clear LakeError when missing or invalid', async () => {
    const empty = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(`empty-${randomUUID().slice(0, 8)}`);
    await empty.create();
    await expect(readModel(empty)).rejects.toThrow(/has no model\.json/);
    await empty.getBlockBlobClient(MODEL_BLOB).upload('{ not json', 10);
    await expect(readModel(empty)).rejects.toBeInstanceOf(LakeError);
    const badSegment = {
      name: 'm',
      version: '1.0',
      modifiedTime: new Date().toISOString(),
      entities: [
        {
          $type: 'LocalEntity',
          name: 'Seg',
          annotations: [
            { name: ANNOTATIONS.segmentName, value: 'S' },
            { name: ANNOTATIONS.segmentType, value: 'Household' },
          ],
          attributes: [{ name: 'Id', dataType: 'string' }],
          partitions: [],
        },
      ],
    };
    const text = JSON.stringify(badSegment);
    await empty.getBlockBlobClient(MODEL_BLOB).upload(text, text.length);
    await expect(readModel(empty)).rejects.toThrow(/outflow:segmentType must be one of Profile, Contact, Account/);
  });

  it('resolves partitions by blob path, so the lake survives a new storage port or host', async () => {
    const blob = await put('x,y\n');
    const url = new URL(container.getBlockBlobClient(blob.blobName).url);
    const moved = `https://127.0.0.1:${Number(url.port) + 1}${url.pathname}`;
    expect(partitionBlobName(container, moved)).toBe(blob.blobName);
    expect(partitionBlobName(container, `https://acct.blob.core.windows.net/lake/${blob.blobName}`)).toBe(blob.blobName);
    expect(partitionBlobName(container, blob.blobName)).toBe(blob.blobName);
    expect(() => partitionBlobName(container, 'https://acct.blob.core.windows.net/other/x.csv')).toThrow(LakeError);

    const model = {
      name: 'm',
      version: '1.0',
      modifiedTime: new Date().toISOString(),
      entities: [
        {
          $type: 'LocalEntity',
          name: 'Things',
          attributes: [
            { name: 'X', dataType: 'string' },
            { name: 'Y', dataType: 'string' },
          ],
          partitions: [{ name: 'p0', location: moved }],
        },
        { $type: 'ReferenceEntity', name: 'Elsewhere', source: 'Other', modelId: 'm2' },
      ],
    };
    const lake = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('lake');
    const text = JSON.stringify(model);
    await lake.getBlockBlobClient(MODEL_BLOB).upload(text, text.length);
    const read = await readModel(lake);
    expect(read.entities.map((entity) => entity.name)).toEqual(['Things']);
    const [partition] = await partitionBlobs(lake, read.entities[0]!);
    expect(partition).toMatchObject({ blobName: blob.blobName, size: 4, etag: blob.etag });
    expect((await collect(readRecords(lake, partition!.blobName, 0, partition!.size))).map((record) => record.values)).toEqual([
      ['x', 'y'],
    ]);
  });
});
