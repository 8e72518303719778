import { describe, expect, it } from 'vitest';
import { BucketDiff, bucketsFor, keyBucket, mappedValuesHash } from '../../shared/delivery/memberDiff.js';

describe('mappedValuesHash', () => {
  it('does not depend on the order of the mapped fields', () => {
    expect(mappedValuesHash({ email: 'a@x.io', firstName: 'Ann' })).toBe(mappedValuesHash({ firstName: 'Ann', email: 'a@x.io' }));
  });

  it('changes when a value changes, appears or goes empty', () => {
    const base = mappedValuesHash({ email: 'a@x.io', firstName: 'Ann' });
    expect(mappedValuesHash({ email: 'a@x.io', firstName: 'Anne' })).not.toBe(base);
    expect(mappedValuesHash({ email: 'a@x.io', firstName: 'Ann', lastName: 'Lee' })).not.toBe(base);
    expect(mappedValuesHash({ email: 'a@x.io', firstName: '' })).not.toBe(base);
  });

  it('keeps field boundaries (no two splits of the same text hash alike)', () => {
    expect(mappedValuesHash({ a: 'bc', d: '' })).not.toBe(mappedValuesHash({ a: 'b', d: 'c' }));
  });
});

describe('keyBucket and bucketsFor', () => {
  it('spreads keys over the buckets, and a key of 2n buckets falls in its n-bucket bucket', () => {
    const counts = new Array(16).fill(0);
    for (let index = 0; index < 16_000; index++) {
      const key = `customer-${index}`;
      counts[keyBucket(key, 16)]++;
      expect(keyBucket(key, 16) & 7).toBe(keyBucket(key, 8));
    }
    for (const count of counts) expect(count).toBeGreaterThan(800);
  });

  it('takes a power of two for about 50,000 members a bucket, and never fewer than before', () => {
    expect(bucketsFor(0)).toBe(1);
    expect(bucketsFor(50_000)).toBe(1);
    expect(bucketsFor(50_001)).toBe(2);
    expect(bucketsFor(1_000_000)).toBe(32);
    expect(bucketsFor(10, 8)).toBe(8);
  });
});

describe('BucketDiff', () => {
  const snapshot = () =>
    new Map([
      ['k1', { hash: 'h1', email: 'one@x.io' }],
      ['k2', { hash: 'h2', email: 'two@x.io' }],
      ['k3', { hash: 'h3', email: 'three@x.io' }],
    ]);

  it('tells joined, changed, unchanged and left apart', () => {
    const diff = new BucketDiff(snapshot());
    expect(diff.see('k1', 'h1')).toBe('unchanged');
    expect(diff.see('k2', 'h2-new')).toBe('changed');
    expect(diff.see('k4', 'h4')).toBe('joined');
    expect([...diff.left()]).toEqual([['k3', { hash: 'h3', email: 'three@x.io' }]]);
    expect(diff.counts).toEqual({ joined: 1, changed: 1, unchanged: 1, left: 1 });
  });

  it('counts a key seen twice once, and never as left', () => {
    const diff = new BucketDiff(snapshot());
    expect(diff.see('k1', 'h1')).toBe('unchanged');
    expect(diff.see('k1', 'h1')).toBe('repeated');
    expect(diff.see('k9', 'h9')).toBe('joined');
    expect(diff.see('k9', 'h9')).toBe('repeated');
    expect([...diff.left()].map(([key]) => key)).toEqual(['k2', 'k3']);
    expect(diff.counts).toEqual({ joined: 1, changed: 0, unchanged: 1, left: 2 });
  });

  it('treats everyone as joined against an empty snapshot (a first or full run)', () => {
    const diff = new BucketDiff(new Map<string, { hash: string }>());
    for (const key of ['a', 'b', 'c']) expect(diff.see(key, 'h')).toBe('joined');
    expect([...diff.left()]).toEqual([]);
    expect(diff.counts).toEqual({ joined: 3, changed: 0, unchanged: 0, left: 0 });
  });

  it('shows the previous entry of a changed member before it is seen', () => {
    const diff = new BucketDiff(snapshot());
    expect(diff.previousOf('k2')).toEqual({ hash: 'h2', email: 'two@x.io' });
    diff.see('k2', 'other');
    expect(diff.previousOf('k2')).toBeUndefined();
  });
});
