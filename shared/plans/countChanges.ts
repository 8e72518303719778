// A plan's `changes`: the diff a run of a snapshot-keeping export would make, counted without
// writing anything. The run's planner spills rows to bucket files and compares them (see
// shared/delivery/planDelivery.ts); a plan may store nothing, so it reads the segments once per
// group of key buckets instead, holding only that group's snapshot (key → hash) in memory.
import type { ExportRecord } from '../exports/exportDefinition.js';
import { lakeContainer } from '../storage/clients.js';
import { partitionBlobs, readRecords } from '../lake/lakeReader.js';
import type { CdmModel } from '../lake/cdmModel.js';
import { profileKeyColumn } from '../lake/profileKey.js';
import type { SegmentSummary } from '../lake/segmentCatalog.js';
import { matchRecord, matchingPlan, rowEmail } from '../segmentSender/dataMatching.js';
import { bucketsFor, keyBucket, mappedValuesHash } from '../delivery/memberDiff.js';
import { loadSnapshotBucket, readSnapshotPointer } from '../delivery/deliverySnapshot.js';
import { deliveryFingerprint, keepsSnapshot } from '../delivery/deliveryRun.js';

export interface PlannedChanges {
  added: number;
  updated: number;
  removed: number;
  unchanged: number;
  /** Members the run would send: the changes, or everyone when it sends everyone. */
  send: number;
  /** Members the run would remove (removals on). */
  remove: number;
  /** Key buckets the run's files are written in. */
  buckets: number;
  /** Why the run would send everyone, or null when it sends only the changes. */
  fullReason: string | null;
  /**
   * When it compared with a snapshot: its seconds per pass over the members — the segments read
   * once per group of buckets, the snapshot loaded once — the machine's speed at a comparison now.
   */
  countedSeconds?: number;
}

/** Snapshot entries held at once: about 100 bytes each, so a pass stays near 50 MB. */
const ENTRIES_PER_PASS = 500_000;
/** Marks a snapshot entry whose key was seen now. */
const SEEN = 'seen';
type PreviousEntry = { hash: string; list: string; email: string } | typeof SEEN;

/** Undefined when the export keeps no snapshot (full delivery without removals): the run sends everyone. */
export async function countChanges(
  record: ExportRecord,
  segments: SegmentSummary[],
  model: CdmModel,
  listPerSegment: boolean,
): Promise<PlannedChanges | undefined> {
  if (!keepsSnapshot(record)) return undefined;
  const members = segments.reduce((sum, segment) => sum + segment.memberCount, 0);
  const pointer = await readSnapshotPointer(record.id);
  const buckets = bucketsFor(members, pointer?.buckets);
  const removals = record.delivery?.removals ?? false;
  if (!pointer)
    return { added: members, updated: 0, removed: 0, unchanged: 0, send: members, remove: 0, buckets, fullReason: 'first delivery' };
  const began = Date.now();
  const fullReason =
    pointer.fingerprint !== deliveryFingerprint(record)
      ? 'the segments, mapping or destination details changed'
      : record.delivery?.mode !== 'changes'
        ? 'full delivery'
        : null;

  const counts = { added: 0, updated: 0, removed: 0, unchanged: 0 };
  const lake = lakeContainer();
  const sources = await Promise.all(
    segments.map(async (segment) => ({
      segment,
      plan: matchingPlan(record.mapping, segment.attributes),
      keyColumn: profileKeyColumn(segment.attributes),
      blobs: await partitionBlobs(
        lake,
        model.entities.find((entity) => entity.name === segment.id)!,
      ),
    })),
  );
  const perBucket = Math.max(1, Math.ceil(members / buckets));
  const bucketsPerPass = Math.max(1, Math.floor(ENTRIES_PER_PASS / perBucket));
  // The run's lists: one, or one per segment; who left is taken off the list they were delivered to.
  const perSegment = listPerSegment && sources.length > 1;
  const listOf = (segmentId: string) => (perSegment ? segmentId : '');
  const lists = new Set(sources.map((source) => listOf(source.segment.id)));
  let reads = 0;
  for (let first = 0; first < buckets; first += bucketsPerPass) {
    const last = Math.min(buckets, first + bucketsPerPass);
    reads++;
    const previous = new Map<string, PreviousEntry>();
    for (let bucket = first; bucket < last; bucket++) {
      for (const [key, entry] of await loadSnapshotBucket(record.id, pointer, bucket, buckets))
        previous.set(key, { hash: entry.hash, list: listOf(entry.segmentId), email: entry.email });
    }
    const joined = new Set<string>();
    // Emails sent to each list now: one who left under another key with the same email stays on it.
    const sent = new Set<string>();
    for (const source of sources) {
      for (const blob of source.blobs) {
        if (blob.size === 0) continue;
        for await (const row of readRecords(lake, blob.blobName, 0, blob.size, {
          ifMatch: blob.etag,
          delimiter: blob.format.delimiter,
          columnHeaders: blob.format.columnHeaders,
        })) {
          const profileKey = (row.values[source.keyColumn] ?? '').trim() || `@${blob.blobName}@${row.offset}`;
          // As the run keys them: a list per segment remembers a member once per segment.
          const key = perSegment ? `${source.segment.id}/${profileKey}` : profileKey;
          const matched = matchRecord(source.plan, row.values);
          const email = matched.ok ? matched.member.email : '';
          const bucket = keyBucket(email || key, buckets);
          if (bucket < first || bucket >= last) continue;
          const hash = matched.ok ? mappedValuesHash({ ...matched.member.fields, '\u0000email': email }) : '';
          const rowMail = rowEmail(row.values, source.plan.emailColumn);
          if (rowMail && hash) sent.add(`${listOf(source.segment.id)}|${rowMail}`);
          const before = previous.get(key);
          if (before === SEEN || joined.has(key)) continue;
          if (before === undefined) {
            joined.add(key);
            counts.added++;
          } else {
            previous.set(key, SEEN);
            if (before.hash === hash) counts.unchanged++;
            else counts.updated++;
          }
        }
      }
    }
    // As the run: an entry whose list the export no longer has, or whose email is sent to its list
    // under another key, is forgotten, not removed.
    for (const entry of previous.values())
      if (entry !== SEEN && lists.has(entry.list) && !(entry.email && sent.has(`${entry.list}|${entry.email}`))) counts.removed++;
  }
  return {
    ...counts,
    send: fullReason ? counts.added + counts.updated + counts.unchanged : counts.added + counts.updated,
    remove: removals ? counts.removed : 0,
    buckets,
    fullReason,
    // The snapshot is loaded once over all the reads, about as many entries as the segments' rows.
    countedSeconds: (Date.now() - began) / 1000 / (reads + 1),
  };
}
