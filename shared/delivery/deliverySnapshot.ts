// The snapshot `changes` delivery and removals compare with: per segment export, what the
// destination has accepted, as key → hash of the mapped values (plus what removing the member
// needs: its segment, email and mapped fields). Kept in Outflow's working container as CSV blobs,
// one per key bucket, like data-out's row-hash snapshots, so one bucket is in memory at a time.
//
//   delivery/{exportId}/snapshot.json                          pointer {runId, buckets, fingerprint}
//   delivery/{exportId}/runs/{runId}/base/b{n}.csv             the state the run started from
//   delivery/{exportId}/runs/{runId}/accepted/b{n}/{chunk}-{offset}.csv
//                                                              what the destination took, batch by batch
//   delivery/{exportId}/runs/{runId}/accepted/b{n}/r{time}-{retryRunId}-{chunk}-{offset}.csv
//                                                              what a later retry run's batches added
//
// The state of a committed run is its base with its accepted batches applied in name order
// (sent → set, removed → deleted). A batch's file is written before the ledger acknowledges it
// and is named after the chunk and the batch's first row, so a batch sent again after a crash
// writes the same file again: the state is the same whatever the retries. The pointer moves only
// when a run ends succeeded or partially succeeded; a run that fails leaves it where it was. A
// retry run (retryOf) adds its accepted batches to the committed run's own, named after the
// retry's start so they apply after that run's batches and after earlier retries'; a retry that
// does not end succeeded or partially succeeded takes them out again.
import type { ContainerClient } from '@azure/storage-blob';
import { stringify } from 'csv-stringify/sync';
import pLimit from 'p-limit';
import { workContainer } from '../storage/clients.js';
import { readRecords } from '../lake/lakeReader.js';
import { memberBucket } from './memberDiff.js';

export interface SnapshotEntry {
  hash: string;
  /** The segment (list) the member was delivered for. */
  segmentId: string;
  email: string;
  /** The mapped fields as JSON, for a removal call that needs more than the email. */
  fields: string;
}

export interface SnapshotPointer {
  runId: string;
  /** Key-hash buckets of the run's files (a power of two). */
  buckets: number;
  /** What the snapshot was made for (segments, mapping, details): another one starts a full run. */
  fingerprint: string;
  committedAt: string;
}

export type AcceptedOperation = 'sent' | 'removed';

const exportPrefix = (exportId: string) => `delivery/${exportId}/`;
const runPrefix = (exportId: string, runId: string) => `${exportPrefix(exportId)}runs/${runId}/`;
const bucketName = (bucket: number) => `b${String(bucket).padStart(5, '0')}`;
export const basePath = (exportId: string, runId: string, bucket: number) => `${runPrefix(exportId, runId)}base/${bucketName(bucket)}.csv`;
const acceptedPrefix = (exportId: string, runId: string, bucket: number) => `${runPrefix(exportId, runId)}accepted/${bucketName(bucket)}/`;
const pointerPath = (exportId: string) => `${exportPrefix(exportId)}snapshot.json`;

export async function readSnapshotPointer(exportId: string): Promise<SnapshotPointer | undefined> {
  try {
    const buffer = await (await workContainer()).getBlobClient(pointerPath(exportId)).downloadToBuffer();
    return JSON.parse(buffer.toString('utf8')) as SnapshotPointer;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw error;
  }
}

/**
 * The snapshot's entries of one bucket of `buckets` (≥ the pointer's: buckets only split).
 * Entries come from the committed run's base, then its accepted batches in order.
 */
