// How this deployment's runs compare with the model, part by part. The model knows the vendor's
// rate, the engine's batching and the planner's speed on the machine it was measured on; a loaded
// host, a slow vendor or another machine differ, and the runs already made say by how much:
// - sending: the median, over the connection's newest runs, of the send task's time over the
//   model's sending time (the rate and the vendor are the connection's own);
// - planning: the median, over this deployment's newest runs of the same planning kind (a plain
//   read, a first delivery's comparison, a changes run's), of the plan task's time over the
//   model's planning time (the planner's speed is the machine's, whatever the connection).
// - a counted comparison (predictRun.ts, COMPARISON_OVER_COUNT): the median of the plan task's
//   time over the count's, over the newest runs of the kind that were counted before they ran;
//   with none of the kind, the other comparing kind's, scaled by the kinds' relative work.
// Each run records the model's own part times with its prediction (predictRun.ts, `model`), and
// its tasks record when planning and sending began and ended: no run is learnt from twice over.
import { listRuns } from '../runs/runStore.js';
import type { RunRecord } from '../runs/run.js';
import {
  countable,
  countedRatioFor,
  PLANNING_SETUP_SECONDS,
  SENDING_SETUP_SECONDS,
  type PartFactors,
  type PlanningKind,
} from './predictRun.js';

export interface Calibration {
  /** Factor on the model's sending time (1: no history). */
  factor: number;
  /** Runs it was learnt from. */
  runs: number;
  /** Factor on the model's planning time for the kind asked for (1: no history). */
  planning: number;
  /** Runs that one was learnt from. */
  planningRuns: number;
  /** The comparison's time over the plan's count's, for the kind asked for (undefined: no counted run yet). */
  countedRatio?: number;
  /** Runs that one was learnt from. */
  countedRuns: number;
}

/** Runs considered, newest first: enough to smooth one odd run, few enough to follow the machine. */
const RECENT_RUNS = 5;
/** Runs whose modelled sending is shorter than this say more about queue hops than about rate. */
const LEAST_SEND_SECONDS = 2;
/** Planning shorter than this is mostly the planner's set-up, not its speed. */
const LEAST_PLANNING_SECONDS = 1;
const RUNS_PER_EXPORT = 10;
const MAX_EXPORTS = 20;
/** Bounds: a run never beats its rate by much, and a factor past 20 says something is wrong, not slow. */
const LEAST_SEND_FACTOR = 0.8;
/** The planner's speed was measured under load: a quiet machine may read several times faster. */
const LEAST_PLANNING_FACTOR = 0.2;
const MOST_FACTOR = 20;

const at = (value: string | null | undefined) => (value ? Date.parse(value) : NaN);
const taskOf = (run: RunRecord, name: string) => run.tasks?.find((task) => task.name === name);
const delivered = (run: RunRecord) => Boolean(run.finishedAt) && (run.status === 'succeeded' || run.status === 'partiallySucceeded');

/** What a finished run's tasks say it spent planning and sending, in seconds (undefined where they do not say). */
export function actualParts(run: RunRecord): { planning?: number; sending?: number } {
  const plan = taskOf(run, 'plan');
  const send = taskOf(run, 'send');
  const planStart = at(plan?.startedAt ?? run.startedAt);
  const planEnd = at(plan?.finishedAt);
  const end = at(run.finishedAt);
  // Sending starts as the first chunk is queued: when planning ends, or sooner for a planner that
  // queues chunks while it reads.
  const sendStart = Math.min(at(send?.startedAt) || Infinity, planEnd || Infinity);
  return {
    planning: planEnd >= planStart ? (planEnd - planStart) / 1000 : undefined,
    sending: end >= sendStart ? (end - sendStart) / 1000 : undefined,
  };
}

/**
 * The ratio of the sending a finished run teaches: its send task's time (less the fixed part
 * around it) over the model's own (uncalibrated) sending time. A run whose planner still read through most of its sending was
 * bound by the read, not the rate: it says nothing about sending.
 */
