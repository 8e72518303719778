// How this deployment's runs compare with the model: the median, over the newest runs on the
// connection that recorded a prediction, of actual over predicted transfer time. The model knows
// the vendor's rate and the engine's batching, not the machine: on a loaded host (or a slow
// vendor) runs take longer than the rate alone allows, and the runs already made say by how much.
import { listRuns } from '../runs/runStore.js';
import type { RunRecord } from '../runs/run.js';
import { START_SECONDS } from './predictRun.js';

export interface Calibration {
  /** Factor applied to the model's transfer time (1: no history). */
  factor: number;
  /** Runs it was learnt from. */
  runs: number;
}

/** Runs considered, newest first: enough to smooth one odd run, few enough to follow the machine. */
const RECENT_RUNS = 5;
/** Runs whose predicted transfer is shorter than this say more about queue hops than about rate. */
const LEAST_TRANSFER_SECONDS = 2;
const RUNS_PER_EXPORT = 10;
const MAX_EXPORTS = 20;
/** Bounds: a run never beats its rate by much, and a factor past 20 says something is wrong, not slow. */
const LEAST_FACTOR = 0.8;
const MOST_FACTOR = 20;

/** The ratio a finished run teaches: actual over the model's own (uncalibrated) transfer time. */
export function runRatio(run: RunRecord): number | undefined {
  if (!run.prediction || !run.startedAt || !run.finishedAt) return undefined;
  if (run.status !== 'succeeded' && run.status !== 'partiallySucceeded') return undefined;
  const modelTransfer = (run.prediction.predictedSeconds - START_SECONDS) / (run.prediction.calibration ?? 1);
  if (modelTransfer < LEAST_TRANSFER_SECONDS) return undefined;
  const actualTransfer = (Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000 - START_SECONDS;
  return Math.max(0, actualTransfer) / modelTransfer;
}

export function calibrationOf(runs: RunRecord[]): Calibration {
  const ratios = runs
    .filter((run) => runRatio(run) !== undefined)
    .sort((a, b) => b.finishedAt!.localeCompare(a.finishedAt!))
    .slice(0, RECENT_RUNS)
    .map((run) => runRatio(run)!)
    .sort((a, b) => a - b);
  if (ratios.length === 0) return { factor: 1, runs: 0 };
  const middle = ratios.length / 2;
  const median = ratios.length % 2 ? ratios[Math.floor(middle)]! : (ratios[middle - 1]! + ratios[middle]!) / 2;
  return { factor: Math.round(Math.min(MOST_FACTOR, Math.max(LEAST_FACTOR, median)) * 100) / 100, runs: ratios.length };
}

/** The calibration learnt from the newest runs of these exports (the exports on one connection). */
export async function calibrationFor(exportIds: string[]): Promise<Calibration> {
  const runs: RunRecord[] = [];
  for (const exportId of exportIds.slice(0, MAX_EXPORTS)) runs.push(...(await listRuns(exportId, RUNS_PER_EXPORT)).runs);
  return calibrationOf(runs);
}
