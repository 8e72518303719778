// When a sender hands its chunk on, on a clock of the test's own: before a batch that would end past
// the invocation's budget, with the longest batch so far (and a margin) as the forecast.
import { describe, expect, it } from 'vitest';
import { BATCH_TIME_MARGIN, BatchPacer } from '../../shared/segmentSender/batchPacer.js';

function clockAt(start: number) {
  const clock = { now: start, advance: (ms: number) => (clock.now += ms) };
  return clock;
}

describe('a batch pacer', () => {
  it('always lets the first batch go, even with the budget nearly spent', () => {
    const clock = clockAt(0);
    const pacer = new BatchPacer(8_000, () => clock.now);
    clock.advance(7_900);
    expect(pacer.shouldHandOn()).toBe(false);
  });

  it('hands on once the budget is spent', () => {
    const clock = clockAt(0);
    const pacer = new BatchPacer(8_000, () => clock.now);
    clock.advance(8_000);
    expect(pacer.shouldHandOn()).toBe(true);
  });

  it('hands on before a batch as long as the longest so far would end past the budget', () => {
    const clock = clockAt(0);
    const pacer = new BatchPacer(8_000, () => clock.now);
    // Setup took 1 s; the first batch 3 s (ends at 4 s): another of 3 s × 1.5 would end at 8.5 s.
    clock.advance(1_000);
    pacer.batchStarted();
    clock.advance(3_000);
    pacer.batchEnded();
    expect(pacer.longestBatchMs).toBe(3_000);
    expect(pacer.shouldHandOn(), 'the budget is not spent, but the next batch would outlast it').toBe(true);
  });

  it('goes on while the next batch fits, and the forecast keeps the longest batch, not the last', () => {
    const clock = clockAt(0);
    const pacer = new BatchPacer(8_000, () => clock.now);
    pacer.batchStarted();
    clock.advance(2_000);
    pacer.batchEnded();
    // At 2 s, a batch of 2 s × 1.5 ends at 5 s: go on.
    expect(pacer.shouldHandOn()).toBe(false);
    pacer.batchStarted();
    clock.advance(500);
    pacer.batchEnded();
    // At 2.5 s a 0.5 s batch would fit many times, but one took 2 s: 2.5 + 3 = 5.5 s, still fits.
    expect(pacer.longestBatchMs).toBe(2_000);
    expect(pacer.shouldHandOn()).toBe(false);
    clock.advance(2_600);
    // At 5.1 s: 5.1 + 2 × 1.5 = 8.1 s > 8 s.
    expect(pacer.shouldHandOn()).toBe(true);
  });

  it('counts the time a batch spent before it was sent (reading, waiting for a call slot) in its length', () => {
    const clock = clockAt(0);
    const pacer = new BatchPacer(9_000, () => clock.now);
    pacer.batchStarted();
    clock.advance(4_000);
    pacer.batchEnded();
    expect(pacer.longestBatchMs).toBe(4_000);
    // 4 s + 4 s × the margin ends past 9 s.
    expect(4_000 + 4_000 * BATCH_TIME_MARGIN).toBeGreaterThan(9_000);
    expect(pacer.shouldHandOn()).toBe(true);
  });
});
