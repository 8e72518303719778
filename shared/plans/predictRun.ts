// What a run will cost before it starts: vendor calls from the adapter's batch sizes (and, for
// import-file vendors, the jobs' status polls), and time from the run's parts — the planner's read
// of the segment or its comparison with the last delivery, the sending at the connection's rate
// shared with the other runs on that connection, and the fixed start and finish. Pure: every
// input is passed in, so the same model predicts for `POST /exports/{id}/plan`, for a run at its
// start, and in tests; calibration.ts learns each part's factor from the runs already made.
import type { DestinationAdapter, ImportJobCost } from '../destinations/destination.js';
import { destinationConcurrency, type RateLimit } from '../runs/destinationAccess.js';
import { membersPerChunk } from '../segmentSender/chunkSize.js';
import { sendersFor } from '../segmentSender/senderSlots.js';
/** What a run has to do: members to send (per list) and members to remove. */
export interface RunWork {
  /** Members to send, one entry per list the engine sends to (a list per segment, or one shared). */
  send: number[];
  /** Members to take off the list (removals). */
  remove: number;
  /**
   * Exports that keep a snapshot (changes delivery, removals) send from files written per key
   * bucket: the members spread over this many files, each cut into its own chunks. Absent: 1.
   */
  buckets?: number;
  /** Members the planner sizes chunks for (the segments' total); absent: what is sent. */
  chunkBasis?: number;
  /** What the planner reads before (or while) the members are sent; absent: nothing modelled. */
  planning?: PlanningWork;
}

/**
 * How the planner gets to the members to send, each at its own speed:
 * - `read`: a plain run reads the segment (its email column, its repeated rows, the chunk cuts);
 * - `everyone`: an export that keeps a snapshot, sending everyone (its first delivery, a full
 *   resync, another mapping): every row spilled, compared, and written again as send files;
 * - `changes`: the same comparison writing only the changed members' rows;
 * - `retry`: a retry run spills only the members it retries.
 */
export const PLANNING_KINDS = ['read', 'everyone', 'changes', 'retry'] as const;
export type PlanningKind = (typeof PLANNING_KINDS)[number];

export interface PlanningWork {
  kind: PlanningKind;
  /** Rows the planner reads: the segments' members. */
  members: number;
  /** Pieces a plain read is queued by as each is read (the segments' partitions); absent: 1. */
  pieces?: number;
  /**
   * A comparison's probe of the machine: seconds the plan's count of the changes took per pass
   * over the members (countChanges.ts), asked just before. Absent: not counted.
   */
  countedSeconds?: number;
}

/** Factors learnt from the runs already made (calibration.ts), each on its own part of the model. */
export interface PartFactors {
  /** On the sending time (the connection's own runs). */
  send?: number;
  /** On the planning time (this deployment's runs of the same planning kind). */
  planning?: number;
  /** The comparison's time over the count's (PlanningWork.countedSeconds); absent: COMPARISON_OVER_COUNT. */
  countedRatio?: number;
}

/** Another run on the same connection, sharing its rate: now (startsInSeconds 0) or scheduled. */
export interface CompetingRun {
  exportId: string;
  runId?: string;
  /** Rate tokens it still needs (batch calls, import uploads). */
  rateCalls: number;
  startsInSeconds: number;
}

export interface RunPrediction {
  /** Vendor calls: send batches, removal calls and, for import-file vendors, uploads, status polls and report reads. */
  calls: number;
  /** Calls that each take one token of the connection's rate (batches, removals, import starts). */
  rateCalls: number;
  predictedSeconds: number;
  /** What the time is made of, for the plan's readers and the benchmark. */
  basis: {
    requestsPerSecond: number | null;
    /** Seconds the rate alone allows for this run, with the connection to itself. */
    rateSeconds: number;
    /** Seconds the engine needs at the pipeline's own speed (rate lifted). */
    pipelineSeconds: number;
    /** Seconds the vendor's import jobs take, run as many at a time as the connection allows. */
    jobSeconds: number;
    /** Seconds added by other runs sharing the connection's rate. */
    sharedSeconds: number;
    /** Seconds the planner spends comparing the segments with the snapshot (exports that keep one), calibrated. */
    diffSeconds: number;
    /** Seconds the planner of a plain run spends reading the segment, calibrated. */
    readSeconds: number;
    /** Seconds of sending: the longest of rate (with the shared part), pipeline and jobs, calibrated. */
    sendSeconds: number;
    /** Whether sending starts while the planner still reads (then the run takes about the longer of the two). */
    overlapped: boolean;
    startSeconds: number;
    /** Factor learnt from the connection's recent runs (shared/plans/calibration.ts), applied to the sending. */
    calibration: number;
    /** Factor learnt from this deployment's recent runs of the same planning kind, applied to the planning. */
    planningCalibration: number;
    /** Seconds the plan's count of the changes took per pass (null: not counted); the comparison is this × countedRatio. */
    countedSeconds: number | null;
    countedRatio: number | null;
  };
  /** The model's own part times, before any calibration: what a run records to learn from. */
  model: RunModel;
}

