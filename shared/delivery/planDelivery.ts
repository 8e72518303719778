// The files a run of a snapshot-keeping segment export sends from, written by its planner. Two
// passes, each holding one key bucket in memory at most:
//   1. every row of the export's segments is read once, its key and the hash of its mapped values
//      computed, and spilled to its bucket's file (bucketed by email, so a repeated email meets
//      its first row in one bucket, and by the profile key when there is no email);
//   2. bucket by bucket, the rows are compared with the snapshot (memberDiff.ts): the members to
//      send go to a send file, those who left to a removal file, and the state the run starts
//      from to the run's base (deliverySnapshot.ts).
// A retry run spills only the members the retried run failed for a retryable reason, and sends
// them all. The senders then read these files like any other chunk source (container 'work').
import type { ContainerClient } from '@azure/storage-blob';
import { lakeContainer, workContainer } from '../storage/clients.js';
import { readRecords, type PartitionBlob } from '../lake/lakeReader.js';
import { profileKeyColumn } from '../lake/profileKey.js';
import { matchRecord, matchingPlan, rowEmail, type MatchingPlan } from '../segmentSender/dataMatching.js';
import type { PlannedSegment } from '../runs/worker.js';
import { BlockCsvFile, BucketFiles } from '../dataOut/csvFiles.js';
import { BucketDiff, memberBucket, mappedValuesHash, type ChangeCounts, type MemberChange } from './memberDiff.js';
import {
  basePath,
  loadSnapshotBucket,
  recordAccepted,
  type AcceptedMember,
  type SnapshotEntry,
  type SnapshotPointer,
} from './deliverySnapshot.js';

export interface DeliverySource {
  segment: PlannedSegment;
  container: 'lake' | 'work';
  blobs: PartitionBlob[];
}

export type DeliverySelection =
  /** Compare with the snapshot; `everyone` sends unchanged members too (full mode, resync, first run). */
  | { kind: 'snapshot'; everyone: boolean; base: SnapshotPointer | undefined; removals: boolean }
  /** Send only these members (keys or emails of another run's retryable failures). */
  | { kind: 'retry'; keys: Set<string> };

export interface DeliveryFile {
  kind: 'send' | 'remove';
  segmentId: string;
  bucket: number;
  blobName: string;
  size: number;
  etag: string;
  rows: number;
}

export interface DeliveryFiles {
  files: DeliveryFile[];
  /** Members read from the segments (repeated rows included). */
  members: number;
  counts: ChangeCounts;
}

/** Columns a send row carries before the segment's own attributes. */
export const SEND_ROW_PREFIX = 5;
/** A send row's columns: key, hash, flag ('' or 'duplicate'), source partition, source offset, then the values. */
export interface SendRow {
  key: string;
  hash: string;
  duplicate: boolean;
  partition: string;
  position: number;
  values: string[];
}

export function parseSendRow(values: string[]): SendRow {
  return {
    key: values[0] ?? '',
    hash: values[1] ?? '',
    duplicate: values[2] === 'duplicate',
    partition: values[3] ?? '',
    position: Number(values[4] ?? 0),
    values: values.slice(SEND_ROW_PREFIX),
  };
}

/** A removal row: key, hash, segment, email, mapped fields (JSON). */
export function parseRemoveRow(values: string[]): { key: string; entry: SnapshotEntry } {
  const [key = '', hash = '', segmentId = '', email = '', fields = '{}'] = values;
  return { key, entry: { hash, segmentId, email, fields } };
}

const scratch = (runId: string) => `runs/${runId}/delivery/`;
const bucketPart = (bucket: number) => `b${String(bucket).padStart(5, '0')}`;
const MANIFEST = 'files.json';

export interface WriteDeliveryFiles {
  exportId: string;
  runId: string;
  sources: DeliverySource[];
  mapping: Record<string, string>;
  buckets: number;
  selection: DeliverySelection;
  /** Write the run's base (the export keeps a snapshot); a retry run leaves the snapshot alone. */
  keepSnapshot: boolean;
}

