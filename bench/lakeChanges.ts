// Changes one entity of a seeded lake the way an upstream refresh would: a share of rows updated
// (one attribute changed), a share removed, some added. The entity's partitions are rewritten
// under a new prefix and model.json is replaced last, as the upstream publishes a lake. Returns
// the keys of each change, so incremental data-out runs can be checked row for row.
import { randomBytes } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import { ANNOTATIONS, type CdmModelInput } from '../shared/lake/cdmModel.js';
import { MODEL_BLOB, partitionBlobs, readModel, readRecords } from '../shared/lake/lakeReader.js';
import { CsvPartitionWriter } from '../shared/dataOut/csvFiles.js';

export interface LakeChangeOptions {
  containerClient: ContainerClient;
  entity: string;
  /** Shares of rows updated and deleted (e.g. 0.01 and 0.002), and rows added. */
  updateRate: number;
  deleteRate: number;
  inserts: number;
  seed?: number;
  /** The attribute an update changes (default City). */
  changedAttribute?: string;
  /** When set, each added row gets an email of its own in this attribute (audience exports key by email). */
  emailAttribute?: string;
}

export interface LakeChanges {
  updated: Set<string>;
  deleted: Set<string>;
  inserted: Set<string>;
  rows: number;
}

/** A row's fate is a pure function of (seed, index): the same options change the same rows. */
function fraction(seed: number, index: number): number {
  let hash = Math.imul(index ^ seed, 0x9e3779b1);
  hash = Math.imul(hash ^ (hash >>> 15), 0x85ebca6b);
  hash ^= hash >>> 13;
  return (hash >>> 0) / 0x1_0000_0000;
}

export async function changeLakeEntity(options: LakeChangeOptions): Promise<LakeChanges> {
  const { containerClient } = options;
  const seed = options.seed ?? 7;
  const model = await readModel(containerClient);
  const entity = model.entities.find((candidate) => candidate.name === options.entity);
  if (!entity) throw new Error(`No entity ${options.entity} in the lake`);
  const changed = Math.max(
    0,
    entity.attributes.findIndex((attribute) => attribute.name === (options.changedAttribute ?? 'City')),
  );
  const emailColumn = options.emailAttribute ? entity.attributes.findIndex((attribute) => attribute.name === options.emailAttribute) : -1;
  const prefix = `g${new Date().toISOString().replace(/[-:.]/g, '')}-${randomBytes(3).toString('hex')}/${entity.name}/`;
  const changes: LakeChanges = { updated: new Set(), deleted: new Set(), inserted: new Set(), rows: 0 };
  const partitions: { name: string; location: string; rows: number }[] = [];
  let index = 0;
  let template: string[] | undefined;
  const blobs = await partitionBlobs(containerClient, entity);
  for (const [number, blob] of blobs.entries()) {
    const name = `part-${String(number).padStart(5, '0')}`;
    const target = containerClient.getBlockBlobClient(`${prefix}${name}.csv`);
    const writer = new CsvPartitionWriter(target, {});
    for await (const record of readRecords(containerClient, blob.blobName, 0, blob.size, {
      delimiter: blob.format.delimiter,
      columnHeaders: blob.format.columnHeaders,
    })) {
      const at = fraction(seed, index++);
      const key = record.values[0]!;
      template ??= record.values;
      if (at < options.deleteRate) {
        changes.deleted.add(key);
        continue;
      }
      const values = [...record.values];
      if (at < options.deleteRate + options.updateRate) {
        values[changed] = `${values[changed]} (moved)`;
        changes.updated.add(key);
      }
      const wait = writer.write(values);
      if (wait) await wait;
    }
    // New rows go at the end of the last partition.
    if (number === blobs.length - 1) {
      for (let added = 0; added < options.inserts; added++) {
        const key = `00000000-0000-4000-8000-${String(seed * 1_000_000 + added).padStart(12, '0')}`;
        changes.inserted.add(key);
        const values = [...(template ?? entity.attributes.map(() => ''))];
        values[0] = key;
        if (emailColumn >= 0) values[emailColumn] = `joined-${seed}-${added}@bench.example.com`;
        const wait = writer.write(values);
        if (wait) await wait;
      }
    }
    await writer.finish();
    changes.rows += writer.rows;
    partitions.push({ name, location: target.url, rows: writer.rows });
  }

  const modifiedTime = new Date().toISOString();
  const next: CdmModelInput = {
    ...model,
    modifiedTime,
    entities: model.entities.map((candidate) =>
      candidate.name !== entity.name
        ? candidate
        : {
            ...candidate,
            // A segment entity's member count follows its rows too.
            annotations: (candidate.annotations ?? []).some((item) => item.name === ANNOTATIONS.memberCount)
              ? [
                  ...(candidate.annotations ?? []).filter(
                    (item) => item.name !== ANNOTATIONS.rowCount && item.name !== ANNOTATIONS.memberCount,
                  ),
                  { name: ANNOTATIONS.rowCount, value: String(changes.rows) },
                  { name: ANNOTATIONS.memberCount, value: String(changes.rows) },
                ]
              : [
                  ...(candidate.annotations ?? []).filter((item) => item.name !== ANNOTATIONS.rowCount),
                  { name: ANNOTATIONS.rowCount, value: String(changes.rows) },
                ],
            partitions: partitions.map((partition, number) => ({
              ...candidate.partitions[number],
              name: partition.name,
              location: partition.location,
              refreshTime: modifiedTime,
              annotations: [{ name: ANNOTATIONS.rowCount, value: String(partition.rows) }],
            })),
          },
    ),
  };
  const text = JSON.stringify(next, null, 2);
  await containerClient
    .getBlockBlobClient(MODEL_BLOB)
    .upload(text, Buffer.byteLength(text), { blobHTTPHeaders: { blobContentType: 'application/json; charset=utf-8' } });
  return changes;
}