/** The uncalibrated parts a run records with its prediction (calibration.ts compares them with its tasks). */
export interface RunModel {
  planningKind: PlanningKind | null;
  planningSeconds: number;
  sendSeconds: number;
  overlapped: boolean;
  /** The count's seconds per pass the comparison was predicted from (calibration learns its ratio). */
  countedSeconds?: number;
}

/**
 * Fixed costs of any run, measured on the local stack (BENCHMARKS.md, "Plans: predicted against
 * actual"): the plan message's queue hop before the planner starts; the planner's set-up (model.json,
 * the partitions, the vendor's list); and around the sending, the chunk messages' hops, the last
 * chunk's ledger and snapshot writes and the finalizer — about 3–5 s over the rate's floor in the
 * 200,000-member runs, whatever their size.
 */
export const QUEUE_SECONDS = 1;
export const PLANNING_SETUP_SECONDS = 0.5;
export const SENDING_SETUP_SECONDS = 4;
export const START_SECONDS = QUEUE_SECONDS + PLANNING_SETUP_SECONDS + SENDING_SETUP_SECONDS;
/**
 * Members per second the engine moves when the vendor's rate does not bind (scan, match, JSON,
 * HTTP): BENCHMARKS.md's pipeline-overhead runs give 25,000–53,000 per second at 1M on two shared
 * cores; the lower figure keeps predictions on the safe side.
 */
export const PIPELINE_MEMBERS_PER_SECOND = 25_000;
/**
 * Members per second each kind of planning gets through on this 2-core machine (BENCHMARKS.md,
 * "Plans: predicted against actual": the plan tasks of the 1,000,000-member audience-sync
 * benchmark with the comparison in steps): the plain read of the email column (1M in 2.3–2.4 s
 * at load 1–3; 200,000 in 3.7–6 s at load 11–16, so a loaded figure); a first or full delivery's
 * two passes — spill every row, compare, write everyone's send file and the run's base (1M in
 * 106 s at load 3–9, 53 s at load 2–3); a changes run's, which also reads the snapshot and keeps
 * who left: since the removals' email check, 1.4–2 × a first delivery's time in the same
 * benchmark (82 s against 60 s quiet, 560 s against 277 s at load 13). A retry run spills only
 * whom it retries but reads every row: taken as a changes run's. Between the loaded and the quiet
 * figures; a count before the run (below) or the runs already made correct them (calibration.ts).
 */
export const PLANNING_MEMBERS_PER_SECOND: Record<PlanningKind, number> = {
  read: 100_000,
  everyone: 12_000,
  changes: 9_000,
  retry: 9_000,
};
/**
 * A comparison predicted from the count the plan made just before (PlanningWork.countedSeconds):
 * both read the segments and the snapshot on the machine as it is, so the count's time follows
 * the load that makes the speeds above miss 2× and more (BENCHMARKS.md, "The final model measured
 * at 1,000,000 members"). The planner's comparison took 4.1 × the count's time per pass at
 * 200,000 members (load 9), 4.7–5.2 × at 1M with storage in memory, but 6.0 × with storage on disk
 * as `npm start` keeps it: the comparison writes every row to spill files, the count only reads
 * (BENCHMARKS.md, "The full resend's lost minute and a half"). The default is the middle of that
 * range; a stalled comparison took 16 ×, so calibration.ts learns it per deployment. Other kinds
 * scale it by their relative work.
 */
export const COMPARISON_OVER_COUNT = 5.8;
export function countedRatioFor(kind: PlanningKind): number {
  return (COMPARISON_OVER_COUNT * PLANNING_MEMBERS_PER_SECOND.changes) / PLANNING_MEMBERS_PER_SECOND[kind];
}
/** Whether a kind's planning is a comparison whose time a count predicts. */
export const countable = (kind: PlanningKind | undefined): kind is 'everyone' | 'changes' => kind === 'everyone' || kind === 'changes';

/**
 * Whether a plain run's planner queues chunks while it still reads the segment, so that sending
 * overlaps the read: it does, a partition at a time (shared/segmentSender/planSegments.ts). A
 * delivery run's comparison must end before its send files exist.
 */
