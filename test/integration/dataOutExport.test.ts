// Data-out exports over the real local stack: an entity (and a segment) written as a CDM folder to
// a container of the app's Azurite, re-read row for row; the mapping and header setting; latest.json;
// the allow-list; a host killed mid-run; incremental runs after the lake changed, and fullResync.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { startTestStack, type TestStack } from '../support/testStack.js';
import { eventually } from '../support/apiClient.js';
import { checksumOf, readEntityRows, readFolderModel, readJsonBlob } from '../support/cdmFolder.js';
import { partitionBlobs, readModel, readRecords } from '../../shared/lake/lakeReader.js';
import { changeLakeEntity, type LakeChanges } from '../../bench/lakeChanges.js';
import { DEV_ACCOUNT } from '../../local/azurite.js';
import type { CdmModel } from '../../shared/lake/cdmModel.js';

// DATAOUT_TEST_PROFILES=1000000 runs the same checks on a million rows (about ten minutes here).
const PROFILES = Number(process.env.DATAOUT_TEST_PROFILES ?? 50_000);
const ENTITY = 'UnifiedCustomerProfile';
const TERMINAL = ['succeeded', 'partiallySucceeded', 'failed', 'skipped', 'cancelled'];

let stack: TestStack;
let lake: ContainerClient;
let exportsContainer: ContainerClient;
let connectionId: string;

beforeAll(async () => {
  // A short queue lease: after the host is killed, its messages come back in seconds, not a minute.
  stack = await startTestStack({ seedProfiles: PROFILES, seedKind: 'b2c', settings: { OUTFLOW_QUEUE_LEASE_SECONDS: '10' } });
  const service = BlobServiceClient.fromConnectionString(stack.azurite.connectionString);
  lake = service.getContainerClient('lake');
  exportsContainer = service.getContainerClient('exports');
  await exportsContainer.create();
});

afterAll(async () => {
  await stack?.stop();
});

const accountUrl = () => `http://127.0.0.1:${stack.azurite.blobPort}/${DEV_ACCOUNT}`;

async function lakeRows(entityName: string, columns?: string[]): Promise<string[][]> {
  const model = await readModel(lake);
  const entity = model.entities.find((candidate) => candidate.name === entityName)!;
  const indexes = (columns ?? entity.attributes.map((attribute) => attribute.name)).map((name) =>
    entity.attributes.findIndex((attribute) => attribute.name === name),
  );
  const rows: string[][] = [];
  for (const blob of await partitionBlobs(lake, entity)) {
    for await (const record of readRecords(lake, blob.blobName, 0, blob.size))
      rows.push(indexes.map((index) => record.values[index] ?? ''));
  }
  return rows;
}

async function createExport(body: Record<string, unknown>): Promise<string> {
  const response = await stack.api.post('/exports', { connectionId, ...body });
  expect(response.status, response.text).toBe(201);
  return response.body.id;
}

async function waitForRun(exportId: string, runId: string, timeoutMs = 60_000) {
  return eventually(
    async () => {
      const response = await stack.api.get(`/exports/${exportId}/runs/${runId}`);
      return TERMINAL.includes(response.body.status) ? response.body : undefined;
    },
    { timeoutMs, what: `run ${runId} to end` },
  );
}

async function runToEnd(exportId: string, body?: unknown) {
  const started = await stack.api.post(`/exports/${exportId}/runs`, body);
  expect(started.status, started.text).toBe(202);
  return waitForRun(exportId, started.body.runId);
}

/** The folder latest.json points at, with its model. */
async function latestFolder(exportFolder: string): Promise<{ latest: any; folder: string; model: CdmModel }> {
  const latest = await readJsonBlob(exportsContainer, `${exportFolder}/latest.json`);
  expect(latest).toBeDefined();
  const folder = `${exportFolder}/${latest.folder}`;
  const model = await readFolderModel(exportsContainer, folder);
  expect(model).toBeDefined();
  return { latest, folder, model: model! };
}

const annotationOf = (holder: { annotations?: { name: string; value: string }[] }, name: string) =>
  holder.annotations?.find((item) => item.name === name)?.value;

