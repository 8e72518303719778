// Several segments going to one list: the planner writes their union, de-duplicated by email,
// as one working file of the run, so a member in two segments is sent to the list once.
import { PassThrough } from 'node:stream';
import { stringify } from 'csv-stringify';
import type { ContainerClient } from '@azure/storage-blob';
import { lakeContainer, workContainer } from '../storage/clients.js';
import { readRecords, type PartitionBlob } from '../lake/lakeReader.js';
import { rowEmail } from './dataMatching.js';

export interface UnionSource {
  attributes: string[];
  blobs: PartitionBlob[];
}

export interface UnionFile {
  blobName: string;
  size: number;
  etag: string;
  memberCount: number;
  /** Rows left out because a member with the same email came first. */
  duplicates: number;
}

/** Thrown when the union alone is over the destination's limit (nothing is written). */
export class UnionOverLimit extends Error {
  constructor(readonly limit: number) {
    super(`more than ${limit} distinct members`);
  }
}

export async function writeSegmentUnion(runId: string, sources: UnionSource[], emailAttribute: string, limit: number): Promise<UnionFile> {
  const container = await workContainer();
  const blobName = `runs/${runId}/members.csv`;
  const blob = container.getBlockBlobClient(blobName);
  // A re-delivered planner reuses the file: its chunks may already be reading it by ETag.
  const existing = await blob.getProperties().catch(() => undefined);
  if (existing?.metadata?.membercount) return describe(blobName, existing, existing.metadata);

  const columns = sources[0]!.attributes;
  const seen = new Set<string>();
  let duplicates = 0;
  let members = 0;
  const csv = stringify();
  const body = new PassThrough();
  csv.pipe(body);
  const upload = blob.uploadStream(body, 4 * 1024 * 1024, 4, { blobHTTPHeaders: { blobContentType: 'text/csv' } });
  try {
    for (const source of sources) {
      const positions = columns.map((column) => source.attributes.indexOf(column));
      const emailAt = source.attributes.indexOf(emailAttribute);
      for (const partition of source.blobs) {
        for await (const record of readRecords(lakeContainer(), partition.blobName, 0, partition.size, {
          ifMatch: partition.etag,
          delimiter: partition.format.delimiter,
          columnHeaders: partition.format.columnHeaders,
        })) {
          const email = rowEmail(record.values, emailAt);
          if (email) {
            if (seen.has(email)) {
              duplicates++;
              continue;
            }
            seen.add(email);
          }
          if (++members > limit) throw new UnionOverLimit(limit);
          const row = positions.map((position) => (position >= 0 ? (record.values[position] ?? '') : ''));
          if (!csv.write(row)) await new Promise((resolve) => csv.once('drain', resolve));
        }
      }
    }
    csv.end();
    await upload;
  } catch (error) {
    csv.destroy();
    body.destroy();
    await upload.catch(() => undefined);
    throw error;
  }
  const metadata = { membercount: String(members), duplicates: String(duplicates) };
  await blob.setMetadata(metadata);
  return describe(blobName, await blob.getProperties(), metadata);
}

function describe(blobName: string, properties: { contentLength?: number; etag?: string }, metadata: Record<string, string>): UnionFile {
  return {
    blobName,
    size: properties.contentLength ?? 0,
    etag: properties.etag ?? '',
    memberCount: Number(metadata.membercount),
    duplicates: Number(metadata.duplicates ?? 0),
  };
}

export type { ContainerClient };
