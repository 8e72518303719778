// What a run will cost before it starts: vendor calls from the adapter's batch sizes (and, for
// import-file vendors, the jobs' status polls), and time from the connection's rate shared with
// the other runs on that connection. Pure: every input is passed in, so the same model predicts
// for `POST /exports/{id}/plan`, for a run at its start, and in tests.
import type { DestinationAdapter, ImportJobCost } from '../destinations/destination.js';
import type { RateLimit } from '../runs/destinationAccess.js';
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
    /** Seconds the planner spends comparing the segments with the snapshot (exports that keep one). */
    diffSeconds: number;
    startSeconds: number;
    /** Factor learnt from the connection's recent runs (shared/plans/calibration.ts), applied to the transfer. */
    calibration: number;
  };
}

/**
 * Fixed cost of any run: the plan message's queue hop, reading model.json and the partitions'
 * properties, the finalizer's hop. Measured on the local stack (see BENCHMARKS.md, "Plans").
 */
export const START_SECONDS = 3;
/**
 * Members per second the engine moves when the vendor's rate does not bind (scan, match, JSON,
 * HTTP): BENCHMARKS.md's pipeline-overhead runs give 25,000–53,000 per second at 1M on two shared
 * cores; the lower figure keeps predictions on the safe side.
 */
export const PIPELINE_MEMBERS_PER_SECOND = 25_000;
/**
 * Members per second the planner of a snapshot-keeping export reads, hashes and compares with the
 * snapshot before anything is sent (one thread, two passes): data-out's like comparison runs at
 * 23,000–28,000 rows/s (BENCHMARKS.md, "Data-out exports"); the lower end, rounded down.
 */
export const DIFF_MEMBERS_PER_SECOND = 20_000;
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
  const perChunk = membersPerChunk(destination, rate.requestsPerSecond, options.chunkBasis ?? members);
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

export function predictRun(
  destination: DestinationAdapter,
  rate: RateLimit,
  work: RunWork,
  competing: CompetingRun[] = [],
  calibration = 1,
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
  const transfer = Math.max(rateSeconds + sharedSeconds, pipelineSeconds, jobSeconds);
  const diffSeconds = work.buckets ? (work.chunkBasis ?? sent) / DIFF_MEMBERS_PER_SECOND : 0;
  const predictedSeconds = START_SECONDS + (diffSeconds + (sent + work.remove > 0 ? transfer : 0)) * calibration;
  return {
    calls,
    rateCalls,
    predictedSeconds: Math.round(predictedSeconds * 10) / 10,
    basis: {
      requestsPerSecond: Number.isFinite(rate.requestsPerSecond) ? rate.requestsPerSecond : null,
      rateSeconds: round(rateSeconds),
      pipelineSeconds: round(pipelineSeconds),
      jobSeconds: round(jobSeconds),
      sharedSeconds: round(sharedSeconds),
      diffSeconds: round(diffSeconds),
      startSeconds: START_SECONDS,
      calibration,
    },
  };
}

const round = (seconds: number) => Math.round(seconds * 10) / 10;