describe('the azure-blob connection', () => {
  it('refuses account URLs outside the storage endpoints, naming the field', async () => {
    for (const url of [
      'https://evil.example',
      'http://169.254.169.254/metadata',
      `http://127.0.0.1:${stack.azurite.queuePort}/${DEV_ACCOUNT}`,
      'https://acct.blob.core.windows.net.evil.example',
    ]) {
      const response = await stack.api.post('/connections', {
        name: 'Bad',
        type: 'azure-blob',
        settings: { accountUrl: url, container: 'exports' },
        privacyConsent: true,
      });
      expect(response.status, url).toBe(400);
      expect(response.body.errors.map((error: { path: string }) => error.path)).toEqual(['body.settings.accountUrl']);
    }
  });

  it("connects to the app's own storage and passes the connection test", async () => {
    const created = await stack.api.post('/connections', {
      name: 'Data lake',
      type: 'azure-blob',
      settings: { accountUrl: accountUrl(), container: 'exports', folder: 'cdp' },
      privacyConsent: true,
    });
    expect(created.status, created.text).toBe(201);
    connectionId = created.body.id;
    expect((await stack.api.post(`/connections/${connectionId}/test`)).body).toEqual({ ok: true });
    const catalog = (await stack.api.get('/destinations')).body.find((entry: { type: string }) => entry.type === 'azure-blob');
    expect(catalog).toMatchObject({ exportKinds: ['dataOut', 'segment'], eligibleSegmentTypes: ['Profile', 'Contact', 'Account'] });
  });
});

describe('a full data-out export', () => {
  it('writes the entity as a CDM folder that reads back row for row', async () => {
    const exportId = await createExport({ name: 'Profiles', kind: 'dataOut', entities: [ENTITY] });
    const run = await runToEnd(exportId);
    expect(run.status, run.reason).toBe('succeeded');
    expect(run.counts).toEqual({ members: PROFILES, sent: PROFILES, succeeded: PROFILES, failed: 0, skipped: 0 });
    expect(run.tasks.find((task: { name: string }) => task.name === 'send').detail).toContain(
      `${ENTITY}: ${PROFILES.toLocaleString('en-US')} rows`,
    );

    const { latest, folder, model } = await latestFolder('cdp/Profiles');
    expect(latest).toMatchObject({ exportId, runId: run.id, mode: 'full' });
    expect(folder).toMatch(/^cdp\/Profiles\/\d{8}T\d{6}Z-[0-9a-f]{8}$/);
    expect(annotationOf(model, 'outflow:runId')).toBe(run.id);
    expect(annotationOf(model, 'outflow:exportMode')).toBe('full');
    expect(annotationOf(model, 'outflow:sourceGeneration')).toMatch(/^g\d{8}T/);

    const lakeModel = await readModel(lake);
    const source = lakeModel.entities.find((entity) => entity.name === ENTITY)!;
    const [entity] = model.entities;
    expect(model.entities).toHaveLength(1);
    expect(entity!.attributes.map((attribute) => [attribute.name, attribute.dataType])).toEqual(
      source.attributes.map((attribute) => [attribute.name, attribute.dataType]),
    );
    expect(entity!.partitions.length).toBeGreaterThan(1);
    for (const partition of entity!.partitions) {
      expect(partition.location.startsWith(`${accountUrl()}/exports/${folder}/${ENTITY}/`)).toBe(true);
      expect(partition.fileFormatSettings).toMatchObject({ columnHeaders: false, delimiter: ',' });
    }
    expect(Number(annotationOf(entity!, 'outflow:rowCount'))).toBe(PROFILES);

    const written = await readEntityRows(exportsContainer, model, ENTITY);
    const expected = await lakeRows(ENTITY);
    expect(written.header).toBeUndefined();
    expect(written.rows.length).toBe(expected.length);
    expect(checksumOf(written.rows)).toBe(checksumOf(expected));
  });

  it('applies the mapping (selection and renaming) and writes a header when asked', async () => {
    const exportId = await createExport({
      name: 'Profiles mapped',
      kind: 'dataOut',
      entities: [ENTITY],
      mapping: { Id: 'CustomerId', Mail: 'Email', Town: 'City' },
      details: { includeHeader: true },
    });
    const run = await runToEnd(exportId);
    expect(run.status, run.reason).toBe('succeeded');
    const { model } = await latestFolder('cdp/Profiles mapped');
    const entity = model.entities[0]!;
    expect(
      entity.attributes.map((attribute) => [attribute.name, attribute.dataType, annotationOf(attribute, 'outflow:sourceAttribute')]),
    ).toEqual([
      ['Id', 'guid', 'CustomerId'],
      ['Mail', 'string', 'Email'],
      ['Town', 'string', 'City'],
    ]);
    expect(entity.partitions.every((partition) => partition.fileFormatSettings?.columnHeaders === true)).toBe(true);
    const written = await readEntityRows(exportsContainer, model, ENTITY);
    expect(written.header).toEqual(['Id', 'Mail', 'Town']);
    expect(checksumOf(written.rows)).toBe(checksumOf(await lakeRows(ENTITY, ['CustomerId', 'Email', 'City'])));
  });

  it('exports a segment to storage in the same folder format', async () => {
    const exportId = await createExport({ name: 'VIP', segments: ['Segment_VIP'], mapping: { Email: 'Email', FirstName: 'FirstName' } });
    const run = await runToEnd(exportId);
    expect(run.status, run.reason).toBe('succeeded');
    const { model } = await latestFolder('cdp/VIP');
    expect(model.entities.map((entity) => entity.name)).toEqual(['Segment_VIP']);
    expect(annotationOf(model.entities[0]!, 'outflow:sourceSegmentName')).toBe('VIP');
    const expected = await lakeRows('Segment_VIP', ['Email', 'FirstName']);
    expect(expected.length).toBeGreaterThan(0);
    expect(run.counts.succeeded).toBe(expected.length);
    expect(checksumOf((await readEntityRows(exportsContainer, model, 'Segment_VIP')).rows)).toBe(checksumOf(expected));
  });
});

