// run.slow compares a running run with the prediction its planner recorded (run.prediction); the
// facts once read a field no run has, so every run fell back to the fixed duration.
import { describe, expect, it } from 'vitest';
import { predictedSecondsOf } from '../../shared/webhooks/raiseEvents.js';
import type { RunRecord } from '../../shared/runs/run.js';

describe('the predicted time run.slow is measured against', () => {
  it("is the run's recorded prediction, and none before planning records one", () => {
    const prediction = { members: 1_000, calls: 1, rateCalls: 1, predictedSeconds: 600 };
    expect(predictedSecondsOf({ prediction } as RunRecord)).toBe(600);
    expect(predictedSecondsOf({} as RunRecord)).toBeNull();
    expect(predictedSecondsOf({ prediction: { ...prediction, predictedSeconds: 0 } } as RunRecord)).toBeNull();
  });
});
