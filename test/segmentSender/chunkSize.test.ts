// How the planner sizes chunks: where the rate does not bind, as many chunks as the connection has
// sender slots (two per call it takes in flight), in whole rounds, so no slot waits on the queue's
// leftovers and no chunk waits for a slot; where the rate binds, as before.
import { describe, expect, it } from 'vitest';
import { membersPerChunk } from '../../shared/segmentSender/chunkSize.js';
import { sendersFor } from '../../shared/segmentSender/senderSlots.js';
import type { DestinationAdapter } from '../../shared/destinations/destination.js';

const destination = { batchSize: 1_000 } as DestinationAdapter;
const chunksOf = (members: number, perChunk: number) => Math.ceil(members / perChunk);

describe('membersPerChunk', () => {
  it('cuts a segment into whole rounds of the sender slots that 8 calls in flight allow', () => {
    const slots = sendersFor({ requestsPerSecond: 1_000_000, burst: 1 }, 8)!;
    expect(slots).toBe(16);
    const perChunk = membersPerChunk(destination, 1_000_000, 1_000_000, 8);
    expect(perChunk).toBe(32_000);
    expect(chunksOf(1_000_000, perChunk)).toBe(32); // two rounds of 16, where 64 chunks were cut before
  });

  it('keeps the last round of a large segment nearly full', () => {
    const perChunk = membersPerChunk(destination, Infinity, 10_000_000, 8);
    expect(perChunk).toBeLessThanOrEqual(50_000);
    const chunks = chunksOf(10_000_000, perChunk);
    const rounds = Math.ceil(chunks / 16);
    // No more rounds than chunks of 50 batches need, and the last one leaves few slots idle.
    expect(rounds).toBe(Math.ceil(10_000 / (16 * 50)));
    expect(chunks - (rounds - 1) * 16).toBeGreaterThanOrEqual(12);
  });

  it('spreads a segment over several hosts where nothing bounds the senders', () => {
    expect(sendersFor({ requestsPerSecond: Infinity, burst: 1 }, undefined)).toBeUndefined();
    expect(chunksOf(1_000_000, membersPerChunk(destination, Infinity, 1_000_000, undefined))).toBe(63);
  });

  it('gives a small segment chunks of at least five batches', () => {
    expect(membersPerChunk(destination, Infinity, 20_000, 8)).toBe(5_000);
  });

  it('sizes chunks by the rate where the rate binds, whatever the calls in flight', () => {
    // 5 requests a second: four senders, chunks of at most 50 batches.
    expect(membersPerChunk(destination, 5, 1_000_000, 4)).toBe(50_000);
    expect(membersPerChunk(destination, 5, 100_000, 4)).toBe(25_000);
  });
});
