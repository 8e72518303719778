// A member whose email appears on two rows of one segment is sent once: the planner finds the
// later rows before it cuts chunks, so two senders never both send the same email (each sender
// only sees its own chunk). Memory stays flat: the first pass keeps 8 bytes per row (a 48-bit hash
// of the email in a Float64Array), and only when two hashes meet does a second pass compare the
// emails themselves, for those hashes alone. scanSegment finds the chunk boundaries in the same
// pass, so the planner reads the segment once.
import type { ContainerClient } from '@azure/storage-blob';
import { readRecords, recordBoundaries, type PartitionBlob } from '../lake/lakeReader.js';
import { isValidEmail } from './dataMatching.js';
import { workContainer } from '../storage/clients.js';

/** Byte offsets of the rows to skip, by partition blob name (each list ascending). */
export type DuplicateRows = Map<string, number[]>;

/**
 * 48 bits of two multiplicative hashes of the email (FNV-1a and a Murmur-style mix): no
 * cryptography needed, since the second pass compares the emails of every hash that meets
 * another, so a collision costs a comparison, never a wrongly skipped member. 48 bits fit a
 * double exactly; two emails share one about once in 10^8 pairs at a million rows.
 */
function emailHash(email: string): number {
  let fnv = 0x811c9dc5;
  let mix = 0x9e3779b9;
  for (let index = 0; index < email.length; index++) {
    const code = email.charCodeAt(index);
    fnv = Math.imul(fnv ^ code, 0x01000193);
    mix = Math.imul(mix ^ code, 0x5bd1e995);
    mix ^= mix >>> 15;
  }
  return (fnv >>> 0) * 0x10000 + ((mix >>> 0) & 0xffff);
}

async function* emailsOf(
  container: ContainerClient,
  blobs: PartitionBlob[],
  emailColumn: number,
  onRecord?: (blob: PartitionBlob, offset: number) => void,
): AsyncGenerator<{ blobName: string; offset: number; email: string }> {
  for (const blob of blobs) {
    if (blob.size === 0) continue;
    const rows = readRecords(container, blob.blobName, 0, blob.size, {
      ifMatch: blob.etag,
      delimiter: blob.format.delimiter,
      columnHeaders: blob.format.columnHeaders,
    });
    for await (const row of rows) {
      onRecord?.(blob, row.offset);
      // As data matching reads it (dataMatching.ts): trimmed, lower-cased; invalid rows are skipped there.
      const email = (row.values[emailColumn] ?? '').trim().toLowerCase();
      if (isValidEmail(email)) yield { blobName: blob.blobName, offset: row.offset, email };
    }
  }
}

/** The rows of a segment's partitions whose email an earlier row (in partition and file order) has. */
export async function findDuplicateRows(container: ContainerClient, blobs: PartitionBlob[], emailColumn: number): Promise<DuplicateRows> {
  return (await scanSegment(container, blobs, emailColumn)).duplicates;
}

export interface SegmentScan {
  duplicates: DuplicateRows;
  /** Per partition blob, record starts cutting it into ranges of about `targetBytes` (as recordBoundaries cuts them). */
  cuts: Map<string, number[]>;
}

/**
 * One pass over a segment's partitions: the repeated rows (findDuplicateRows) and, when
 * `targetBytes` is given, the chunk boundaries — the first record start at or past each target,
 * exactly where recordBoundaries would cut. Without an email column there is nothing to
 * de-duplicate, and the cheaper byte scan of recordBoundaries finds the boundaries.
 */
export async function scanSegment(
  container: ContainerClient,
  blobs: PartitionBlob[],
  emailColumn: number,
  targetBytes?: number,
): Promise<SegmentScan> {
  const duplicates: DuplicateRows = new Map();
  const cuts = new Map<string, number[]>();
  if (emailColumn < 0) {
    if (targetBytes !== undefined)
      for (const blob of blobs)
        cuts.set(blob.blobName, await recordBoundaries(container, blob.blobName, blob.size, targetBytes, { ifMatch: blob.etag }));
    return { duplicates, cuts };
  }
  let hashes = new Float64Array(1024);
  let count = 0;
  let blobCuts: number[] = [];
  let nextCut = Infinity;
  const onRecord =
    targetBytes === undefined
      ? undefined
      : (blob: PartitionBlob, offset: number) => {
          if (!cuts.has(blob.blobName)) {
            blobCuts = blob.size > 0 ? [0, blob.size] : [0];
            cuts.set(blob.blobName, blobCuts);
            nextCut = targetBytes;
          }
          if (offset >= nextCut) {
            blobCuts.splice(blobCuts.length - 1, 0, offset);
            nextCut = offset + targetBytes;
          }
        };
  for await (const { email } of emailsOf(container, blobs, emailColumn, onRecord)) {
    if (count === hashes.length) {
      const grown = new Float64Array(hashes.length * 2);
      grown.set(hashes);
      hashes = grown;
    }
    hashes[count++] = emailHash(email);
  }
  if (targetBytes !== undefined)
    for (const blob of blobs) if (!cuts.has(blob.blobName)) cuts.set(blob.blobName, blob.size > 0 ? [0, blob.size] : [0]);
  const sorted = hashes.subarray(0, count).sort();
  const shared = new Set<number>();
  for (let index = 1; index < sorted.length; index++) if (sorted[index] === sorted[index - 1]) shared.add(sorted[index]!);
  hashes = new Float64Array(0);
  if (shared.size === 0) return { duplicates, cuts };

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
  return { duplicates, cuts };
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
