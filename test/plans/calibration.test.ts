import { describe, expect, it } from 'vitest';
import {
  actualParts,
  calibrationOf,
  countedCalibrationOf,
  countedRatio,
  partFactors,
  planningCalibrationOf,
  planningRatio,
  sendCalibrationOf,
  sendRatio,
} from '../../shared/plans/calibration.js';
import {
  countedRatioFor,
  PLANNING_SETUP_SECONDS,
  SENDING_SETUP_SECONDS,
  type PlanningKind,
  type RunModel,
} from '../../shared/plans/predictRun.js';
import type { RunRecord } from '../../shared/runs/run.js';

interface Timed {
  /** Seconds the plan task took, and the send task after it (or from `sendFrom` s after the start). */
  planning: number;
  sending: number;
  sendFrom?: number;
  /** The model's own part times the run recorded. */
  model: Partial<RunModel>;
  finishedMinute?: number;
  status?: RunRecord['status'];
}

/** A finished run whose tasks took these times, with the model it recorded at its start. */
function run({ planning, sending, sendFrom = planning, model, finishedMinute = 1, status = 'succeeded' }: Timed): RunRecord {
  const end = Date.UTC(2026, 11, 2, 1, finishedMinute);
  const start = end - (sendFrom + sending) * 1000;
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    status,
    startedAt: iso(start),
    finishedAt: iso(end),
    tasks: [
      { name: 'plan', status: 'succeeded', startedAt: iso(start), finishedAt: iso(start + planning * 1000) },
      { name: 'send', status: 'succeeded', startedAt: iso(start + sendFrom * 1000), finishedAt: iso(end) },
      { name: 'finalize', status: 'succeeded', startedAt: iso(end), finishedAt: iso(end) },
    ],
    prediction: {
      members: 1,
      calls: 1,
      rateCalls: 1,
      predictedSeconds: 1,
      model: { planningKind: 'read', planningSeconds: 0, sendSeconds: 0, overlapped: false, ...model },
    },
  } as RunRecord;
}

/** A run whose parts took `factor` × the model's (plus the fixed set-ups). */
const scaled = (
  kind: PlanningKind,
  planningFactor: number,
  sendFactor: number,
  minute: number,
  modelSeconds = { planning: 20, send: 40 },
) =>
  run({
    planning: PLANNING_SETUP_SECONDS + modelSeconds.planning * planningFactor,
    sending: SENDING_SETUP_SECONDS + modelSeconds.send * sendFactor,
    model: { planningKind: kind, planningSeconds: modelSeconds.planning, sendSeconds: modelSeconds.send },
    finishedMinute: minute,
  });

describe('the parts a run took', () => {
  it('reads planning from the plan task and sending from when the first chunk could go to the end', () => {
    expect(actualParts(run({ planning: 20, sending: 40, model: {} }))).toEqual({ planning: 20, sending: 40 });
    // A planner that queues chunks while it reads: sending starts before planning ends.
    expect(actualParts(run({ planning: 20, sendFrom: 2, sending: 40, model: {} }))).toEqual({ planning: 20, sending: 40 });
  });
});

