// The files a run of a snapshot-keeping segment export sends from, written by its planner. Two
// passes, each holding one key bucket in memory at most:
//   1. every row of the export's segments is read once, its key and the hash of its mapped values
//      computed, and spilled to its bucket's file (bucketed by email, so a repeated email meets
//      its first row in one bucket, and by the profile key when there is no email);
//   2. bucket by bucket, the rows are compared with the snapshot (memberDiff.ts): the members to
//      send go to a send file, those who left to a removal file, and the state the run starts
//      from to the run's base (deliverySnapshot.ts).
// Both passes go in steps (a stretch of rows read, a bucket compared) kept in the plan's progress,
// so a comparison longer than one invocation's budget goes on in the planner's continuation.
// A retry run spills only the members the retried run failed for a retryable reason, and sends
// them all. The senders then read these files like any other chunk source (container 'work').
import { randomUUID } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import { lakeContainer, workContainer } from '../storage/clients.js';
import { readRecords, type PartitionBlob } from '../lake/lakeReader.js';
import { profileKeyColumn } from '../lake/profileKey.js';
import { matchRecord, matchingPlan, rowEmail } from '../segmentSender/dataMatching.js';
import type { PlannedSegment } from '../runs/worker.js';
import { BlockCsvFile, BucketFiles } from '../dataOut/csvFiles.js';
import { retryableFailures } from './retryFailures.js';
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
  /** Send only the members another run failed to send for a retryable reason (retryFailures.ts). */
  | { kind: 'retry'; retryOf: string };

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

/** What the planner decided at set-up: kept in the plan's progress, so every step works from it. */
export interface DeliveryPlan {
  exportId: string;
  runId: string;
  mapping: Record<string, string>;
  buckets: number;
  selection: DeliverySelection;
  /** Write the run's base (the export keeps a snapshot); a retry run leaves the snapshot alone. */
  keepSnapshot: boolean;
}

/**
 * How far the comparison has come, kept in the plan's progress after every step: the read of the
 * segments a stretch at a time (each stretch spills to bucket files of its own), then the
 * comparison a bucket at a time (its send and removal files, its counts).
 */
export interface DeliveryProgress {
  /** The next row to spill: source, partition and the offset of its record. */
  spill: { source: number; blob: number; offset: number };
  /** The stretches spilled, in read order: each one's folder and the buckets it wrote rows to. */
  stretches: { folder: string; buckets: number[] }[];
  members: number;
  /** Buckets compared so far (0 … compared − 1): their files and counts are below. */
  compared: number;
  files: DeliveryFile[];
  counts: ChangeCounts;
  /** The files and counts are in the plan's set-up (and the prediction made for them). */
  done?: boolean;
}

export function deliveryStart(): DeliveryProgress {
  return {
    spill: { source: 0, blob: 0, offset: 0 },
    stretches: [],
    members: 0,
    compared: 0,
    files: [],
    counts: { joined: 0, changed: 0, unchanged: 0, left: 0 },
  };
}

/** The comparison is done: every bucket compared. */
export function deliveryDone(plan: DeliveryPlan, progress: DeliveryProgress): boolean {
  return progress.compared >= plan.buckets;
}

/** Where the comparison stands, for the run's plan task. */
export function deliveryStage(plan: DeliveryPlan, sources: DeliverySource[], progress: DeliveryProgress): string {
  if (progress.spill.source < sources.length) return `${progress.members.toLocaleString('en-US')} members read for the comparison`;
  return `${progress.compared} of ${plan.buckets} key buckets compared with the last delivery`;
}

/** Rows spilled between two looks at the clock. */
const ROWS_PER_LOOK = 256;

/**
 * One step of the comparison: a stretch of the segments spilled (until `stop` says the
 * invocation's time is up, at least one look's worth of rows), or one bucket compared. The step's
 * files are named apart (a folder of their own), so a planner that loses the race to save its
 * progress never overwrites what the winner's progress names; the run's base is the same whoever
 * writes it. Updates `progress`; the caller saves it.
 */
export async function deliveryStep(
  plan: DeliveryPlan,
  sources: DeliverySource[],
  progress: DeliveryProgress,
  stop: () => boolean,
): Promise<void> {
  const work = await workContainer();
  if (progress.spill.source < sources.length) {
    const { selection } = plan;
    const retryKeys = selection.kind === 'retry' ? await retryableFailures(selection.retryOf) : undefined;
    await spillStretch(work, plan, sources, progress, stop, retryKeys);
  } else if (progress.compared < plan.buckets) {
    await compareBucket(work, plan, sources, progress.compared, progress);
    progress.compared++;
  }
}

