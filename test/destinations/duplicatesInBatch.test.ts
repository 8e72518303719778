import { describe, expect, it } from 'vitest';
import { uniqueByEmail, withoutDuplicatesInBatch } from '../../shared/destinations/duplicatesInBatch.js';
import type { MappedMember } from '../../shared/destinations/destination.js';

const member = (email: string, city: string): MappedMember => ({ email, fields: { city } });

describe('withoutDuplicatesInBatch', () => {
  it('keeps the last of an email that appears twice (in any case) and reports the earlier one as skipped', () => {
    const batch = [member('a@example.com', 'Old'), member('b@example.com', 'Oslo'), member('A@Example.com', 'New')];
    const { unique, skipped } = withoutDuplicatesInBatch(batch, 'DuplicateInBatch');
    expect(unique).toEqual([member('A@Example.com', 'New'), member('b@example.com', 'Oslo')]);
    expect(skipped).toEqual([expect.objectContaining({ email: 'a@example.com', status: 'skipped', code: 'DuplicateInBatch' })]);
  });

  it('passes a batch of distinct emails as it is', () => {
    const batch = [member('a@example.com', 'Oslo'), member('b@example.com', 'Bergen')];
    const { unique, skipped } = withoutDuplicatesInBatch(batch, 'DuplicateInBatch');
    expect(unique).toBe(batch);
    expect(skipped).toEqual([]);
  });

  it('does not look into a batch its maker marked as holding each email once', () => {
    const batch = uniqueByEmail([member('a@example.com', 'Oslo'), member('b@example.com', 'Bergen')]);
    expect(withoutDuplicatesInBatch(batch, 'DuplicateInBatch')).toEqual({ unique: batch, skipped: [] });
    // The mark belongs to that array alone: a copy of it is looked into again.
    const copy = [...batch, member('a@example.com', 'Trondheim')];
    expect(withoutDuplicatesInBatch(copy, 'DuplicateInBatch').skipped).toHaveLength(1);
  });
});