export function sendRatio(run: RunRecord): number | undefined {
  const model = run.prediction?.model;
  if (!model || !delivered(run) || model.sendSeconds < LEAST_SEND_SECONDS) return undefined;
  const { planning, sending } = actualParts(run);
  if (sending === undefined) return undefined;
  if (model.overlapped && planning !== undefined) {
    const planEnd = at(taskOf(run, 'plan')?.finishedAt);
    if (planEnd - (at(run.finishedAt) - sending * 1000) > (sending * 1000) / 2) return undefined;
  }
  return Math.max(0, sending - SENDING_SETUP_SECONDS) / model.sendSeconds;
}

/** The ratio of the planning a finished run teaches: its plan task's time (less the set-up) over the model's. */
export function planningRatio(run: RunRecord): number | undefined {
  const model = run.prediction?.model;
  if (!model?.planningKind || !delivered(run) || model.planningSeconds < LEAST_PLANNING_SECONDS) return undefined;
  const { planning } = actualParts(run);
  if (planning === undefined) return undefined;
  return Math.max(0, planning - PLANNING_SETUP_SECONDS) / model.planningSeconds;
}

/** The comparison's time over the count the plan made before the run (when it was counted). */
export function countedRatio(run: RunRecord): number | undefined {
  const model = run.prediction?.model;
  if (!countable(model?.planningKind ?? undefined) || !model?.countedSeconds || !delivered(run)) return undefined;
  const { planning } = actualParts(run);
  if (planning === undefined) return undefined;
  return Math.max(0, planning - PLANNING_SETUP_SECONDS) / model.countedSeconds;
}

/** The weighted median of the newest runs' ratios (each run weighs 1 unless `weight` says). */
function medianOfNewest(
  runs: RunRecord[],
  ratio: (run: RunRecord) => number | undefined,
  bounds: [number, number],
  weight: (run: RunRecord) => number = () => 1,
): { factor: number; runs: number } {
  const ratios = runs
    .filter((run) => ratio(run) !== undefined)
    .sort((a, b) => (b.finishedAt ?? '').localeCompare(a.finishedAt ?? ''))
    .slice(0, RECENT_RUNS)
    .map((run) => ({ ratio: ratio(run)!, weight: weight(run) }))
    .sort((a, b) => a.ratio - b.ratio);
  if (ratios.length === 0) return { factor: 1, runs: 0 };
  const half = ratios.reduce((sum, each) => sum + each.weight, 0) / 2;
  let below = 0;
  let median = ratios[ratios.length - 1]!.ratio;
  for (const [index, each] of ratios.entries()) {
    below += each.weight;
    if (below < half - 1e-9) continue;
    // Exactly half below: between this ratio and the next (the plain median of an even count).
    median = Math.abs(below - half) < 1e-9 && index + 1 < ratios.length ? (each.ratio + ratios[index + 1]!.ratio) / 2 : each.ratio;
    break;
  }
  return { factor: Math.round(Math.min(bounds[1], Math.max(bounds[0], median)) * 100) / 100, runs: ratios.length };
}

/**
 * The sending factor learnt from a connection's runs, each weighted by its modelled sending: a
 * short send's time is mostly its fixed part (hops, the last chunk's writes, the finalizer), not
 * the rate's. In the 1M benchmark at load 13 a changes run's 64 calls (11.8 s of rate) took 3.3 ×
 * that, the first delivery's 1,023 calls 1.2 ×; the plain median of the two, 2.26, then doubled
 * the full resend's prediction (BENCHMARKS.md, "Planning predicted from the plan's own count").
 */
export function sendCalibrationOf(runs: RunRecord[]): { factor: number; runs: number } {
  return medianOfNewest(runs, sendRatio, [LEAST_SEND_FACTOR, MOST_FACTOR], (run) => run.prediction!.model!.sendSeconds);
}

/**
 * The planning factor for `kind` learnt from the deployment's runs: from runs of that kind; with
 * none yet, halfway (in ratio: its square root) to the factor of runs of any kind. The planner's
 * speed is the machine's, and a busy machine slows every kind, but not alike: in the 1M
 * benchmarks a first delivery and a changes run took 0.95 and 0.85 × the model at load 3–9, 0.47
 * and 0.57 × at load 2–3; at 200k 0.61 and 1.1 × at load 4–7. Taken whole, another kind's factor
 * missed by up to 30 %, the model alone too; halfway missed by at most 18 %.
 */