export async function writeDeliveryFiles(input: WriteDeliveryFiles): Promise<DeliveryFiles> {
  const work = await workContainer();
  // A re-delivered planner reuses what it wrote: senders may already read the files by ETag.
  const manifest = work.getBlockBlobClient(`${scratch(input.runId)}${MANIFEST}`);
  const written = await manifest.downloadToBuffer().catch(() => undefined);
  if (written) return JSON.parse(written.toString('utf8')) as DeliveryFiles;

  const plans = input.sources.map((source) => matchingPlan(input.mapping, source.segment.attributes));
  const members = await spill(work, input, plans);
  const result: DeliveryFiles = { files: [], members, counts: { joined: 0, changed: 0, unchanged: 0, left: 0 } };
  for (let bucket = 0; bucket < input.buckets; bucket++) await compareBucket(work, input, bucket, result);
  const text = JSON.stringify(result);
  await manifest.upload(text, Buffer.byteLength(text), { blobHTTPHeaders: { blobContentType: 'application/json' } });
  return result;
}

/** Pass 1: every row to its bucket's spill file as key, hash, source, partition, offset, values. */
async function spill(work: ContainerClient, input: WriteDeliveryFiles, plans: MatchingPlan[]): Promise<number> {
  const files = new BucketFiles(input.buckets, (bucket) =>
    work.getBlockBlobClient(`${scratch(input.runId)}spill/${bucketPart(bucket)}.csv`),
  );
  const retryKeys = input.selection.kind === 'retry' ? input.selection.keys : undefined;
  let members = 0;
  for (const [index, source] of input.sources.entries()) {
    const keyColumn = profileKeyColumn(source.segment.attributes);
    const from = source.container === 'work' ? work : lakeContainer();
    for (const blob of source.blobs) {
      if (blob.size === 0) continue;
      for await (const record of readRecords(from, blob.blobName, 0, blob.size, {
        ifMatch: blob.etag,
        delimiter: blob.format.delimiter,
        columnHeaders: blob.format.columnHeaders,
      })) {
        members++;
        const profileKey = (record.values[keyColumn] ?? '').trim() || `@${blob.blobName}@${record.offset}`;
        // Lists per segment: a member is delivered (and remembered) once per segment.
        const key = input.sources.length > 1 ? `${source.segment.segmentId}/${profileKey}` : profileKey;
        const matched = matchRecord(plans[index]!, record.values);
        const email = matched.ok ? matched.member.email : '';
        if (retryKeys && !retryKeys.has(key) && !(email && retryKeys.has(email))) continue;
        // An invalid row hashes to '': it is "changed" every run, so the sender reports it every run.
        const hash = matched.ok ? mappedValuesHash({ ...matched.member.fields, '\u0000email': email }) : '';
        const wait = files.add(memberBucket(key, email, input.buckets), [
          key,
          hash,
          String(index),
          blob.blobName,
          String(record.offset),
          ...record.values,
        ]);
        if (wait) await wait;
      }
    }
  }
  await files.commit();
  return members;
}