/** Pass 1, one stretch: rows to their bucket's spill file as key, hash, source, partition, offset, values. */
async function spillStretch(
  work: ContainerClient,
  plan: DeliveryPlan,
  sources: DeliverySource[],
  progress: DeliveryProgress,
  stop: () => boolean,
  retryKeys: Set<string> | undefined,
): Promise<void> {
  const folder = `${scratch(plan.runId)}spill/${randomUUID()}/`;
  const written = new Set<number>();
  const files = new BucketFiles(plan.buckets, (bucket) => {
    written.add(bucket);
    return work.getBlockBlobClient(`${folder}${bucketPart(bucket)}.csv`);
  });
  const { spill } = progress;
  let rows = 0;
  reading: for (; spill.source < sources.length; spill.source++, spill.blob = 0) {
    const source = sources[spill.source]!;
    const matching = matchingPlan(plan.mapping, source.segment.attributes);
    const keyColumn = profileKeyColumn(source.segment.attributes);
    const from = source.container === 'work' ? work : lakeContainer();
    for (; spill.blob < source.blobs.length; spill.blob++, spill.offset = 0) {
      const blob = source.blobs[spill.blob]!;
      if (blob.size === 0 || spill.offset >= blob.size) continue;
      for await (const record of readRecords(from, blob.blobName, spill.offset, blob.size, {
        ifMatch: blob.etag,
        delimiter: blob.format.delimiter,
        columnHeaders: blob.format.columnHeaders,
      })) {
        if (++rows % ROWS_PER_LOOK === 0 && stop()) {
          spill.offset = record.offset;
          break reading;
        }
        progress.members++;
        const profileKey = (record.values[keyColumn] ?? '').trim() || `@${blob.blobName}@${record.offset}`;
        // Lists per segment: a member is delivered (and remembered) once per segment.
        const key = sources.length > 1 ? `${source.segment.segmentId}/${profileKey}` : profileKey;
        const matched = matchRecord(matching, record.values);
        const email = matched.ok ? matched.member.email : '';
        if (retryKeys && !retryKeys.has(key) && !(email && retryKeys.has(email))) continue;
        // An invalid row hashes to '': it is "changed" every run, so the sender reports it every run.
        const hash = matched.ok ? mappedValuesHash({ ...matched.member.fields, '\u0000email': email }) : '';
        const wait = files.add(memberBucket(key, email, plan.buckets), [
          key,
          hash,
          String(spill.source),
          blob.blobName,
          String(record.offset),
          ...record.values,
        ]);
        if (wait) await wait;
      }
    }
  }
  await files.commit();
  if (written.size > 0) progress.stretches.push({ folder, buckets: [...written].sort((a, b) => a - b) });
}

/** Pass 2, one bucket: the diff against the snapshot, written as send, removal and base files. */
async function compareBucket(
  work: ContainerClient,
  input: DeliveryPlan,
  sources: DeliverySource[],
  bucket: number,
  result: DeliveryProgress,
): Promise<void> {
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
  // This step's own folder: the files its progress names are never written again by another planner.
  const folder = `${scratch(input.runId)}${bucketPart(bucket)}-${randomUUID()}/`;
  const sends = new Map<number, BlockCsvFile>();
  const sendFile = (source: number) => {
    let file = sends.get(source);
    if (!file) sends.set(source, (file = new BlockCsvFile(work.getBlockBlobClient(`${folder}send-s${source}.csv`), 256 * 1024)));
    return file;
  };
  const emails = new Set<string>();
  const plans = sources.map((source) => matchingPlan(input.mapping, source.segment.attributes));
  for (const stretch of result.stretches) {
    if (!stretch.buckets.includes(bucket)) continue;
    const spilled = work.getBlobClient(`${stretch.folder}${bucketPart(bucket)}.csv`);
    const size = (await spilled.getProperties()).contentLength ?? 0;
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
      const source = sources.length === 1 ? 0 : sources.findIndex((candidate) => candidate.segment.segmentId === entry.segmentId);
      // A list per segment (LinkedIn) whose segment left the export: its list is left as it is
      // (the vendor's list belongs to the lake segment and another export may fill it), and the
      // export stops remembering its members. Anyone whose email this run sends to the same list
      // under another key (a profile key that changed) is not removed either: they are on it.
      if (source < 0 || Boolean(entry.email && emails.has(`${source}|${entry.email}`))) {
        // Nobody is taken off the list: the run's counts (and the plan's) do not count them as left.
        diff.forget();
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
      if (!file) removals.set(source, (file = new BlockCsvFile(work.getBlockBlobClient(`${folder}remove-s${source}.csv`), 256 * 1024)));
      const wait = file.add([key, entry.hash, entry.segmentId, entry.email, entry.fields]);
      if (wait) await wait;
    }
    for (const [source, file] of removals) result.files.push(await committed(file, 'remove', sources[source]!.segment.segmentId, bucket));
    // Written as the run's first accepted batch of the bucket (before any chunk's): the base
    // carried these entries over, and the run's commit drops them.
    if (forgotten.length > 0) await recordAccepted(input.exportId, input.runId, bucket, 'a-planner', 'removed', forgotten);
  }
  for (const [source, file] of sends) result.files.push(await committed(file, 'send', sources[source]!.segment.segmentId, bucket));
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
