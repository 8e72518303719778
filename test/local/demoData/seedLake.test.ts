// The seeded lake against an in-memory Azurite: deterministic per seed, a valid model.json whose
// annotations match the partitions, the segments the product promises, and generation clean-up.
import { randomUUID } from 'node:crypto';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../../local/azurite.js';
import { ANNOTATIONS, annotation, cdmModelSchema, type CdmLocalEntity } from '../../../shared/lake/cdmModel.js';
import { ACCOUNT_ENTITY, ALL_CUSTOMERS, CONTACT_ENTITY, PROFILE_ENTITY } from '../../../local/demoData/generateProfiles.js';
import { findEntity, listEntities, listSegments, MODEL_BLOB, partitionBlobs, readModel } from '../../../shared/lake/lakeReader.js';
import { seedLake, type SeedLakeOptions } from '../../../local/demoData/seedLake.js';

let azurite: RunningAzurite;
let service: BlobServiceClient;

beforeAll(async () => {
  azurite = await startAzurite();
  service = BlobServiceClient.fromConnectionString(azurite.connectionString);
});
afterAll(async () => {
  await azurite?.stop();
});

async function freshContainer(): Promise<ContainerClient> {
  const container = service.getContainerClient(`lake-${randomUUID().slice(0, 8)}`);
  await container.create();
  return container;
}

async function seed(options: Omit<SeedLakeOptions, 'containerClient'>, container?: ContainerClient) {
  const containerClient = container ?? (await freshContainer());
  const result = await seedLake({ containerClient, ...options });
  return { container: containerClient, result };
}

/** Every row of an entity, in partition order, parsed independently of the lake reader. */
async function rowsOf(container: ContainerClient, entity: CdmLocalEntity): Promise<string[][]> {
  const rows: string[][] = [];
  for (const blob of await partitionBlobs(container, entity)) {
    const text = (await container.getBlobClient(blob.blobName).downloadToBuffer()).toString('utf8');
    rows.push(...(parse(text, { relax_column_count: false }) as string[][]));
  }
  return rows;
}

async function blobTexts(container: ContainerClient): Promise<Map<string, string>> {
  // Keyed by the path below the generation prefix, which differs between runs by design.
  const texts = new Map<string, string>();
  for await (const blob of container.listBlobsFlat()) {
    if (blob.name === MODEL_BLOB) continue;
    texts.set(blob.name.slice(blob.name.indexOf('/') + 1), (await container.getBlobClient(blob.name).downloadToBuffer()).toString('utf8'));
  }
  return texts;
}