/** Pass 2, one bucket: the diff against the snapshot, written as send, removal and base files. */
async function compareBucket(work: ContainerClient, input: WriteDeliveryFiles, bucket: number, result: DeliveryFiles): Promise<void> {
  const { selection } = input;
  const previous =
    selection.kind === 'snapshot' && selection.base
      ? await loadSnapshotBucket(input.exportId, selection.base, bucket, input.buckets)
      : new Map<string, SnapshotEntry>();
  const everyone = selection.kind === 'retry' || selection.everyone;
  const base = input.keepSnapshot
    ? new BlockCsvFile(work.getBlockBlobClient(basePath(input.exportId, input.runId, bucket)), 256 * 1024)
    : undefined;
  // Unless everyone is sent again, the run starts from the whole previous state; a member whose
  // batch fails keeps the entry it had, and is compared with it again next run.
  if (base && !everyone) {
    for (const [key, entry] of previous) {
      const wait = base.add([key, entry.hash, entry.segmentId, entry.email, entry.fields]);
      if (wait) await wait;
    }
  }
  const diff = new BucketDiff(previous);
  const sends = new Map<number, BlockCsvFile>();
  const sendFile = (source: number) => {
    let file = sends.get(source);
    if (!file)
      sends.set(
        source,
        (file = new BlockCsvFile(work.getBlockBlobClient(`${scratch(input.runId)}send/s${source}/${bucketPart(bucket)}.csv`), 256 * 1024)),
      );
    return file;
  };
  const spilled = work.getBlobClient(`${scratch(input.runId)}spill/${bucketPart(bucket)}.csv`);
  const size = (await spilled.getProperties().catch(() => undefined))?.contentLength ?? 0;
  const emails = new Set<string>();
  const plans = input.sources.map((source) => matchingPlan(input.mapping, source.segment.attributes));
  if (size > 0) {
    for await (const record of readRecords(work, spilled.name, 0, size)) {
      const [key, hash, source, partition, offset] = record.values as [string, string, string, string, string];
      const values = record.values.slice(SEND_ROW_PREFIX);
      const plan = plans[Number(source)]!;
      const email = rowEmail(values, plan.emailColumn);
      const change: MemberChange | 'repeated' = selection.kind === 'snapshot' ? diff.see(key, hash) : 'joined';
      // The vendor keys members by email: a second row with one is reported by the sender, not sent.
      const emailKey = `${source}|${email}`;
      const duplicate = change === 'repeated' || Boolean(email && hash && emails.has(emailKey));
      if (email && hash) emails.add(emailKey);
      if (!duplicate && !everyone && change === 'unchanged') continue;
      const wait = sendFile(Number(source)).add([key, hash, duplicate ? 'duplicate' : '', partition, offset, ...values]);
      if (wait) await wait;
    }
  }
  if (selection.kind === 'snapshot') {
    const removals = new Map<number, BlockCsvFile>();
    // Entries that leave the state without a removal call (see below): dropped when the run commits.
    const forgotten: AcceptedMember[] = [];
    for (const [key, entry] of diff.left()) {
      // One list (every destination but a list per segment): whatever segment the member was
      // delivered for — an earlier segment set, or several segments' union — it is on that list.
      const source =
        input.sources.length === 1 ? 0 : input.sources.findIndex((candidate) => candidate.segment.segmentId === entry.segmentId);
      // A list per segment (LinkedIn) whose segment left the export: its list is left as it is
      // (the vendor's list belongs to the lake segment and another export may fill it), and the
      // export stops remembering its members. Anyone whose email this run sends to the same list
      // under another key (a profile key that changed) is not removed either: they are on it.
      if (source < 0 || Boolean(entry.email && emails.has(`${source}|${entry.email}`))) {
        if (base && !everyone) forgotten.push({ key, ...entry });
        continue;
      }
      if (base && everyone) {
        // Everyone is sent again; who left stays in the state until their removal is accepted.
        const wait = base.add([key, entry.hash, entry.segmentId, entry.email, entry.fields]);
        if (wait) await wait;
      }
      if (!selection.removals) continue;
      let file = removals.get(source);
      if (!file)
        removals.set(
          source,
          (file = new BlockCsvFile(
            work.getBlockBlobClient(`${scratch(input.runId)}remove/s${source}/${bucketPart(bucket)}.csv`),
            256 * 1024,
          )),
        );
      const wait = file.add([key, entry.hash, entry.segmentId, entry.email, entry.fields]);
      if (wait) await wait;
    }
    for (const [source, file] of removals)
      result.files.push(await committed(file, 'remove', input.sources[source]!.segment.segmentId, bucket));
    // Written as the run's first accepted batch of the bucket (before any chunk's): the base
    // carried these entries over, and the run's commit drops them.
    if (forgotten.length > 0) await recordAccepted(input.exportId, input.runId, bucket, 'a-planner', 'removed', forgotten);
  }
  for (const [source, file] of sends) result.files.push(await committed(file, 'send', input.sources[source]!.segment.segmentId, bucket));
  if (base) await base.commit();
  for (const name of ['joined', 'changed', 'unchanged', 'left'] as const) result.counts[name] += diff.counts[name];
}

async function committed(file: BlockCsvFile, kind: DeliveryFile['kind'], segmentId: string, bucket: number): Promise<DeliveryFile> {
  await file.commit();
  const blob = file.blob;
  const properties = await blob.getProperties();
  return {
    kind,
    segmentId,
    bucket,
    blobName: blob.name,
    size: properties.contentLength ?? 0,
    etag: properties.etag ?? '',
    rows: file.rows,
  };
}