export async function loadSnapshotBucket(
  exportId: string,
  pointer: SnapshotPointer,
  bucket: number,
  buckets: number,
): Promise<Map<string, SnapshotEntry>> {
  const container = await workContainer();
  const source = bucket & (pointer.buckets - 1);
  // Entries split by the same rule that filed the run's rows (memberBucket), or a member would be
  // looked for in one bucket and found missing — "left" — in another.
  const mine = (key: string, email: string) => buckets === pointer.buckets || memberBucket(key, email, buckets) === bucket;
  const entries = new Map<string, SnapshotEntry>();
  for (const blob of await listBlobs(container, basePath(exportId, pointer.runId, source))) {
    for await (const record of readRecords(container, blob.name, 0, blob.size)) {
      const [key, hash, segmentId, email, fields] = record.values as [string, string, string, string, string];
      if (mine(key, email)) entries.set(key, { hash, segmentId, email, fields });
    }
  }
  for (const blob of await listBlobs(container, acceptedPrefix(exportId, pointer.runId, source))) {
    for await (const record of readRecords(container, blob.name, 0, blob.size)) {
      const [operation, key, hash, segmentId, email, fields] = record.values as [AcceptedOperation, string, string, string, string, string];
      if (!mine(key, email)) continue;
      if (operation === 'removed') entries.delete(key);
      else entries.set(key, { hash, segmentId, email, fields });
    }
  }
  return entries;
}

export interface AcceptedMember extends SnapshotEntry {
  key: string;
}

/** Records what the destination accepted of one batch (before the batch is acknowledged). */
export async function recordAccepted(
  exportId: string,
  runId: string,
  bucket: number,
  batchId: string,
  operation: AcceptedOperation,
  members: AcceptedMember[],
): Promise<void> {
  if (members.length === 0) return;
  const text = stringify(members.map((member) => [operation, member.key, member.hash, member.segmentId, member.email, member.fields]));
  const name = `${acceptedPrefix(exportId, runId, bucket)}${batchId}.csv`;
  await (
    await workContainer()
  )
    .getBlockBlobClient(name)
    .upload(text, Buffer.byteLength(text), { blobHTTPHeaders: { blobContentType: 'text/csv; charset=utf-8' } });
}

/** Points the export at this run's snapshot and drops every older one. */
export async function commitSnapshot(exportId: string, pointer: SnapshotPointer): Promise<void> {
  const container = await workContainer();
  const text = JSON.stringify(pointer);
  await container
    .getBlockBlobClient(pointerPath(exportId))
    .upload(text, Buffer.byteLength(text), { blobHTTPHeaders: { blobContentType: 'application/json' } });
  const own = runPrefix(exportId, pointer.runId);
  await deleteBlobs(
    container,
    (await listBlobs(container, `${exportPrefix(exportId)}runs/`)).map((blob) => blob.name).filter((name) => !name.startsWith(own)),
  );
}

/** A run that does not commit: its own snapshot files go, the committed snapshot stays. */
export async function discardRunSnapshot(exportId: string, runId: string): Promise<void> {
  const container = await workContainer();
  const pointer = await readSnapshotPointer(exportId);
  if (pointer?.runId === runId) return;
  await deleteBlobs(
    container,
    (await listBlobs(container, runPrefix(exportId, runId))).map((blob) => blob.name),
  );
}

/** A retry run that did not deliver: the batches it added to the committed run's snapshot go. */
export async function discardRetryBatches(exportId: string, snapshotRunId: string, batchPrefix: string): Promise<void> {
  const container = await workContainer();
  const prefix = `${runPrefix(exportId, snapshotRunId)}accepted/`;
  await deleteBlobs(
    container,
    (await listBlobs(container, prefix))
      .map((blob) => blob.name)
      .filter((name) => name.slice(name.lastIndexOf('/') + 1).startsWith(batchPrefix)),
  );
}

/** The export is gone: so is everything it delivered from. */
export async function deleteExportSnapshot(exportId: string): Promise<void> {
  const container = await workContainer();
  await deleteBlobs(
    container,
    (await listBlobs(container, exportPrefix(exportId))).map((blob) => blob.name),
  );
}

async function listBlobs(container: ContainerClient, prefix: string): Promise<{ name: string; size: number }[]> {
  const blobs: { name: string; size: number }[] = [];
  for await (const blob of container.listBlobsFlat({ prefix }))
    if ((blob.properties.contentLength ?? 0) > 0) blobs.push({ name: blob.name, size: blob.properties.contentLength ?? 0 });
  return blobs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

async function deleteBlobs(container: ContainerClient, names: string[]): Promise<void> {
  const limit = pLimit(16);
  await Promise.all(
    names.map((name) =>
      limit(() =>
        container.deleteBlob(name).catch((error: { statusCode?: number }) => {
          if (error.statusCode !== 404) throw error;
        }),
      ),
    ),
  );
}
