// The in-process export list stays correct with several instances writing: two caches on two
// clients of one Azurite table stand for two app instances. Writers tell their copy after each
// write (`written`), as the export store does; the store's own writes are checked last.
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { TableClient, odata } from '@azure/data-tables';
import { ExportListCache } from '../../shared/exports/exportListCache.js';
import { deleteExportRow, insertExport, replaceExport } from '../../shared/exports/exportStore.js';
import { TABLES } from '../../shared/storage/names.js';
import { exportRecord } from '../support/engineRecords.js';
import { useLocalServices } from '../support/localServices.js';

interface Row {
  id: string;
  name: string;
}

const local = useLocalServices();
let instanceA: { client: TableClient; cache: ExportListCache<Row> };
let instanceB: { client: TableClient; cache: ExportListCache<Row> };

function instance(fullReloadMs?: number, tableName = 'exportcache'): { client: TableClient; cache: ExportListCache<Row> } {
  const client = TableClient.fromConnectionString(local.azurite.connectionString, tableName, { allowInsecureConnection: true });
  const toRow = (entity: { rowKey?: string; name?: unknown }): Row => ({ id: entity.rowKey!, name: String(entity.name) });
  const cache = new ExportListCache<Row>(
    {
      partition: 'export',
      readAll: async (table) => {
        const rows: Row[] = [];
        for await (const entity of table.listEntities({ queryOptions: { filter: odata`PartitionKey eq 'export'` } }))
          rows.push(toRow(entity));
        return rows;
      },
      readChangedSince: async (table, since) => {
        const rows: Row[] = [];
        for await (const entity of table.listEntities({
          queryOptions: { filter: odata`PartitionKey eq 'export' and Timestamp ge ${since}` },
        }))
          rows.push(toRow(entity));
        return rows;
      },
      idOf: (row) => row.id,
    },
    fullReloadMs,
  );
  return { client, cache };
}

/** A write by one instance, then the telling of its copy, as the export store does. */
async function write(
  which: { client: TableClient; cache: ExportListCache<Row> },
  action: (client: TableClient) => Promise<unknown>,
  deleted: string[] = [],
): Promise<void> {
  await action(which.client);
  await which.cache.written(which.client, deleted);
}

const names = async (which: { client: TableClient; cache: ExportListCache<Row> }) =>
  (await which.cache.list(which.client)).map((row) => row.name).sort();

beforeAll(async () => {
  instanceA = instance();
  instanceB = instance();
  await instanceA.client.createTable();
});

describe('the export list cache', () => {
  it('reads in full once, then serves from memory while nothing changes', async () => {
    await write(instanceA, (client) => client.createEntity({ partitionKey: 'export', rowKey: 'e1', name: 'one' }));
    await write(instanceA, (client) => client.createEntity({ partitionKey: 'export', rowKey: 'e2', name: 'two' }));
    expect(await names(instanceB)).toEqual(['one', 'two']);
    expect(await names(instanceB)).toEqual(['one', 'two']);
    expect(instanceB.cache.stats).toMatchObject({ full: 1, hits: 1 });
  });

  it("sees another instance's create, update and delete, reading only what changed", async () => {
    await write(instanceA, (client) => client.createEntity({ partitionKey: 'export', rowKey: 'e3', name: 'three' }));
    await write(instanceA, (client) => client.updateEntity({ partitionKey: 'export', rowKey: 'e1', name: 'one renamed' }, 'Merge'));
    await write(instanceA, (client) => client.deleteEntity('export', 'e2'), ['e2']);
    expect(await names(instanceB)).toEqual(['one renamed', 'three']);
    expect(instanceB.cache.stats.full).toBe(1);
    expect(instanceB.cache.stats.incremental).toBe(1);
  });

  it('sees the writes of a transaction, a delete included', async () => {
    await write(
      instanceA,
      (client) =>
        client.submitTransaction([
          ['update', { partitionKey: 'export', rowKey: 'e1', name: 'one again' }, 'Merge'],
          ['delete', { partitionKey: 'export', rowKey: 'e3' }],
          ['create', { partitionKey: 'export', rowKey: "e'4", name: 'four' }],
        ]),
      ['e3'],
    );
    expect(await names(instanceB)).toEqual(['four', 'one again']);
    expect(await names(instanceA)).toEqual(['four', 'one again']);
  });

  it('sees its own writes at once', async () => {
    await write(instanceB, (client) => client.upsertEntity({ partitionKey: 'export', rowKey: 'e5', name: 'five' }));
    expect(await names(instanceB)).toEqual(['five', 'four', 'one again']);
  });

  it('hands out copies: changing one changes nothing cached', async () => {
    const [first] = await instanceB.cache.list(instanceB.client);
    first!.name = 'changed by a caller';
    expect(await names(instanceB)).not.toContain('changed by a caller');
  });

  it('catches up with a write whose version bump never came, by reading in full off the request path', async () => {
    const slowToTrust = instance(300);
    expect(await names(slowToTrust)).toEqual(['five', 'four', 'one again']);
    // A write nobody told the copies of: as if its writer died between the write and the bump.
    await slowToTrust.client.upsertEntity({ partitionKey: 'export', rowKey: 'e6', name: 'six' });
    expect(await names(slowToTrust)).toEqual(['five', 'four', 'one again']);
    await new Promise((resolve) => setTimeout(resolve, 350));
    // This read is answered from the copy at once and starts the full read.
    expect(await names(slowToTrust)).toEqual(['five', 'four', 'one again']);
    const deadline = Date.now() + 5_000;
    while (slowToTrust.cache.stats.full < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await names(slowToTrust)).toEqual(['five', 'four', 'one again', 'six']);
  });

  it('is told of every write of the export store: another instance sees a create, an update and a delete', async () => {
    const other = instance(undefined, TABLES.exports);
    const record = await insertExport(exportRecord({ id: randomUUID(), name: 'Stored' }));
    expect(await names(other)).toContain('Stored');
    const renamed = await replaceExport({ ...record, name: 'Stored and renamed' }, record.etag);
    expect(await names(other)).toContain('Stored and renamed');
    await deleteExportRow(record.id, renamed.etag);
    expect(await names(other)).not.toContain('Stored and renamed');
    // Caught up from what changed (the version row and tombstones), not read again in full.
    expect(other.cache.stats).toMatchObject({ full: 1, incremental: 2 });
  });
});