describe('calibration, part by part', () => {
  it('is 1 without history, and ignores runs without a model, unfinished, failed or too short to say', () => {
    expect(calibrationOf([], [])).toEqual({ factor: 1, runs: 0, planning: 1, planningRuns: 0, countedRuns: 0 });
    const withoutModel = { ...scaled('read', 2, 2, 1), prediction: { members: 1, calls: 1, rateCalls: 1, predictedSeconds: 60 } };
    const failed = { ...scaled('read', 2, 2, 2), status: 'failed' as const };
    const unfinished = { ...scaled('read', 2, 2, 3), finishedAt: null };
    const tiny = scaled('read', 5, 5, 4, { planning: 0.5, send: 1 });
    const runs = [withoutModel, failed, unfinished, tiny];
    expect(calibrationOf(runs, runs, 'read')).toEqual({ factor: 1, runs: 0, planning: 1, planningRuns: 0, countedRuns: 0 });
  });

  it('learns sending from the send task and planning from the plan task, each against its own model', () => {
    // Planning took 4× its model (a loaded machine), sending just its rate.
    const runs = [scaled('everyone', 4, 1, 1)];
    expect(sendRatio(runs[0]!)).toBeCloseTo(1);
    expect(planningRatio(runs[0]!)).toBeCloseTo(4);
    expect(calibrationOf(runs, runs, 'everyone')).toEqual({ factor: 1, runs: 1, planning: 4, planningRuns: 1, countedRuns: 0 });
  });

  it('does not carry a slow comparison over to the sending of a plain run', () => {
    // The fault this replaces: a first changes run that was mostly comparison taught a single
    // factor of 3.4, which then tripled a plain send's prediction.
    const firstDelivery = scaled('everyone', 3.4, 1.05, 1, { planning: 60, send: 40 });
    const calibration = calibrationOf([firstDelivery], [firstDelivery], 'read');
    expect(calibration.factor).toBeCloseTo(1.05, 2);
  });

  it("takes the planning factor from runs of the same kind, else halfway to the machine's other runs'", () => {
    const runs = [scaled('everyone', 2, 1, 1), scaled('changes', 0.5, 1, 2), scaled('changes', 0.7, 1, 3)];
    expect(planningCalibrationOf(runs, 'changes').factor).toBeCloseTo(0.6);
    expect(planningCalibrationOf(runs, 'everyone').factor).toBeCloseTo(2);
    // No plain read yet: halfway to the median of every kind (0.5, 0.7, 2 → 0.7).
    expect(planningCalibrationOf(runs, 'read')).toEqual({ factor: 0.84, runs: 3 });
    expect(planningCalibrationOf([scaled('everyone', 4, 1, 1)], 'changes')).toEqual({ factor: 2, runs: 1 });
    expect(planningCalibrationOf(runs, undefined)).toEqual({ factor: 1, runs: 0 });
  });

  it('takes the median of the newest five', () => {
    const factors = [2, 4, 3, 3.1, 2.9, 2.8];
    const runs = factors.map((factor, index) => scaled('read', factor, factor, index + 1));
    // The oldest (×2) is left out: 4, 3, 3.1, 2.9, 2.8 → 3.
    expect(sendCalibrationOf(runs)).toEqual({ factor: 3, runs: 5 });
    expect(planningCalibrationOf(runs, 'read')).toEqual({ factor: 3, runs: 5 });
  });

  it("weighs each run's sending by its length: a short send's fixed part is the queue's, not the rate's", () => {
    // The 1M benchmark at load 13: a changes run's 64 calls (11.8 s of rate) sent in 43 s, the
    // first delivery's 1,023 calls (203.8 s) in 250 s; the short one's 3.3 doubled the full resend's.
    const changes = run({ planning: 60, sending: 43.2, model: { planningKind: 'changes', planningSeconds: 66.7, sendSeconds: 11.8 } });
    const first = run({
      planning: 270,
      sending: 249.8,
      model: { planningKind: 'everyone', planningSeconds: 83.3, sendSeconds: 203.8 },
      finishedMinute: 0,
    });
    expect(sendRatio(changes)).toBeCloseTo(3.32, 2);
    expect(sendCalibrationOf([first, changes])).toEqual({ factor: 1.21, runs: 2 });
    // Alone, a short send still teaches its own.
    expect(sendCalibrationOf([changes]).factor).toBeCloseTo(3.32, 2);
  });

  it('learns nothing about sending from an overlapped run bound by its read', () => {
    const overlapped = { planningKind: 'read' as const, planningSeconds: 60, sendSeconds: 10, overlapped: true };
    // The read went on through nearly all of the sending: the send task's time is the read's.
    const readBound = run({ planning: 62, sendFrom: 2, sending: 64, model: overlapped });
    expect(sendRatio(readBound)).toBeUndefined();
    expect(planningRatio(readBound)).toBeCloseTo((62 - PLANNING_SETUP_SECONDS) / 60);
    // Send-bound: the read ended early in the sending.
    const sendBound = run({ planning: 12, sendFrom: 2, sending: 44, model: { ...overlapped, planningSeconds: 10, sendSeconds: 40 } });
    expect(sendRatio(sendBound)).toBeCloseTo((44 - SENDING_SETUP_SECONDS) / 40);
  });

  it('stays within bounds: sending never far under its rate, planning may be faster than measured under load', () => {
    expect(sendCalibrationOf([scaled('read', 1, 0.1, 1)]).factor).toBe(0.8);
    expect(sendCalibrationOf([scaled('read', 1, 100, 1)]).factor).toBe(20);
    expect(planningCalibrationOf([scaled('read', 0.4, 1, 1)], 'read').factor).toBe(0.4);
    expect(planningCalibrationOf([scaled('read', 0.01, 1, 1)], 'read').factor).toBe(0.2);
  });
});

describe("calibration of a comparison predicted from the plan's count", () => {
  /** A run counted by a plan before it: its comparison took `ratio` × the count's seconds. */
  const counted = (kind: PlanningKind, ratio: number, minute: number, countedSeconds = 20) =>
    run({
      planning: PLANNING_SETUP_SECONDS + countedSeconds * ratio,
      sending: SENDING_SETUP_SECONDS + 12,
      model: { planningKind: kind, planningSeconds: 66.7, sendSeconds: 12, countedSeconds },
      finishedMinute: minute,
    });

  it('learns the comparison over the count from counted runs only, and hands it to predictRun', () => {
    expect(countedRatio(counted('changes', 3, 1))).toBeCloseTo(3);
    // A run not counted before it (no plan asked, or a first delivery) teaches no ratio.
    expect(countedRatio(scaled('changes', 1, 1, 1))).toBeUndefined();
    expect(countedCalibrationOf([scaled('changes', 1, 1, 1)], 'changes')).toEqual({ runs: 0 });
    const runs = [counted('changes', 3, 1), counted('changes', 2.6, 2), counted('changes', 2.8, 3)];
    const calibration = calibrationOf(runs, runs, 'changes');
    expect(calibration).toMatchObject({ countedRatio: 2.8, countedRuns: 3 });
    expect(partFactors(calibration).countedRatio).toBe(2.8);
    expect(partFactors(calibrationOf([], [], 'changes')).countedRatio).toBeUndefined();
  });

  it("with none of its kind, takes the other comparing kind's, scaled by the kinds' relative work", () => {
    const runs = [counted('changes', 3, 1)];
    const scale = countedRatioFor('everyone') / countedRatioFor('changes');
    expect(countedCalibrationOf(runs, 'everyone')).toEqual({ ratio: Math.round(3 * scale * 100) / 100, runs: 1 });
    // Of its own kind once there is one.
    expect(countedCalibrationOf([...runs, counted('everyone', 5, 2)], 'everyone')).toEqual({ ratio: 5, runs: 1 });
    expect(countedCalibrationOf(runs, 'read')).toEqual({ runs: 0 });
  });
});
