import { describe, expect, it } from 'vitest';
import { iterable } from '../../shared/destinations/iterable.js';
import { dotdigital } from '../../shared/destinations/dotdigital.js';
import { campaignMonitor } from '../../shared/destinations/campaignMonitor.js';
import {
  COMPARISON_OVER_COUNT,
  PIPELINE_MEMBERS_PER_SECOND,
  PLANNING_MEMBERS_PER_SECOND,
  START_SECONDS,
  combinedSeconds,
  countedRatioFor,
  pollsFor,
  predictRun,
  sendCalls,
  sharedFinishSeconds,
} from '../../shared/plans/predictRun.js';

const ITERABLE_RATE = { requestsPerSecond: 5, burst: 5 };
const LIFTED = { requestsPerSecond: 1_000_000, burst: 1_000_000 };

describe('predictRun', () => {
  it('counts one call per batch, and half a call per chunk boundary for the partial batches', () => {
    expect(sendCalls(iterable, ITERABLE_RATE, 0)).toEqual({ calls: 0, chunks: 0 });
    expect(sendCalls(iterable, ITERABLE_RATE, 999)).toEqual({ calls: 1, chunks: 1 });
    // 1M at 5/s: 4 senders → 50-batch chunks of 50,000 → 20 chunks.
    expect(sendCalls(iterable, ITERABLE_RATE, 1_000_000)).toEqual({ calls: 1_000 + 9, chunks: 20 });
  });

  it('predicts the rate floor plus the start when the rate binds', () => {
    const prediction = predictRun(iterable, ITERABLE_RATE, { send: [1_000_000], remove: 0 });
    expect(prediction.rateCalls).toBe(1_009);
    expect(prediction.basis.rateSeconds).toBeCloseTo((1_009 - 5) / 5, 1);
    expect(prediction.predictedSeconds).toBeCloseTo(START_SECONDS + (1_009 - 5) / 5, 1);
  });

  it('predicts the pipeline speed when the rate is lifted', () => {
    const prediction = predictRun(campaignMonitor, LIFTED, { send: [1_000_000], remove: 0 });
    expect(prediction.basis.rateSeconds).toBe(0);
    expect(prediction.predictedSeconds).toBeCloseTo(START_SECONDS + 1_000_000 / PIPELINE_MEMBERS_PER_SECOND, 1);
  });

  it("adds removal calls at the adapter's removal batch size", () => {
    const one = { ...iterable, removalBatchSize: 1 };
    // 15,000 to send: three chunks of 5,000, so 15 batches and one partial batch expected.
    expect(predictRun(one, ITERABLE_RATE, { send: [15_000], remove: 5_000 }).calls).toBe(16 + 5_000);
    expect(predictRun(iterable, ITERABLE_RATE, { send: [15_000], remove: 5_000 }).calls).toBe(16 + 5);
  });

  it('counts every vendor call of a removal: dotdigital looks the contact up, then deletes it', () => {
    const removing = predictRun(dotdigital, { requestsPerSecond: 35 / 60, burst: 3 }, { send: [], remove: 100 });
    expect(removing.calls).toBe(200);
    // 200 calls at 35 a minute, after a burst of 3.
    expect(removing.predictedSeconds).toBeGreaterThan((200 - 3) / (35 / 60));
  });

  it("counts an import vendor's uploads, polls and report reads, and the jobs' own time", () => {
    const job = dotdigital.importJob!;
    // 1 s, 2 s, 4 s, 8 s, 16 s: a 30 s job is seen finished at the fifth poll (31 s).
    expect(pollsFor(job, job.typicalSeconds)).toBe(5);
    const prediction = predictRun(dotdigital, { requestsPerSecond: 35 / 60, burst: 3 }, { send: [100_000], remove: 0 });
    expect(prediction.rateCalls).toBe(2);
    expect(prediction.calls).toBe(2 * (1 + 1 + 5));
    // One chunk: one sender, so its two jobs run one after the other.
    expect(prediction.basis.jobSeconds).toBe(2 * job.typicalSeconds);
  });

  it('shares the rate with the runs active on the connection', () => {
    // Alone: 100 calls at 1/s. With a run of 50 calls active: both at 0.5/s until it ends at 100 s.
    expect(sharedFinishSeconds(100, [], 1)).toBeCloseTo(100);
    expect(sharedFinishSeconds(100, [{ exportId: 'a', rateCalls: 50, startsInSeconds: 0 }], 1)).toBeCloseTo(150);
    // A bigger one: ours ends first, at twice its own time.
    expect(sharedFinishSeconds(100, [{ exportId: 'a', rateCalls: 500, startsInSeconds: 0 }], 1)).toBeCloseTo(200);
    // A scheduled one after ours has ended changes nothing; one starting half-way adds its share.
    expect(sharedFinishSeconds(100, [{ exportId: 'a', rateCalls: 500, startsInSeconds: 120 }], 1)).toBeCloseTo(100);
    expect(sharedFinishSeconds(100, [{ exportId: 'a', rateCalls: 500, startsInSeconds: 50 }], 1)).toBeCloseTo(150);
    const shared = predictRun(iterable, ITERABLE_RATE, { send: [100_000], remove: 0 }, [
      { exportId: 'a', rateCalls: 100, startsInSeconds: 0 },
    ]);
    // No burst for us (the other run drains the bucket): 100 + 100 calls at 5/s.
    expect(shared.basis.rateSeconds + shared.basis.sharedSeconds).toBeCloseTo(40, 0);
  });

  it('predicts only the start for a run with nothing to do', () => {
    expect(predictRun(iterable, ITERABLE_RATE, { send: [], remove: 0 })).toMatchObject({ calls: 0, predictedSeconds: START_SECONDS });
  });
});

