// The delivery snapshot when an export's segment grows past its buckets: the committed run's
// entries are split between the new buckets by the same rule that files the new run's rows (by
// email), so every member meets their own entry and none is taken for someone who left.
import { describe, expect, it } from 'vitest';
import { stringify } from 'csv-stringify/sync';
import { useLocalServices } from '../support/localServices.js';
import { workContainer } from '../../shared/storage/clients.js';
import { basePath, loadSnapshotBucket, type SnapshotPointer } from '../../shared/delivery/deliverySnapshot.js';
import { keyBucket, memberBucket } from '../../shared/delivery/memberDiff.js';

useLocalServices();

describe('loadSnapshotBucket', () => {
  it('splits a one-bucket snapshot into two by email, as the run files its rows', async () => {
    // Members whose profile key and email fall in different buckets of two: a split by key
    // would put each in the other bucket's comparison.
    const members: { key: string; email: string }[] = [];
    for (let index = 0; members.length < 6 && index < 10_000; index++) {
      const key = `profile-${index}`;
      const email = `member${index * 7}@example.com`;
      if (keyBucket(key, 2) !== keyBucket(email, 2)) members.push({ key, email });
    }
    expect(members).toHaveLength(6);
    const exportId = 'export-split';
    const pointer: SnapshotPointer = { runId: 'run-1', buckets: 1, fingerprint: 'f', committedAt: new Date().toISOString() };
    const text = stringify(members.map(({ key, email }) => [key, `hash-${key}`, 'segment', email, '{}']));
    await (await workContainer()).getBlockBlobClient(basePath(exportId, pointer.runId, 0)).upload(text, Buffer.byteLength(text));

    const buckets = await Promise.all([0, 1].map((bucket) => loadSnapshotBucket(exportId, pointer, bucket, 2)));

    for (const { key, email } of members) {
      const home = memberBucket(key, email, 2);
      expect(buckets[home]!.get(key)).toMatchObject({ email, hash: `hash-${key}` });
      expect(buckets[1 - home]!.has(key)).toBe(false);
    }
  });
});
