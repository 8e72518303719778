// A member whose email appears on two rows of one segment is sent once: the planner finds the
// later rows before it cuts their chunks, so two senders never both send the same email (each
// sender only sees its own chunk). The first row keeps the email, so a partition's repeated rows
// are known once it and the partitions before it have been read (hashesMeeting,
// repeatedRowsOfPartition): its chunks are queued while the rest of the segment is read. Memory stays flat: the first pass keeps 8 bytes per row (a 48-bit hash
// of the email in a Float64Array), and only when two hashes meet does a second pass compare the
// emails themselves, for those hashes alone. scanSegment finds the chunk boundaries in the same
// pass, so the planner reads the segment once.
import type { ContainerClient } from '@azure/storage-blob';
import { readColumn, recordBoundaries, type PartitionBlob } from '../lake/lakeReader.js';
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

/** An email as data matching reads it (dataMatching.ts): trimmed, lower-cased; undefined for an invalid one (skipped there). */
function matchedEmail(value: string): string | undefined {
  const email = value.trim().toLowerCase();
  return isValidEmail(email) ? email : undefined;
}

/**
 * The rows of the partitions with a valid email, a downloaded piece at a time. Only the email
 * column is decoded (readColumn): the planner's passes read a fraction of what the senders do.
 */
async function* emailsOf(
  container: ContainerClient,
  blobs: PartitionBlob[],
  emailColumn: number,
): AsyncGenerator<{ blobName: string; offsets: number[]; emails: string[] }> {
  for (const blob of blobs) {
    if (blob.size === 0) continue;
    const batches = readColumn(container, blob.blobName, 0, blob.size, emailColumn, {
      ifMatch: blob.etag,
      delimiter: blob.format.delimiter,
      columnHeaders: blob.format.columnHeaders,
    });
    for await (const { offsets, values } of batches) {
      const valid = { blobName: blob.blobName, offsets: [] as number[], emails: [] as string[] };
      for (let index = 0; index < offsets.length; index++) {
        const email = matchedEmail(values[index]!);
        if (email === undefined) continue;
        valid.offsets.push(offsets[index]!);
        valid.emails.push(email);
      }
      yield valid;
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
  const cuts = new Map<string, number[]>();
  if (emailColumn < 0) {
    if (targetBytes !== undefined)
      for (const blob of blobs)
        cuts.set(blob.blobName, await recordBoundaries(container, blob.blobName, blob.size, targetBytes, { ifMatch: blob.etag }));
    return { duplicates: new Map(), cuts };
  }
  const hashes: { blobName: string; hashes: Float64Array }[] = [];
  for (const blob of blobs) {
    const stretch = await scanPartitionStretch(container, blob, emailColumn, targetBytes ?? Infinity, scanStart(targetBytes ?? Infinity));
    hashes.push({ blobName: blob.blobName, hashes: stretch.hashes });
    if (targetBytes !== undefined) cuts.set(blob.blobName, blob.size > 0 ? [0, ...stretch.cuts, blob.size] : [0]);
  }
  return { duplicates: await repeatedRowsOf(container, blobs, emailColumn, hashes), cuts };
}

/** Where the scan of one partition stands: the next record to read and where the next cut may fall. */
export interface ScanPosition {
  offset: number;
  nextCut: number;
}

export const scanStart = (targetBytes: number): ScanPosition => ({ offset: 0, nextCut: targetBytes });

/** What one stretch of a partition's scan found. */
export interface PartitionStretch {
  /** The email hashes of its rows with a valid email, in file order. */
  hashes: Float64Array;
  /** Record starts at or past each cut target: where chunks begin (0 and the end are not among them). */
  cuts: number[];
  /** Where the next stretch starts; `offset` is the partition's size once it has been read to the end. */
  next: ScanPosition;
}

/** Rows read between two looks at the clock: a stretch reads at least this many. */
const ROWS_PER_LOOK = 500;

/**
 * Scans a partition from `from` to its end, or until `stop()` says so (asked every few thousand
 * rows, after the first), so that a planner short of time can keep what it found and go on from
 * `next` in another invocation. Stretch by stretch, the cuts are those one pass would find.
 */
export async function scanPartitionStretch(
  container: ContainerClient,
  blob: PartitionBlob,
  emailColumn: number,
  targetBytes: number,
  from: ScanPosition,
  stop: () => boolean = () => false,
): Promise<PartitionStretch> {
  let hashes = new Float64Array(1024);
  let count = 0;
  const cuts: number[] = [];
  let nextCut = from.nextCut;
  let rows = 0;
  let stoppedAt: number | undefined;
  if (from.offset < blob.size) {
    // Only the email column is decoded (readColumn), a downloaded piece at a time.
    const batches = readColumn(container, blob.blobName, from.offset, blob.size, emailColumn, {
      ifMatch: blob.etag,
      delimiter: blob.format.delimiter,
      columnHeaders: blob.format.columnHeaders,
    });
    pieces: for await (const { offsets, values } of batches) {
      for (let index = 0; index < offsets.length; index++) {
        const offset = offsets[index]!;
        if (++rows % ROWS_PER_LOOK === 0 && stop()) {
          stoppedAt = offset;
          break pieces;
        }
        if (offset >= nextCut) {
          cuts.push(offset);
          nextCut = offset + targetBytes;
        }
        const email = matchedEmail(values[index]!);
        if (email === undefined) continue;
        if (count === hashes.length) {
          const grown = new Float64Array(hashes.length * 2);
          grown.set(hashes);
          hashes = grown;
        }
        hashes[count++] = emailHash(email);
      }
    }
  }
  return { hashes: hashes.slice(0, count), cuts, next: { offset: stoppedAt ?? blob.size, nextCut } };
}

/** The hashes found more than once among all of a segment's. */
export function sharedHashes(parts: Float64Array[]): Set<number> {
  const all = new Float64Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  all.sort();
  const shared = new Set<number>();
  for (let index = 1; index < all.length; index++) if (all[index] === all[index - 1]) shared.add(all[index]!);
  return shared;
}

/**
 * The repeated rows, given every row's email hash by partition (a partition may come in several
 * stretches): only the partitions holding a hash that meets another are read again, comparing
 * the emails of those hashes alone.
 */
export async function repeatedRowsOf(
  container: ContainerClient,
  blobs: PartitionBlob[],
  emailColumn: number,
  hashes: { blobName: string; hashes: Float64Array }[],
): Promise<DuplicateRows> {
  const duplicates: DuplicateRows = new Map();
  const shared = sharedHashes(hashes.map((part) => part.hashes));
  if (shared.size === 0) return duplicates;
  const holding = new Set(hashes.filter((part) => part.hashes.some((hash) => shared.has(hash))).map((part) => part.blobName));
  const seen = new Set<string>();
  for await (const { blobName, offsets, emails } of emailsOf(
    container,
    blobs.filter((blob) => holding.has(blob.blobName)),
    emailColumn,
  )) {
    for (let index = 0; index < emails.length; index++) {
      const email = emails[index]!;
      if (!shared.has(emailHash(email))) continue;
      if (!seen.has(email)) {
        seen.add(email);
        continue;
      }
      const repeated = duplicates.get(blobName) ?? [];
      repeated.push(offsets[index]!);
      duplicates.set(blobName, repeated);
    }
  }
  return duplicates;
}

/** Sorted ascending (a copy). */
export function sortedHashes(hashes: Float64Array): Float64Array {
  return new Float64Array(hashes).sort();
}

/**
 * The hashes of a partition's rows (`part`, sorted) that an earlier partition has (`earlier`,
 * sorted) or that the partition itself has twice: only rows with one of these can repeat an
 * earlier row's email. One walk over both arrays.
 */
export function hashesMeeting(earlier: Float64Array, part: Float64Array): Set<number> {
  const meeting = new Set<number>();
  let at = 0;
  for (let index = 0; index < part.length; index++) {
    const hash = part[index]!;
    if (index > 0 && part[index - 1] === hash) meeting.add(hash);
    while (at < earlier.length && earlier[at]! < hash) at++;
    if (at < earlier.length && earlier[at] === hash) meeting.add(hash);
  }
  return meeting;
}

/** Two sorted arrays as one sorted array. */
export function mergeSorted(a: Float64Array, b: Float64Array): Float64Array {
  const merged = new Float64Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) merged[k++] = a[i]! <= b[j]! ? a[i++]! : b[j++]!;
  while (i < a.length) merged[k++] = a[i++]!;
  while (j < b.length) merged[k++] = b[j++]!;
  return merged;
}

/**
 * The rows of `blob` whose email an earlier row has, given the hashes that can meet
 * (hashesMeeting): reads `earlier` (the earlier partitions holding one of those hashes, in file
 * order) and then `blob`, comparing the emails of those hashes alone. Ascending byte offsets.
 */
export async function repeatedRowsOfPartition(
  container: ContainerClient,
  earlier: PartitionBlob[],
  blob: PartitionBlob,
  emailColumn: number,
  meeting: Set<number>,
): Promise<number[]> {
  const repeated: number[] = [];
  if (meeting.size === 0) return repeated;
  const seen = new Set<string>();
  for await (const { blobName, offsets, emails } of emailsOf(container, [...earlier, blob], emailColumn)) {
    const inBlob = blobName === blob.blobName;
    for (let index = 0; index < emails.length; index++) {
      const email = emails[index]!;
      if (!meeting.has(emailHash(email))) continue;
      if (!seen.has(email)) seen.add(email);
      else if (inBlob) repeated.push(offsets[index]!);
    }
  }
  return repeated;
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
