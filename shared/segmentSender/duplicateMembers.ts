// A member whose email appears on two rows of one segment is sent once: the planner finds the
// later rows before it cuts chunks, so two senders never both send the same email (each sender
// only sees its own chunk). Memory stays flat: the first pass keeps 8 bytes per row (a 48-bit hash
// of the email in a Float64Array), and only when two hashes meet does a second pass compare the
// emails themselves, for those hashes alone.
import { createHash } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import { readRecords, type PartitionBlob } from '../lake/lakeReader.js';
import { isValidEmail } from './dataMatching.js';
import { workContainer } from '../storage/clients.js';

/** Byte offsets of the rows to skip, by partition blob name (each list ascending). */
export type DuplicateRows = Map<string, number[]>;

function emailHash(email: string): number {
  // 48 bits fit a double exactly; two emails share one about once in 10^8 pairs at a million rows,
  // and the second pass makes such a meeting harmless.
  return createHash('md5').update(email).digest().readUIntBE(0, 6);
}

async function* emailsOf(
  container: ContainerClient,
  blobs: PartitionBlob[],
  emailColumn: number,
): AsyncGenerator<{ blobName: string; offset: number; email: string }> {
  for (const blob of blobs) {
    if (blob.size === 0) continue;
    const rows = readRecords(container, blob.blobName, 0, blob.size, {
      ifMatch: blob.etag,
      delimiter: blob.format.delimiter,
      columnHeaders: blob.format.columnHeaders,
    });
    for await (const row of rows) {
      // As data matching reads it (dataMatching.ts): trimmed, lower-cased; invalid rows are skipped there.
      const email = (row.values[emailColumn] ?? '').trim().toLowerCase();
      if (isValidEmail(email)) yield { blobName: blob.blobName, offset: row.offset, email };
    }
  }
}

/** The rows of a segment's partitions whose email an earlier row (in partition and file order) has. */
export async function findDuplicateRows(container: ContainerClient, blobs: PartitionBlob[], emailColumn: number): Promise<DuplicateRows> {
  const duplicates: DuplicateRows = new Map();
  if (emailColumn < 0) return duplicates;
  let hashes = new Float64Array(1024);
  let count = 0;
  for await (const { email } of emailsOf(container, blobs, emailColumn)) {
    if (count === hashes.length) {
      const grown = new Float64Array(hashes.length * 2);
      grown.set(hashes);
      hashes = grown;
    }
    hashes[count++] = emailHash(email);
  }
  const sorted = hashes.subarray(0, count).sort();
  const shared = new Set<number>();
  for (let index = 1; index < sorted.length; index++) if (sorted[index] === sorted[index - 1]) shared.add(sorted[index]!);
  hashes = new Float64Array(0);
  if (shared.size === 0) return duplicates;

  const seen = new Set<string>();
  for await (const { blobName, offset, email } of emailsOf(container, blobs, emailColumn)) {
    if (!shared.has(emailHash(email))) continue;
    if (!seen.has(email)) {
      seen.add(email);
      continue;
    }
    const offsets = duplicates.get(blobName) ?? [];
    offsets.push(offset);
    duplicates.set(blobName, offsets);
  }
  return duplicates;
}

/** The duplicate rows inside one chunk's byte range. */
export function duplicatesIn(duplicates: DuplicateRows, blobName: string, start: number, end: number): number[] {
  return (duplicates.get(blobName) ?? []).filter((offset) => offset >= start && offset < end);
}

function blobNameFor(runId: string, chunkId: string): string {
  return `runs/${runId}/duplicates/${chunkId}.json`;
}

/** Kept with the run's other working files (deleted when it ends). */
export async function saveChunkDuplicates(runId: string, chunkId: string, offsets: number[]): Promise<void> {
  const body = JSON.stringify(offsets);
  await (
    await workContainer()
  )
    .getBlockBlobClient(blobNameFor(runId, chunkId))
    .upload(body, Buffer.byteLength(body), { blobHTTPHeaders: { blobContentType: 'application/json' } });
}

export async function loadChunkDuplicates(runId: string, chunkId: string): Promise<Set<number>> {
  const buffer = await (await workContainer()).getBlockBlobClient(blobNameFor(runId, chunkId)).downloadToBuffer();
  return new Set(JSON.parse(buffer.toString('utf8')) as number[]);
}