describe('predictRun for an export that keeps a snapshot', () => {
  it('counts a partial batch per key-bucket file: the changes of a 1M segment over 32 buckets', () => {
    // 1% changed + 0.5% joined = 15,000 to send, 5,000 left: about 470 and 160 per bucket file.
    const prediction = predictRun(iterable, ITERABLE_RATE, { send: [15_000], remove: 5_000, buckets: 32, chunkBasis: 1_000_000 });
    expect(prediction.calls).toBe(32 + 32);
    // Everyone, spread over 32 files of 31,250: 32 batches each (the last one partial).
    expect(predictRun(iterable, ITERABLE_RATE, { send: [1_000_000], remove: 0, buckets: 32 }).calls).toBe(32 * 32);
  });
});

describe("predictRun: the run's parts", () => {
  const everyone = { send: [200_000], remove: 0, buckets: 8, chunkBasis: 200_000 };

  it('adds the comparison before sending for an export that keeps a snapshot: a first delivery and a changes run differ', () => {
    const first = predictRun(iterable, ITERABLE_RATE, { ...everyone, planning: { kind: 'everyone', members: 200_000 } });
    const comparing = 200_000 / PLANNING_MEMBERS_PER_SECOND.everyone;
    expect(first.basis.diffSeconds).toBeCloseTo(comparing, 1);
    expect(first.basis.readSeconds).toBe(0);
    expect(first.predictedSeconds).toBeCloseTo(START_SECONDS + comparing + first.basis.rateSeconds, 0);
    // The changes run writes few send rows but reads and rewrites the snapshot: its own speed.
    const changes = predictRun(iterable, ITERABLE_RATE, {
      send: [3_000],
      remove: 1_000,
      buckets: 8,
      chunkBasis: 200_000,
      planning: { kind: 'changes', members: 200_000 },
    });
    expect(changes.model.planningSeconds).toBeCloseTo(200_000 / PLANNING_MEMBERS_PER_SECOND.changes, 1);
    expect(changes.model.planningKind).toBe('changes');
    expect(changes.model.planningSeconds).not.toBeCloseTo(first.model.planningSeconds, 0);
  });

  it("counts a plain run's read of the segment, sending a partition at a time while it reads", () => {
    const work = { send: [1_000_000], remove: 0, planning: { kind: 'read' as const, members: 1_000_000, pieces: 4 } };
    const plain = predictRun(iterable, ITERABLE_RATE, work);
    const reading = 1_000_000 / PLANNING_MEMBERS_PER_SECOND.read;
    const sending = (1_009 - 5) / 5;
    expect(plain.basis.readSeconds).toBeCloseTo(reading, 1);
    expect(plain.basis.diffSeconds).toBe(0);
    expect(plain.basis.overlapped).toBe(true);
    // Send-bound: the first of four partitions is read before its chunks go, the rest meanwhile.
    expect(plain.predictedSeconds).toBeCloseTo(START_SECONDS + sending + reading / 4, 0);
    // A planner that reads thirty times slower (a loaded machine) makes the read the bound.
    const slow = predictRun(iterable, ITERABLE_RATE, work, [], { planning: 30 });
    expect(slow.predictedSeconds).toBeCloseTo(START_SECONDS + 30 * reading + sending / 4, 0);
  });

  it('takes the longer of reading and sending, plus a piece of the shorter, when they overlap', () => {
    expect(combinedSeconds(30, 200, false, 4)).toBe(230);
    // Send-bound: the first partition is read before anything is sent.
    expect(combinedSeconds(30, 200, true, 4)).toBeCloseTo(200 + 30 / 4);
    // Read-bound (the rate lifted): the last partition's members are sent after the read ends.
    expect(combinedSeconds(60, 20, true, 4)).toBeCloseTo(60 + 5);
    // One partition cannot overlap anything.
    expect(combinedSeconds(30, 200, true, 1)).toBe(230);
  });

  it('applies each learnt factor to its own part only', () => {
    const work = { ...everyone, planning: { kind: 'everyone' as const, members: 200_000 } };
    const model = predictRun(iterable, ITERABLE_RATE, work);
    const slowPlanner = predictRun(iterable, ITERABLE_RATE, work, [], { planning: 3 });
    const slowVendor = predictRun(iterable, ITERABLE_RATE, work, [], { send: 2 });
    expect(slowPlanner.predictedSeconds - model.predictedSeconds).toBeCloseTo(2 * model.basis.diffSeconds, 0);
    expect(slowVendor.predictedSeconds - model.predictedSeconds).toBeCloseTo(model.basis.sendSeconds, 0);
    // What the run records to learn from is the model's own, whatever the factors.
    expect(slowPlanner.model).toEqual(model.model);
    expect(slowVendor.basis).toMatchObject({ calibration: 2, planningCalibration: 1 });
  });
});