export const PLAIN_PLANNING_OVERLAPS_SENDING = true;
/** Requests per second from which the engine treats a rate as not binding (as senderSlots.ts does). */
const UNLIMITED_RATE = 50;

/**
 * Calls to send `members` to one list: a partial batch closes every chunk the planner cuts, and
 * every bucket file of a snapshot-keeping export (see RunWork.buckets).
 */
export function sendCalls(
  destination: DestinationAdapter,
  rate: RateLimit,
  members: number,
  options: { buckets?: number; chunkBasis?: number; batchSize?: number } = {},
): { calls: number; chunks: number } {
  if (members <= 0) return { calls: 0, chunks: 0 };
  const batchSize = options.batchSize ?? destination.batchSize;
  const perChunk = membersPerChunk(destination, rate.requestsPerSecond, options.chunkBasis ?? members, destinationConcurrency(destination));
  // Key buckets spread members evenly: every non-empty file holds about the same share.
  const files = Math.max(1, Math.min(options.buckets ?? 1, members));
  const perFile = members / files;
  const chunksPerFile = Math.ceil(perFile / perChunk);
  // Chunks are cut at byte offsets, so each holds about perChunk members and ends with a partial
  // batch about half the time: half a call more per chunk boundary on average. Files end with one.
  const partial = batchSize > 1 ? (chunksPerFile - 1) / 2 : 0;
  const callsPerFile = files > 1 ? Math.ceil(perFile / batchSize) + partial : Math.ceil(members / batchSize) + Math.floor(partial);
  return { calls: Math.round(files * callsPerFile), chunks: files * chunksPerFile };
}

/** Status polls one import makes when the vendor takes `seconds`: the adapter's growing delays until then. */
export function pollsFor(job: ImportJobCost, seconds: number): number {
  let polls = 1;
  let waited = job.polling.firstDelayMs;
  let delay = job.polling.firstDelayMs;
  while (waited < seconds * 1000) {
    delay = Math.min(job.polling.maxDelayMs, delay * job.polling.factor);
    waited += delay;
    polls++;
  }
  return polls;
}

/** Vendor calls of `jobs` import jobs holding `members` between them. */
function importCalls(job: ImportJobCost, jobs: number, members: number): number {
  const uploads = job.membersPerRequest ? Math.ceil(members / job.membersPerRequest) + Math.max(0, jobs - 1) : jobs;
  return uploads + jobs * (job.fixedCalls + pollsFor(job, job.typicalSeconds));
}

/**
 * When our run ends if the connection's rate is shared fairly between the runs that want it
 * (every sender of every run takes from one token bucket, and sender slots are handed out in
 * turn): processor sharing, stepped from one arrival or completion to the next.
 */
export function sharedFinishSeconds(ownCalls: number, others: CompetingRun[], requestsPerSecond: number): number {
  const active = [
    { own: true, left: ownCalls, starts: 0 },
    ...others.map((other) => ({ own: false, left: other.rateCalls, starts: Math.max(0, other.startsInSeconds) })),
  ].filter((job) => job.left > 0 || job.own);
  let now = 0;
  for (let step = 0; step < 10_000; step++) {
    const running = active.filter((job) => job.starts <= now && job.left > 0);
    const own = active[0]!;
    if (own.left <= 0) return now;
    const share = requestsPerSecond / running.length;
    const nextArrival = Math.min(...active.filter((job) => job.starts > now).map((job) => job.starts), Infinity);
    const nextDone = Math.min(...running.map((job) => job.left / share));
    const advance = Math.min(nextDone, nextArrival - now);
    for (const job of running) job.left -= share * advance;
    now += advance;
  }
  return now;
}

/** The planner's time for this work at the model's speed, before calibration. */
export function planningSeconds(planning: PlanningWork | undefined): number {
  return planning ? planning.members / PLANNING_MEMBERS_PER_SECOND[planning.kind] : 0;
}

/**
 * A run's time from its parts. Sending after planning: their sum. Sending while a plain run's
 * planner still reads, its chunks queued a piece (partition) at a time: the longer of the two,
 * plus a piece's worth of the shorter (the first piece read before anything is sent, or the last
 * piece's members sent after the read ends).
 */
export function combinedSeconds(planning: number, sending: number, overlapped: boolean, pieces: number): number {
  if (!overlapped) return planning + sending;
  return Math.max(planning, sending) + Math.min(planning, sending) / Math.max(1, pieces);
}