export function planningCalibrationOf(runs: RunRecord[], kind: PlanningKind | undefined): { factor: number; runs: number } {
  if (!kind) return { factor: 1, runs: 0 };
  const bounds: [number, number] = [LEAST_PLANNING_FACTOR, MOST_FACTOR];
  const own = medianOfNewest(
    runs.filter((run) => run.prediction?.model?.planningKind === kind),
    planningRatio,
    bounds,
  );
  if (own.runs > 0) return own;
  const other = medianOfNewest(runs, planningRatio, bounds);
  return { factor: Math.round(Math.sqrt(other.factor) * 100) / 100, runs: other.runs };
}

/**
 * The ratio of a counted comparison for `kind`, from the deployment's counted runs: of that kind;
 * with none, of the other comparing kind, each run's ratio scaled by the kinds' relative work
 * (countedRatioFor). Undefined with no counted run: predictRun takes the benchmark's figure.
 */
export function countedCalibrationOf(runs: RunRecord[], kind: PlanningKind | undefined): { ratio?: number; runs: number } {
  if (!countable(kind)) return { runs: 0 };
  const bounds: [number, number] = [LEAST_PLANNING_FACTOR, MOST_FACTOR * countedRatioFor(kind)];
  const counted = runs.filter((run) => countedRatio(run) !== undefined);
  const own = counted.filter((run) => run.prediction?.model?.planningKind === kind);
  const scaledTo = (run: RunRecord) => {
    const its = run.prediction!.model!.planningKind!;
    return (countedRatio(run)! * countedRatioFor(kind)) / countedRatioFor(its);
  };
  const learnt = medianOfNewest(own.length > 0 ? own : counted, own.length > 0 ? countedRatio : scaledTo, bounds);
  return learnt.runs > 0 ? { ratio: learnt.factor, runs: learnt.runs } : { runs: 0 };
}

export function calibrationOf(connectionRuns: RunRecord[], deploymentRuns: RunRecord[], kind?: PlanningKind): Calibration {
  const send = sendCalibrationOf(connectionRuns);
  const planning = planningCalibrationOf(deploymentRuns, kind);
  const counted = countedCalibrationOf(deploymentRuns, kind);
  return {
    factor: send.factor,
    runs: send.runs,
    planning: planning.factor,
    planningRuns: planning.runs,
    ...(counted.ratio !== undefined ? { countedRatio: counted.ratio } : {}),
    countedRuns: counted.runs,
  };
}

/** The factors to hand to predictRun. */
export const partFactors = (calibration: Calibration): PartFactors => ({
  send: calibration.factor,
  planning: calibration.planning,
  ...(calibration.countedRatio !== undefined ? { countedRatio: calibration.countedRatio } : {}),
});

async function newestRuns(exportIds: string[]): Promise<RunRecord[]> {
  const runs: RunRecord[] = [];
  for (const exportId of exportIds.slice(0, MAX_EXPORTS)) runs.push(...(await listRuns(exportId, RUNS_PER_EXPORT)).runs);
  return runs;
}

/**
 * The calibration learnt from the newest runs: sending from the exports on one connection
 * (`connectionExportIds`), planning from the deployment's segment exports (`deploymentExportIds`,
 * the most recently run first), for the planning kind the run will do.
 */
export async function calibrationFor(
  connectionExportIds: string[],
  deploymentExportIds: string[],
  kind: PlanningKind | undefined,
): Promise<Calibration> {
  const connectionRuns = await newestRuns(connectionExportIds);
  const known = new Set(connectionExportIds.slice(0, MAX_EXPORTS));
  const deploymentRuns = [...connectionRuns, ...(await newestRuns(deploymentExportIds.filter((id) => !known.has(id))))];
  return calibrationOf(connectionRuns, deploymentRuns, kind);
}