describe('an interrupted run', () => {
  it('leaves no readable half-folder, and finishes after the host restarts', async () => {
    const exportId = await createExport({ name: 'Crash', kind: 'dataOut', entities: [ENTITY, 'Segment_AllCustomers'] });
    const started = await stack.api.post(`/exports/${exportId}/runs`);
    expect(started.status).toBe(202);
    // Kill as soon as the first block of a partition is staged: the folder is half written.
    await eventually(
      async () => {
        for await (const blob of exportsContainer.listBlobsFlat({ prefix: 'cdp/Crash/', includeUncommitedBlobs: true })) return blob.name;
        return undefined;
      },
      { timeoutMs: 30_000, intervalMs: 20, what: 'the first partition of the run' },
    );
    await stack.killHost();
    const folders = new Set<string>();
    for await (const blob of exportsContainer.listBlobsFlat({ prefix: 'cdp/Crash/', includeUncommitedBlobs: true }))
      folders.add(blob.name.split('/')[2]!);
    expect(folders.size).toBe(1);
    const [folderName] = [...folders];
    expect(await readJsonBlob(exportsContainer, `cdp/Crash/${folderName}/model.json`)).toBeUndefined();
    expect(await readJsonBlob(exportsContainer, 'cdp/Crash/latest.json')).toBeUndefined();

    await stack.restartHost();
    const run = await waitForRun(exportId, started.body.runId, 120_000);
    expect(run.status, run.reason).toBe('succeeded');
    const { latest, model } = await latestFolder('cdp/Crash');
    expect(latest.folder).toBe(folderName);
    for (const entity of [ENTITY, 'Segment_AllCustomers']) {
      expect(checksumOf((await readEntityRows(exportsContainer, model, entity)).rows), entity).toBe(checksumOf(await lakeRows(entity)));
    }
  }, 180_000);
});

describe('a cancelled run', () => {
  it('publishes nothing and removes what it had written', async () => {
    const exportId = await createExport({ name: 'Cancelled', kind: 'dataOut', entities: [ENTITY, 'Segment_AllCustomers'] });
    const started = await stack.api.post(`/exports/${exportId}/runs`);
    await eventually(
      async () => {
        for await (const blob of exportsContainer.listBlobsFlat({ prefix: 'cdp/Cancelled/', includeUncommitedBlobs: true }))
          return blob.name;
        return undefined;
      },
      { timeoutMs: 30_000, intervalMs: 20, what: 'the first partition of the run' },
    );
    expect((await stack.api.post(`/exports/${exportId}/runs/${started.body.runId}/cancel`)).status).toBe(202);
    const run = await waitForRun(exportId, started.body.runId);
    expect(run.status).toBe('cancelled');
    const left: string[] = [];
    for await (const blob of exportsContainer.listBlobsFlat({ prefix: 'cdp/Cancelled/' })) left.push(blob.name);
    expect(left).toEqual([]);
  });
});