export function predictRun(
  destination: DestinationAdapter,
  rate: RateLimit,
  work: RunWork,
  competing: CompetingRun[] = [],
  factors: PartFactors = {},
): RunPrediction {
  const spread = { buckets: work.buckets, chunkBasis: work.chunkBasis };
  const lists = work.send.map((members) => sendCalls(destination, rate, members, spread));
  const jobsOrBatches = lists.reduce((sum, list) => sum + list.calls, 0);
  const chunks = lists.reduce((sum, list) => sum + list.chunks, 0);
  const sent = work.send.reduce((sum, members) => sum + members, 0);
  const removalCalls =
    sendCalls(destination, rate, work.remove, { ...spread, batchSize: destination.removalBatchSize ?? destination.batchSize }).calls *
    (destination.removalCallsPerBatch ?? 1);
  const job = destination.importJob;
  const calls = (job ? importCalls(job, jobsOrBatches, sent) : jobsOrBatches) + removalCalls;
  const rateCalls = jobsOrBatches + removalCalls;

  const binds = Number.isFinite(rate.requestsPerSecond) && rate.requestsPerSecond < UNLIMITED_RATE;
  const pipelineSeconds = (sent + work.remove) / PIPELINE_MEMBERS_PER_SECOND;
  const others = competing.filter((other) => other.rateCalls > 0);
  // The bucket starts full only when nobody else is drawing on it.
  const burst = others.some((other) => other.startsInSeconds <= 0) ? 0 : Math.min(rate.burst, rateCalls);
  const rateSeconds = binds ? Math.max(0, rateCalls - burst) / rate.requestsPerSecond : 0;
  const sharedSeconds =
    binds && others.length > 0 ? Math.max(0, sharedFinishSeconds(rateCalls - burst, others, rate.requestsPerSecond) - rateSeconds) : 0;
  let jobSeconds = 0;
  if (job && jobsOrBatches > 0) {
    // Jobs run side by side up to the vendor's cap, the connection's sender slots and the chunks.
    const parallel = Math.max(1, Math.min(destination.limits.maxConcurrentRequests ?? Infinity, sendersFor(rate) ?? Infinity, chunks));
    jobSeconds = Math.ceil(jobsOrBatches / parallel) * job.typicalSeconds;
  }
  const counted = work.planning && countable(work.planning.kind) ? work.planning.countedSeconds : undefined;
  const model: RunModel = {
    planningKind: work.planning?.kind ?? null,
    planningSeconds: planningSeconds(work.planning),
    sendSeconds: sent + work.remove > 0 ? Math.max(rateSeconds + sharedSeconds, pipelineSeconds, jobSeconds) : 0,
    overlapped: work.planning?.kind === 'read' && PLAIN_PLANNING_OVERLAPS_SENDING,
    ...(counted !== undefined ? { countedSeconds: counted } : {}),
  };
  const sendFactor = factors.send ?? 1;
  // A counted comparison follows the count; otherwise the speed per kind, calibrated.
  const countedRatio = counted !== undefined ? (factors.countedRatio ?? countedRatioFor(work.planning!.kind)) : null;
  const planningFactor = countedRatio === null ? (factors.planning ?? 1) : 1;
  const planning = countedRatio === null ? model.planningSeconds * planningFactor : counted! * countedRatio;
  const sending = model.sendSeconds * sendFactor;
  const predictedSeconds = START_SECONDS + combinedSeconds(planning, sending, model.overlapped, work.planning?.pieces ?? 1);
  const comparing = work.planning && work.planning.kind !== 'read';
  return {
    calls,
    rateCalls,
    predictedSeconds: round(predictedSeconds),
    basis: {
      requestsPerSecond: Number.isFinite(rate.requestsPerSecond) ? rate.requestsPerSecond : null,
      rateSeconds: round(rateSeconds),
      pipelineSeconds: round(pipelineSeconds),
      jobSeconds: round(jobSeconds),
      sharedSeconds: round(sharedSeconds),
      diffSeconds: comparing ? round(planning) : 0,
      readSeconds: comparing ? 0 : round(planning),
      sendSeconds: round(sending),
      overlapped: model.overlapped,
      startSeconds: START_SECONDS,
      calibration: sendFactor,
      planningCalibration: planningFactor,
      countedSeconds: counted !== undefined ? Math.round(counted * 1000) / 1000 : null,
      countedRatio: countedRatio === null ? null : Math.round(countedRatio * 100) / 100,
    },
    model: {
      ...model,
      planningSeconds: Math.round(model.planningSeconds * 1000) / 1000,
      sendSeconds: Math.round(model.sendSeconds * 1000) / 1000,
      ...(counted !== undefined ? { countedSeconds: Math.round(counted * 1000) / 1000 } : {}),
    },
  };
}

const round = (seconds: number) => Math.round(seconds * 10) / 10;