describe("predictRun: a comparison predicted from the plan's count", () => {
  // The changes of a 1M segment (BENCHMARKS.md's audience-sync run): 15,000 sent, 5,000 removed.
  const changes = { send: [15_000], remove: 5_000, buckets: 32, chunkBasis: 1_000_000 };
  const counted = (countedSeconds: number) => ({ ...changes, planning: { kind: 'changes' as const, members: 1_000_000, countedSeconds } });

  it("follows the count's time, not the speed per kind: a count twice as slow (a loaded machine) doubles the comparison", () => {
    const quiet = predictRun(iterable, ITERABLE_RATE, counted(20));
    const loaded = predictRun(iterable, ITERABLE_RATE, counted(40));
    expect(quiet.basis.diffSeconds).toBeCloseTo(20 * COMPARISON_OVER_COUNT, 1);
    expect(loaded.basis.diffSeconds).toBeCloseTo(40 * COMPARISON_OVER_COUNT, 1);
    expect(loaded.predictedSeconds - quiet.predictedSeconds).toBeCloseTo(20 * COMPARISON_OVER_COUNT, 0);
    expect(quiet.basis).toMatchObject({ countedSeconds: 20, countedRatio: COMPARISON_OVER_COUNT, planningCalibration: 1 });
    // Uncounted, the same work is the model's speed per kind.
    const uncounted = predictRun(iterable, ITERABLE_RATE, { ...changes, planning: { kind: 'changes', members: 1_000_000 } });
    expect(uncounted.basis.diffSeconds).toBeCloseTo(1_000_000 / PLANNING_MEMBERS_PER_SECOND.changes, 1);
    expect(uncounted.basis).toMatchObject({ countedSeconds: null, countedRatio: null });
  });

  it('takes a learnt ratio over the default, and no factor on the speed per kind', () => {
    const learnt = predictRun(iterable, ITERABLE_RATE, counted(20), [], { planning: 3, countedRatio: 2.5 });
    expect(learnt.basis.diffSeconds).toBeCloseTo(50, 1);
    expect(learnt.basis.planningCalibration).toBe(1);
    // It records the count with the model's own planning time, for calibration to learn both.
    expect(learnt.model).toMatchObject({ planningKind: 'changes', countedSeconds: 20 });
    expect(learnt.model.planningSeconds).toBeCloseTo(1_000_000 / PLANNING_MEMBERS_PER_SECOND.changes, 1);
  });

  it("scales the default by the kinds' relative work, and leaves a plain read to its own speed", () => {
    expect(countedRatioFor('changes')).toBe(COMPARISON_OVER_COUNT);
    expect(countedRatioFor('everyone')).toBeCloseTo(
      (COMPARISON_OVER_COUNT * PLANNING_MEMBERS_PER_SECOND.changes) / PLANNING_MEMBERS_PER_SECOND.everyone,
    );
    const resync = predictRun(iterable, ITERABLE_RATE, {
      send: [1_000_000],
      remove: 0,
      buckets: 32,
      planning: { kind: 'everyone', members: 1_000_000, countedSeconds: 20 },
    });
    expect(resync.basis.diffSeconds).toBeCloseTo(20 * countedRatioFor('everyone'), 1);
    const plain = predictRun(iterable, ITERABLE_RATE, {
      send: [1_000_000],
      remove: 0,
      planning: { kind: 'read', members: 1_000_000, pieces: 4, countedSeconds: 20 },
    });
    expect(plain.basis.readSeconds).toBeCloseTo(1_000_000 / PLANNING_MEMBERS_PER_SECOND.read, 1);
    expect(plain.model.countedSeconds).toBeUndefined();
  });
});