describe('seedLake (b2c)', () => {
  const profiles = 1_500;
  let container: ContainerClient;

  beforeAll(async () => {
    ({ container } = await seed({ profiles, kind: 'b2c', seed: 42, rowsPerPartition: 400, invalidEmailRate: 0.02 }));
  });

  it('writes the same rows for the same seed, and other rows for another seed', async () => {
    const again = await seed({ profiles, kind: 'b2c', seed: 42, rowsPerPartition: 400, invalidEmailRate: 0.02 });
    const other = await seed({ profiles, kind: 'b2c', seed: 43, rowsPerPartition: 400, invalidEmailRate: 0.02 });
    const first = await blobTexts(container);
    expect(first.size).toBeGreaterThan(6);
    expect(await blobTexts(again.container)).toEqual(first);
    const different = await blobTexts(other.container);
    expect(different.get('UnifiedCustomerProfile/part-00000.csv')).not.toEqual(first.get('UnifiedCustomerProfile/part-00000.csv'));
  });

  it('writes a model.json that validates, with partitions and CSV settings', async () => {
    const raw = JSON.parse((await container.getBlobClient(MODEL_BLOB).downloadToBuffer()).toString('utf8'));
    expect(cdmModelSchema.safeParse(raw).success).toBe(true);
    expect(raw.version).toBe('1.0');
    const model = await readModel(container);
    expect(listEntities(model).map((entity) => entity.name)).toEqual(['UnifiedCustomerProfile']);
    const profile = findEntity(model, 'UnifiedCustomerProfile')!;
    expect(profile.attributes).toEqual(PROFILE_ENTITY.attributes);
    expect(profile.partitions).toHaveLength(Math.ceil(profiles / 400));
    for (const partition of profile.partitions) {
      expect(partition.fileFormatSettings).toMatchObject({ $type: 'CsvFormatSettings', columnHeaders: false, delimiter: ',' });
      expect(partition.location).toMatch(
        /^http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1\/lake-[^/]+\/g\d{8}T\d{9}Z-[0-9a-f]+\/UnifiedCustomerProfile\/part-\d{5}\.csv$/,
      );
    }
  });

  it('annotates every segment with its name, type and a member count equal to its rows', async () => {
    const model = await readModel(container);
    const segments = listSegments(model);
    expect(segments.map((segment) => segment.name)).toEqual([ALL_CUSTOMERS, 'Loyal members', 'Newsletter Norway', 'Lapsed buyers', 'VIP']);
    for (const segment of segments) {
      expect(segment.type).toBe('Profile');
      expect(segment.entity.attributes).toEqual(PROFILE_ENTITY.attributes);
      const rows = await rowsOf(container, segment.entity);
      expect(rows.length).toBe(segment.memberCount);
      expect(annotation(segment.entity, ANNOTATIONS.sourceEntity)).toBe('UnifiedCustomerProfile');
      const partitionCounts = segment.entity.partitions.map((partition) => Number(annotation(partition, ANNOTATIONS.rowCount)));
      expect(partitionCounts.reduce((a, b) => a + b, 0)).toBe(rows.length);
      expect(Math.max(...partitionCounts)).toBeLessThanOrEqual(400);
    }
    const smaller = segments.filter((segment) => segment.name !== ALL_CUSTOMERS);
    for (const segment of smaller) {
      expect(segment.memberCount).toBeGreaterThan(0);
      expect(segment.memberCount).toBeLessThan(profiles);
    }
  });

  it('puts every profile in "All customers", and segment rows are full profile rows', async () => {
    const model = await readModel(container);
    const profileRows = await rowsOf(container, findEntity(model, 'UnifiedCustomerProfile')!);
    const all = listSegments(model).find((segment) => segment.name === ALL_CUSTOMERS)!;
    expect(all.memberCount).toBe(profiles);
    expect(await rowsOf(container, all.entity)).toEqual(profileRows);
    const byId = new Map(profileRows.map((row) => [row[0], row]));
    expect(byId.size).toBe(profiles);
    const loyal = listSegments(model).find((segment) => segment.name === 'Loyal members')!;
    for (const row of await rowsOf(container, loyal.entity)) {
      expect(byId.get(row[0])).toEqual(row);
      expect(['Silver', 'Gold', 'Platinum']).toContain(row[13]);
    }
  });

  it('generates realistic rows: unique emails, non-ASCII names, quoted commas and quotes, some invalid emails', async () => {
    const model = await readModel(container);
    const entity = findEntity(model, 'UnifiedCustomerProfile')!;
    const rows = await rowsOf(container, entity);
    const column = (name: string) => entity.attributes.findIndex((attribute) => attribute.name === name);
    const emails = rows.map((row) => row[column('Email')]!);
    const valid = emails.map((email) => email.trim().toLowerCase()).filter((email) => /^[^@\s]+@[^@\s]+\.[a-z]+$/.test(email));
    expect(new Set(valid).size).toBe(valid.length);
    const invalid = emails.length - valid.length;
    expect(invalid).toBeGreaterThan(0);
    expect(invalid).toBeLessThan(emails.length * 0.06);
    expect(emails.some((email) => email !== email.trim())).toBe(true);
    expect(emails.some((email) => email !== email.toLowerCase() && email.includes('@'))).toBe(true);
    const names = rows.map((row) => row[column('FullName')]!).join('\n');
    expect(names).toMatch(/[øåæÅØÆ]/);
    const addresses = rows.map((row) => row[column('AddressLine1')]!);
    expect(addresses.some((address) => address.includes(','))).toBe(true);
    expect(addresses.some((address) => address.includes('"'))).toBe(true);
    // The raw CSV must quote those fields (RFC 4180), doubling embedded quotes.
    const firstBlob = (await partitionBlobs(container, entity))[0]!;
    const raw = (await container.getBlobClient(firstBlob.blobName).downloadToBuffer()).toString('utf8');
    expect(raw).toMatch(/,"[^",\n]*, [^"\n]*",/);
    expect(raw).toContain('""');
  });

  it('has no invalid emails by default', async () => {
    const { container: clean } = await seed({ profiles: 800, kind: 'b2c', seed: 5 });
    const model = await readModel(clean);
    const rows = await rowsOf(clean, findEntity(model, 'UnifiedCustomerProfile')!);
    expect(rows.every((row) => /^[^@\s]+@[^@\s]+$/.test(row[4]!.trim()))).toBe(true);
  });
});

