// The pure parts of data-out planning: mapping → columns, the key column, buckets and names.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  bucketOf,
  bucketsFor,
  copyChunkId,
  exportFolderOf,
  folderNameOf,
  mergeChunkId,
  PUBLISH_CHUNK_ID,
  resolveColumns,
  rowHash,
  stepOf,
  withKeyColumn,
  type SourceEntity,
} from '../../shared/dataOut/dataOutPlan.js';
import { chunkIdFor } from '../../shared/runs/runLedger.js';

const profile: SourceEntity = {
  name: 'UnifiedCustomerProfile',
  attributes: [
    { name: 'CustomerId', dataType: 'guid' },
    { name: 'FirstName', dataType: 'string' },
    { name: 'Email', dataType: 'string' },
    { name: 'City', dataType: 'string' },
  ],
};
const contact: SourceEntity = {
  name: 'Contact',
  attributes: [
    { name: 'ContactId', dataType: 'guid' },
    { name: 'Email', dataType: 'string' },
  ],
};

const shape = (columns: { name: string; source: string; sourceIndex: number }[] | undefined) =>
  columns?.map(({ name, source, sourceIndex }) => [name, source, sourceIndex]);

describe('resolveColumns', () => {
  it('writes every attribute under its own name without a mapping', () => {
    const { columns, errors } = resolveColumns([profile], {});
    expect(errors).toEqual([]);
    expect(shape(columns.get('UnifiedCustomerProfile'))).toEqual([
      ['CustomerId', 'CustomerId', 0],
      ['FirstName', 'FirstName', 1],
      ['Email', 'Email', 2],
      ['City', 'City', 3],
    ]);
  });

  it("selects and renames, in the mapping's order", () => {
    const { columns } = resolveColumns([profile], { mail: 'Email', id: 'CustomerId' });
    expect(shape(columns.get('UnifiedCustomerProfile'))).toEqual([
      ['mail', 'Email', 2],
      ['id', 'CustomerId', 0],
    ]);
    expect(columns.get('UnifiedCustomerProfile')![0]!.dataType).toBe('string');
  });

  it('applies plain names to every entity that has them, qualified ones to one', () => {
    const { columns, errors } = resolveColumns([profile, contact], { mail: 'Email', key: 'Contact.ContactId' });
    expect(errors).toEqual([]);
    expect(shape(columns.get('UnifiedCustomerProfile'))).toEqual([['mail', 'Email', 2]]);
    expect(shape(columns.get('Contact'))).toEqual([
      ['mail', 'Email', 1],
      ['key', 'ContactId', 0],
    ]);
  });

  it('leaves an entity no entry applies to whole', () => {
    const { columns } = resolveColumns([profile, contact], { city: 'City' });
    expect(shape(columns.get('UnifiedCustomerProfile'))).toEqual([['city', 'City', 3]]);
    expect(columns.get('Contact')).toHaveLength(2);
  });

  it('names the mapping entries that fit no entity', () => {
    const { errors } = resolveColumns([profile, contact], { a: 'Nope', b: 'Contact.City' });
    expect(errors.map((error) => error.path)).toEqual(['body.mapping.a', 'body.mapping.b']);
    expect(errors[1]!.message).toContain("'Contact'");
  });
});

describe('withKeyColumn', () => {
  it('uses the mapped key column, or the first attribute added under its own name', () => {
    const mapped = resolveColumns([profile], { id: 'CustomerId', mail: 'Email' }).columns.get('UnifiedCustomerProfile')!;
    expect(withKeyColumn(profile, mapped, undefined)).toMatchObject({ keyColumn: 0 });
    const withoutKey = resolveColumns([profile], { mail: 'Email' }).columns.get('UnifiedCustomerProfile')!;
    const keyed = withKeyColumn(profile, withoutKey, undefined);
    expect('columns' in keyed && shape(keyed.columns)).toEqual([
      ['CustomerId', 'CustomerId', 0],
      ['mail', 'Email', 2],
    ]);
    expect(withKeyColumn(profile, withoutKey, 'Email')).toMatchObject({ keyColumn: 0 });
  });

  it('refuses an unknown key and a key whose name another column took', () => {
    expect(withKeyColumn(profile, [], 'Nope')).toMatchObject({ error: { path: 'body.details.keys.UnifiedCustomerProfile' } });
    const clash = resolveColumns([profile], { CustomerId: 'Email' }).columns.get('UnifiedCustomerProfile')!;
    expect(withKeyColumn(profile, clash, undefined)).toHaveProperty('error');
  });
});

describe('buckets and hashes', () => {
  it('sizes buckets to about 16 MB, in powers of two that never shrink below the last snapshot', () => {
    expect(bucketsFor(0)).toBe(1);
    expect(bucketsFor(15 * 1024 * 1024)).toBe(1);
    expect(bucketsFor(230 * 1024 * 1024)).toBe(16);
    expect(bucketsFor(10 * 1024 * 1024, 4)).toBe(4);
    expect(bucketsFor(1e15)).toBe(1024);
  });

  it('puts a key in bucket b of 2n buckets only if it was in bucket b mod n of n', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 0, max: 9 }), (key, power) => {
        const small = 2 ** power;
        expect(bucketOf(key, small * 2) & (small - 1)).toBe(bucketOf(key, small));
      }),
    );
  });

  it('hashes rows so that any field change shows', () => {
    expect(rowHash(['a', 'b'])).toBe(rowHash(['a', 'b']));
    expect(rowHash(['a', 'b'])).not.toBe(rowHash(['ab', '']));
    expect(rowHash(['a', 'b'])).not.toBe(rowHash(['a', 'c']));
  });
});

describe('chunk ids and names', () => {
  it('reads the step, entity and part or bucket from a data-out chunk id', () => {
    expect(stepOf(chunkIdFor(3))).toBeUndefined();
    expect(stepOf(copyChunkId(2, 17))).toEqual({ kind: 'copy', entity: 2, part: 17 });
    expect(stepOf(mergeChunkId(0, 1023))).toEqual({ kind: 'merge', entity: 0, bucket: 1023 });
    expect(stepOf(PUBLISH_CHUNK_ID)).toEqual({ kind: 'publish' });
  });

  it('names folders by time and run, and export folders safely', () => {
    expect(folderNameOf('8236019958123-1a2b3c4d', '2026-05-01T10:20:30.123Z')).toBe('20260501T102030Z-1a2b3c4d');
    expect(exportFolderOf('cdp/out', 'Weekly: all/VIP?', 'x')).toBe('cdp/out/Weekly_ all_VIP_');
    expect(exportFolderOf(undefined, '...', 'export-id')).toBe('export-id');
  });
});
