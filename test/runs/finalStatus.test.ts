import { describe, expect, it } from 'vitest';
import { finalStatusOf } from '../../shared/runs/finalizeRun.js';
import type { ChunkState } from '../../shared/runs/runLedger.js';
import { ZERO_COUNTS, type RunRecord } from '../../shared/runs/run.js';

const run = { cancelRequested: false } as RunRecord;
const chunk = (status: ChunkState['status'], reason = ''): ChunkState => ({ status, reason }) as ChunkState;

describe('final status of a run', () => {
  it('succeeds when every record was taken', () => {
    expect(finalStatusOf(run, [chunk('done'), chunk('done')], { ...ZERO_COUNTS, members: 10, sent: 10, succeeded: 10 })).toEqual({
      status: 'succeeded',
      reason: null,
    });
  });
  it('is partial when some records failed or were skipped', () => {
    expect(finalStatusOf(run, [chunk('done')], { ...ZERO_COUNTS, members: 10, sent: 9, succeeded: 8, failed: 1, skipped: 1 })).toEqual({
      status: 'partiallySucceeded',
      reason: "2 records were not sent; see the run's records.",
    });
    expect(finalStatusOf(run, [chunk('done')], { ...ZERO_COUNTS, members: 10, sent: 10, succeeded: 9, failed: 1 }).reason).toBe(
      "1 record was not sent; see the run's records.",
    );
  });
  it('fails when a chunk failed and nothing arrived', () => {
    const result = finalStatusOf(run, [chunk('failed', 'auth: refused'), chunk('done')], { ...ZERO_COUNTS });
    expect(result.status).toBe('failed');
    expect(result.reason).toContain('auth: refused');
  });
  it('is cancelled when cancel was requested, whatever else happened', () => {
    expect(finalStatusOf({ ...run, cancelRequested: true }, [chunk('cancelled')], { ...ZERO_COUNTS, succeeded: 5 }).status).toBe(
      'cancelled',
    );
  });
});
