import { describe, expect, it } from 'vitest';
import { calibrationOf, runRatio } from '../../shared/plans/calibration.js';
import { START_SECONDS } from '../../shared/plans/predictRun.js';
import type { RunRecord } from '../../shared/runs/run.js';

/** A finished run predicted at `predicted` s (with `calibration` applied) that took `actual` s. */
function run(predicted: number, actual: number, finishedMinute: number, extra: Partial<RunRecord> = {}): RunRecord {
  const startedAt = new Date(Date.UTC(2026, 11, 2, 1, finishedMinute) - actual * 1000).toISOString();
  return {
    status: 'succeeded',
    startedAt,
    finishedAt: new Date(Date.parse(startedAt) + actual * 1000).toISOString(),
    prediction: { members: 1, calls: 1, rateCalls: 1, predictedSeconds: predicted },
    ...extra,
  } as RunRecord;
}

describe('calibration from the recent runs', () => {
  it('is 1 without history, and ignores runs without a prediction, unfinished, failed or too short to say', () => {
    expect(calibrationOf([])).toEqual({ factor: 1, runs: 0 });
    expect(
      calibrationOf([run(100, 400, 1, { prediction: undefined }), run(100, 400, 2, { status: 'failed' }), run(START_SECONDS + 1, 60, 3)]),
    ).toEqual({ factor: 1, runs: 0 });
  });

  it('takes the median of actual over predicted transfer of the newest five', () => {
    const transfer = (seconds: number) => START_SECONDS + seconds;
    const runs = [
      run(transfer(100), transfer(200), 1),
      run(transfer(100), transfer(400), 2),
      run(transfer(100), transfer(300), 3),
      run(transfer(100), transfer(310), 4),
      run(transfer(100), transfer(290), 5),
      run(transfer(100), transfer(280), 6),
    ];
    // The oldest (×2) is left out: 4, 3, 3.1, 2.9, 2.8 → 3.
    expect(calibrationOf(runs)).toEqual({ factor: 3, runs: 5 });
  });

  it("learns from the model's own time, not from a prediction that was already scaled", () => {
    // Predicted 3 + 100 × 2 = 203 s with factor 2 applied; took 3 + 300 s: the model was 3× off.
    expect(
      runRatio(run(203, 303, 1, { prediction: { members: 1, calls: 1, rateCalls: 1, predictedSeconds: 203, calibration: 2 } })),
    ).toBeCloseTo(3);
  });

  it('stays within bounds', () => {
    expect(calibrationOf([run(START_SECONDS + 100, START_SECONDS + 10, 1)]).factor).toBe(0.8);
    expect(calibrationOf([run(START_SECONDS + 10, START_SECONDS + 1_000, 1)]).factor).toBe(20);
  });
});
