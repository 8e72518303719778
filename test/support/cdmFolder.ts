// Reads a CDM folder the way a data tool would: model.json first (validated against the CDM schema
// the lake uses), then every partition it lists, honouring its CSV settings.
import { createHash } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import { cdmModelSchema, type CdmModel } from '../../shared/lake/cdmModel.js';
import { partitionBlobName, readRecords } from '../../shared/lake/lakeReader.js';

export async function readJsonBlob<T = any>(container: ContainerClient, name: string): Promise<T | undefined> {
  try {
    return JSON.parse((await container.getBlobClient(name).downloadToBuffer()).toString('utf8')) as T;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw error;
  }
}

export async function readFolderModel(container: ContainerClient, folder: string): Promise<CdmModel | undefined> {
  const json = await readJsonBlob(container, `${folder}/model.json`);
  return json === undefined ? undefined : cdmModelSchema.parse(json);
}

export interface FolderRows {
  header: string[] | undefined;
  rows: string[][];
}

/** Every row of one entity of the folder, in partition order; the header row of each partition apart. */
export async function readEntityRows(container: ContainerClient, model: CdmModel, entityName: string): Promise<FolderRows> {
  const entity = model.entities.find((candidate) => candidate.name === entityName);
  if (!entity) throw new Error(`No entity ${entityName} in the folder`);
  const rows: string[][] = [];
  let header: string[] | undefined;
  for (const partition of entity.partitions) {
    const blobName = partitionBlobName(container, partition.location);
    const size = (await container.getBlobClient(blobName).getProperties()).contentLength ?? 0;
    const withHeader = partition.fileFormatSettings?.columnHeaders ?? false;
    let first = true;
    for await (const record of readRecords(container, blobName, 0, size, { delimiter: partition.fileFormatSettings?.delimiter })) {
      if (withHeader && first) {
        header ??= record.values;
        first = false;
        continue;
      }
      first = false;
      rows.push(record.values);
    }
  }
  return { header, rows };
}

/** One digest over all rows in order: equal digests mean equal rows, row for row. */
export function checksumOf(rows: string[][]): string {
  const hash = createHash('sha256');
  for (const row of rows) hash.update(JSON.stringify(row)).update('\n');
  return hash.digest('hex');
}
