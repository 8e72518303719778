// The in-process export list stays correct with several instances writing: two caches on two
// clients of one Azurite table stand for two app instances.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TableClient, odata } from '@azure/data-tables';
import { startAzurite, type RunningAzurite } from '../../local/azurite.js';
import { ExportListCache, exportWrite } from '../../shared/exports/exportListCache.js';

interface Row {
  id: string;
  name: string;
}

let azurite: RunningAzurite;
let instanceA: { client: TableClient; cache: ExportListCache<Row> };
let instanceB: { client: TableClient; cache: ExportListCache<Row> };

function instance(fullReloadMs?: number): { client: TableClient; cache: ExportListCache<Row> } {
  const client = TableClient.fromConnectionString(azurite.connectionString, 'exportcache', { allowInsecureConnection: true });
  const toRow = (entity: { rowKey?: string; name?: unknown }): Row => ({ id: entity.rowKey!, name: String(entity.name) });
  const cache = new ExportListCache<Row>({
    partition: 'export',
    readAll: async (table) => {
      const rows: Row[] = [];
      for await (const entity of table.listEntities({ queryOptions: { filter: odata`PartitionKey eq 'export'` } })) rows.push(toRow(entity));
      return rows;
    },
    readChangedSince: async (table, since) => {
      const rows: Row[] = [];
      for await (const entity of table.listEntities({ queryOptions: { filter: odata`PartitionKey eq 'export' and Timestamp ge ${since}` } })) rows.push(toRow(entity));
      return rows;
    },
    idOf: (row) => row.id,
  }, fullReloadMs);
  cache.watch(client);
  return { client, cache };
}

const names = async (which: { client: TableClient; cache: ExportListCache<Row> }) => (await which.cache.list(which.client)).map((row) => row.name).sort();

beforeAll(async () => {
  azurite = await startAzurite();
  instanceA = instance();
  instanceB = instance();
  await instanceA.client.createTable();
});

afterAll(async () => {
  await azurite?.stop();
});

describe('the export list cache', () => {
  it('reads in full once, then serves from memory while nothing changes', async () => {
    await instanceA.client.createEntity({ partitionKey: 'export', rowKey: 'e1', name: 'one' });
    await instanceA.client.createEntity({ partitionKey: 'export', rowKey: 'e2', name: 'two' });
    expect(await names(instanceB)).toEqual(['one', 'two']);
    expect(await names(instanceB)).toEqual(['one', 'two']);
    expect(instanceB.cache.stats).toMatchObject({ full: 1, hits: 1 });
  });

  it('sees another instance\'s create, update and delete, reading only what changed', async () => {
    await instanceA.client.createEntity({ partitionKey: 'export', rowKey: 'e3', name: 'three' });
    await instanceA.client.updateEntity({ partitionKey: 'export', rowKey: 'e1', name: 'one renamed' }, 'Merge');
    await instanceA.client.deleteEntity('export', 'e2');
    expect(await names(instanceB)).toEqual(['one renamed', 'three']);
    expect(instanceB.cache.stats.full).toBe(1);
    expect(instanceB.cache.stats.incremental).toBe(1);
  });

  it('sees writes made in a transaction by code that bypasses the store', async () => {
    await instanceA.client.submitTransaction([
      ['update', { partitionKey: 'export', rowKey: 'e1', name: 'one again' }, 'Merge'],
      ['delete', { partitionKey: 'export', rowKey: 'e3' }],
      ['create', { partitionKey: 'export', rowKey: "e'4", name: 'four' }],
    ]);
    expect(await names(instanceB)).toEqual(['four', 'one again']);
    expect(await names(instanceA)).toEqual(['four', 'one again']);
  });

  it('sees its own writes at once', async () => {
    await instanceB.client.upsertEntity({ partitionKey: 'export', rowKey: 'e5', name: 'five' });
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
    // A client without the policy: as if its writer died between the write and the bump.
    const unwatched = TableClient.fromConnectionString(azurite.connectionString, 'exportcache', { allowInsecureConnection: true });
    await unwatched.upsertEntity({ partitionKey: 'export', rowKey: 'e6', name: 'six' });
    expect(await names(slowToTrust)).toEqual(['five', 'four', 'one again']);
    await new Promise((resolve) => setTimeout(resolve, 350));
    // This read is answered from the copy at once and starts the full read.
    expect(await names(slowToTrust)).toEqual(['five', 'four', 'one again']);
    const deadline = Date.now() + 5_000;
    while (slowToTrust.cache.stats.full < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await names(slowToTrust)).toEqual(['five', 'four', 'one again', 'six']);
  });

  it('tells export writes from other requests', () => {
    const base = 'http://127.0.0.1:10002/devstoreaccount1';
    expect(exportWrite({ method: 'GET', url: `${base}/exports()`, body: undefined }, 'export')).toBeUndefined();
    expect(exportWrite({ method: 'POST', url: `${base}/Tables`, body: '{"TableName":"exports"}' }, 'export')).toBeUndefined();
    expect(exportWrite({ method: 'POST', url: `${base}/exports`, body: '{"PartitionKey":"export","RowKey":"a"}' }, 'export')).toEqual({ deleted: [] });
    expect(exportWrite({ method: 'PUT', url: `${base}/exports(PartitionKey='exportListVersion',RowKey='version')`, body: '{}' }, 'export')).toBeUndefined();
    expect(exportWrite({ method: 'DELETE', url: `${base}/exports(PartitionKey=%27export%27,RowKey=%27a%27%27b%27)`, body: undefined }, 'export')).toEqual({ deleted: ["a'b"] });
  });
});