describe('seedLake (b2b)', () => {
  it('writes contacts, accounts, contact segments and account segments', async () => {
    const contacts = 1_200;
    const { container, result } = await seed({ profiles: contacts, kind: 'b2b', seed: 7, rowsPerPartition: 500 });
    const model = await readModel(container);
    expect(
      listEntities(model)
        .map((entity) => entity.name)
        .sort(),
    ).toEqual(['Account', 'Contact']);
    const segments = listSegments(model);
    const all = segments.find((segment) => segment.name === ALL_CUSTOMERS)!;
    expect(all.type).toBe('Contact');
    expect(all.memberCount).toBe(contacts);
    expect(all.entity.attributes).toEqual(CONTACT_ENTITY.attributes);
    expect(segments.filter((segment) => segment.type === 'Contact').length).toBeGreaterThanOrEqual(2);
    const accountSegments = segments.filter((segment) => segment.type === 'Account');
    expect(accountSegments.map((segment) => segment.name)).toContain('Enterprise accounts');

    const accounts = await rowsOf(container, findEntity(model, 'Account')!);
    expect(accounts.length).toBe(120);
    const accountIds = new Set(accounts.map((row) => row[0]));
    for (const segment of accountSegments) {
      expect(segment.entity.attributes).toEqual(ACCOUNT_ENTITY.attributes);
      const rows = await rowsOf(container, segment.entity);
      expect(rows.length).toBe(segment.memberCount);
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.every((row) => accountIds.has(row[0]))).toBe(true);
    }
    const enterprise = await rowsOf(container, accountSegments.find((segment) => segment.name === 'Enterprise accounts')!.entity);
    expect(enterprise.every((row) => Number(row[4]) >= 1_000)).toBe(true);

    const contactRows = await rowsOf(container, findEntity(model, 'Contact')!);
    expect(contactRows.every((row) => accountIds.has(row[1]))).toBe(true);
    const domains = new Map(accounts.map((row) => [row[0], row[2]]));
    expect(
      contactRows.filter((row) =>
        row[5]!
          .trim()
          .toLowerCase()
          .endsWith(`@${domains.get(row[1])}`),
      ).length,
    ).toBeGreaterThan(contacts * 0.95);
    expect(result.entities.find((entity) => entity.name === 'Contact')!.partitions).toHaveLength(3);
  });
});

describe('seedLake failures', () => {
  it('rejects instead of hanging when uploads fail', async () => {
    const missing = service.getContainerClient(`missing-${randomUUID().slice(0, 8)}`);
    await expect(
      seedLake({ containerClient: missing, profiles: 5_000, kind: 'b2c', seed: 1, rowsPerPartition: 1_000 }),
    ).rejects.toMatchObject({ statusCode: 404 });
  });
});

describe('lake generations', () => {
  it('keeps the previous generation and removes an older one only after two newer ones exist', async () => {
    const container = await freshContainer();
    const generations = async () => {
      const names: string[] = [];
      for await (const item of container.listBlobsByHierarchy('/')) if (item.kind === 'prefix') names.push(item.name.slice(0, -1));
      return names.sort();
    };
    const first = (await seed({ profiles: 30, kind: 'b2c', seed: 1 }, container)).result;
    const second = (await seed({ profiles: 30, kind: 'b2c', seed: 2 }, container)).result;
    expect(await generations()).toEqual([first.generation, second.generation].sort());
    expect(second.removedGenerations).toEqual([]);
    const third = (await seed({ profiles: 30, kind: 'b2c', seed: 3 }, container)).result;
    expect(third.removedGenerations).toEqual([first.generation]);
    expect(await generations()).toEqual([second.generation, third.generation].sort());
    const model = await readModel(container);
    expect(annotation(model, ANNOTATIONS.generation)).toBe(third.generation);
    for (const entity of model.entities) {
      for (const partition of entity.partitions) expect(partition.location).toContain(`/${third.generation}/`);
    }
  });
});
