// Which chunks that failed whole a retry run sends again: those the queue gave up on or no sender
// took up, not those the sender ended for a reason no retry cures, nor removal chunks.
import { describe, expect, it } from 'vitest';
import { failedWholeForRetryableReason } from '../../shared/delivery/retryFailures.js';

const chunk = (reason: string, overrides: Partial<Parameters<typeof failedWholeForRetryableReason>[0]> = {}) => ({
  status: 'failed' as const,
  resumeOffset: 0,
  end: 100,
  step: 'send',
  reason,
  ...overrides,
});

describe('failedWholeForRetryableReason', () => {
  it('takes chunks the queue gave up on and chunks no sender took up', () => {
    expect(failedWholeForRetryableReason(chunk('Chunk c000003 failed 5 times; last error: Iterable failed the call'))).toBe(true);
    expect(failedWholeForRetryableReason(chunk('No sender took the chunk up: its message was sent again 3 times without progress.'))).toBe(
      true,
    );
  });

  it('leaves chunks the sender ended itself, chunks with nothing left, removals and chunks that did not fail', () => {
    expect(failedWholeForRetryableReason(chunk('Campaign Monitor refused the batch (auth): Invalid API key'))).toBe(false);
    expect(failedWholeForRetryableReason(chunk('The export lost its connection during the run.'))).toBe(false);
    expect(failedWholeForRetryableReason(chunk('Chunk c1 failed 5 times; last error: x', { resumeOffset: 100 }))).toBe(false);
    expect(failedWholeForRetryableReason(chunk('Chunk c1 failed 5 times; last error: x', { step: 'remove' }))).toBe(false);
    expect(failedWholeForRetryableReason(chunk('Chunk c1 failed 5 times; last error: x', { status: 'done' as never }))).toBe(false);
  });
});
