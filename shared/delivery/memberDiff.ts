// The comparison behind `changes` delivery and a plan's change counts, pure and bounded: the last
// delivery's snapshot of one key bucket (key → hash of the mapped values) against the members of
// that bucket now. Each member now joined, changed or is unchanged; what the snapshot has and was
// not seen left. One bucket at a time, so memory stays flat whatever the segment's size.
import { createHash } from 'node:crypto';

export type MemberChange = 'joined' | 'changed' | 'unchanged';

export interface ChangeCounts {
  joined: number;
  changed: number;
  unchanged: number;
  left: number;
}

/**
 * Hash of a member's mapped values: field names sorted, so the mapping's order does not matter,
 * and every field in, so a value that changed, appeared or went empty shows as a change.
 */
export function mappedValuesHash(fields: Record<string, string>): string {
  const hash = createHash('sha256');
  for (const name of Object.keys(fields).sort())
    hash
      .update(name)
      .update('\u0000')
      .update(fields[name] ?? '')
      .update('\u0001');
  return hash.digest('base64url').slice(0, 22);
}

/**
 * Which of `buckets` (a power of two) a key belongs to: FNV-1a, the same spread data-out's
 * snapshots use, stable across processes and versions.
 */
export function keyBucket(key: string, buckets: number): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < key.length; index++) hash = Math.imul(hash ^ key.charCodeAt(index), 0x01000193);
  return (hash >>> 0) & (buckets - 1);
}

/**
 * The bucket a member's rows and snapshot entries live in: by email, so the same person under two
 * profile keys meets their own entry (the vendor keys members by email); by key when there is none.
 */
export function memberBucket(key: string, email: string, buckets: number): number {
  return keyBucket(email || key, buckets);
}

/** Buckets for about `perBucket` members each: a power of two, never fewer than before (keys only split). */
export function bucketsFor(members: number, previous = 1, perBucket = 50_000): number {
  let buckets = 1;
  while (buckets * perBucket < members && buckets < 1024) buckets *= 2;
  return Math.max(buckets, previous);
}

/**
 * One bucket's comparison. Feed each current member once with `see`; then `left()` yields the
 * snapshot's entries nobody saw. A key seen twice (two rows of one profile) is 'repeated'.
 */
export class BucketDiff<Entry extends { hash: string }> {
  readonly counts: ChangeCounts = { joined: 0, changed: 0, unchanged: 0, left: 0 };
  private readonly seen = new Set<string>();

  /** `previous` is consumed: entries are taken out as their keys are seen. */
  constructor(private readonly previous: Map<string, Entry>) {}

  see(key: string, hash: string): MemberChange | 'repeated' {
    if (this.seen.has(key)) return 'repeated';
    this.seen.add(key);
    const before = this.previous.get(key);
    let change: MemberChange;
    if (!before) change = 'joined';
    else {
      this.previous.delete(key);
      change = before.hash === hash ? 'unchanged' : 'changed';
    }
    this.counts[change]++;
    return change;
  }

  /** The previous entry of a key already seen as changed or unchanged is gone; ask before `see`. */
  previousOf(key: string): Entry | undefined {
    return this.previous.get(key);
  }

  /**
   * One of `left()`'s entries that the run forgets rather than removes (its email is sent to the
   * same list under another key, or its list is no longer the export's): not counted as left.
   */
  forget(): void {
    this.counts.left--;
  }

  /** Members of the snapshot not seen now: they left the export's segments. Call once, after every `see`. */
  *left(): Generator<[string, Entry]> {
    for (const entry of this.previous) {
      if (this.seen.has(entry[0])) continue;
      this.counts.left++;
      yield entry;
    }
  }
}
