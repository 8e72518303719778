// Reads every row of a lake segment, for tests that compare what a destination received.
import { BlobServiceClient } from '@azure/storage-blob';
import { listSegments, partitionBlobs, readModel, readRecords } from '../../shared/lake/lakeReader.js';

export async function segmentRows(connectionString: string, segmentName: string, container = 'lake'): Promise<Record<string, string>[]> {
  const containerClient = BlobServiceClient.fromConnectionString(connectionString).getContainerClient(container);
  const model = await readModel(containerClient);
  const segment = listSegments(model).find((candidate) => candidate.name === segmentName);
  if (!segment) throw new Error(`No segment named ${segmentName}`);
  const names = segment.entity.attributes.map((attribute) => attribute.name);
  const rows: Record<string, string>[] = [];
  for (const blob of await partitionBlobs(containerClient, segment.entity)) {
    for await (const record of readRecords(containerClient, blob.blobName, 0, blob.size)) {
      rows.push(Object.fromEntries(names.map((name, index) => [name, record.values[index] ?? ''])));
    }
  }
  return rows;
}