describe('incremental runs', () => {
  let exportId: string;
  let firstRunId: string;
  let changes: LakeChanges;

  it('start with a full run that keeps a snapshot', async () => {
    exportId = await createExport({
      name: 'Profiles incremental',
      kind: 'dataOut',
      entities: [ENTITY],
      mapping: { Id: 'CustomerId', Mail: 'Email', Town: 'City' },
      details: { mode: 'incremental' },
    });
    const run = await runToEnd(exportId);
    expect(run.status, run.reason).toBe('succeeded');
    firstRunId = run.id;
    expect(run.tasks.find((task: { name: string }) => task.name === 'plan').detail).toContain('first run');
    const { model } = await latestFolder('cdp/Profiles incremental');
    expect(annotationOf(model, 'outflow:exportMode')).toBe('full');
    expect(annotationOf(model.entities[0]!, 'outflow:keyAttribute')).toBe('Id');
  });

  it('then write only the rows that changed, with their operation', async () => {
    changes = await changeLakeEntity({ containerClient: lake, entity: ENTITY, updateRate: 0.01, deleteRate: 0.002, inserts: 150 });
    expect(changes.updated.size).toBeGreaterThan(PROFILES * 0.008);
    const run = await runToEnd(exportId);
    expect(run.status, run.reason).toBe('succeeded');
    const total = changes.updated.size + changes.deleted.size + changes.inserted.size;
    expect(run.counts).toMatchObject({ members: changes.rows, sent: total, succeeded: total, failed: 0, skipped: 0 });

    const { latest, model } = await latestFolder('cdp/Profiles incremental');
    expect(latest).toMatchObject({ runId: run.id, mode: 'incremental' });
    expect(annotationOf(model, 'outflow:exportMode')).toBe('incremental');
    expect(annotationOf(model, 'outflow:baseRunId')).toBe(firstRunId);
    const entity = model.entities[0]!;
    expect(entity.attributes.map((attribute) => attribute.name)).toEqual(['_operation', 'Id', 'Mail', 'Town']);
    expect([
      annotationOf(entity, 'outflow:inserts'),
      annotationOf(entity, 'outflow:updates'),
      annotationOf(entity, 'outflow:deletes'),
    ]).toEqual([changes.inserted.size, changes.updated.size, changes.deleted.size].map(String));

    const rows = (await readEntityRows(exportsContainer, model, ENTITY)).rows;
    const keysOf = (operation: string) => new Set(rows.filter((row) => row[0] === operation).map((row) => row[1]));
    expect(rows).toHaveLength(total);
    expect(keysOf('insert')).toEqual(changes.inserted);
    expect(keysOf('update')).toEqual(changes.updated);
    expect(keysOf('delete')).toEqual(changes.deleted);
    // Updates carry the new values; deletes only the key.
    const current = new Map((await lakeRows(ENTITY, ['CustomerId', 'Email', 'City'])).map((row) => [row[0], row]));
    for (const row of rows.filter((candidate) => candidate[0] === 'update')) expect(row.slice(1)).toEqual(current.get(row[1]!));
    for (const row of rows.filter((candidate) => candidate[0] === 'delete')) expect(row.slice(2)).toEqual(['', '']);
  });

  it('write nothing when nothing changed, and everything on fullResync', async () => {
    const quiet = await runToEnd(exportId);
    expect(quiet.status, quiet.reason).toBe('succeeded');
    expect(quiet.counts).toMatchObject({ members: changes.rows, sent: 0, succeeded: 0 });
    const { model: quietModel } = await latestFolder('cdp/Profiles incremental');
    expect(quietModel.entities[0]!.partitions).toEqual([]);

    const bad = await stack.api.post(`/exports/${exportId}/runs`, { fullResync: 'yes' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((error: { path: string }) => error.path)).toEqual(['body.fullResync']);

    const full = await runToEnd(exportId, { fullResync: true });
    expect(full.status, full.reason).toBe('succeeded');
    expect(full.counts).toMatchObject({ members: changes.rows, sent: changes.rows, succeeded: changes.rows });
    expect(full.tasks.find((task: { name: string }) => task.name === 'plan').detail).toContain('full resync');
    const { model } = await latestFolder('cdp/Profiles incremental');
    expect(annotationOf(model, 'outflow:exportMode')).toBe('full');
    expect(checksumOf((await readEntityRows(exportsContainer, model, ENTITY)).rows)).toBe(
      checksumOf(await lakeRows(ENTITY, ['CustomerId', 'Email', 'City'])),
    );
    // The request was answered: the next run compares again.
    const next = await runToEnd(exportId);
    expect(next.counts.sent).toBe(0);
  });
});

describe('checking a data-out export when it is saved', () => {
  it('names an entity the lake does not have, and a mapping source no chosen entity has', async () => {
    const response = await stack.api.post('/exports', {
      connectionId,
      name: 'Bad',
      kind: 'dataOut',
      entities: [ENTITY, 'NoSuchEntity'],
      mapping: { Mail: 'EmailAddress' },
    });
    expect(response.status).toBe(400);
    expect(response.body.errors.map((error: { path: string }) => error.path)).toEqual(['body.entities.1', 'body.mapping.Mail']);
  });

  it('lets a segment export to storage name its own columns', async () => {
    const response = await stack.api.post('/exports', {
      connectionId,
      name: 'Own columns',
      segments: ['Segment_VIP'],
      mapping: { 'E-mail address': 'Email', Surname: 'LastName' },
    });
    expect(response.status, response.text).toBe(201);
  });
});
