// Which events a subscription gets for a run: pure rules over the run and a little history, so
// thresholds, the volume median and the failing streak are unit-tested without storage.
import type { RunCounts, RunStatus } from '../runs/run.js';
import type { WebhookEventType, WebhookFilters, WebhookRecord, WebhookThresholds } from './webhook.js';

/** A run ended (or still running, for run.slow) with what the rules need to know. */
export interface RunFacts {
  status: RunStatus;
  reason: string | null;
  counts: RunCounts;
  startedAt: string | null;
  createdAt: string;
  /** Predicted duration in seconds, when planning made one. */
  predictedSeconds: number | null;
  exportId: string;
  connectionId: string | null;
  destinationType: string | null;
  /** Members of the export's earlier finished runs that sent something, newest first. */
  previousMembers: number[];
  /** Runs in a row on the connection, this one included, that failed on auth or configuration. */
  connectionFailureStreak: number;
}

export interface RaisedEvent {
  type: WebhookEventType;
  /** Facts behind the event, added to its payload (e.g. the share rejected and the threshold). */
  details: Record<string, unknown>;
}

/** Earlier runs compared with for volume.changed: the median of at most this many, at least MIN. */
export const VOLUME_HISTORY = 10;
export const VOLUME_HISTORY_MIN = 3;

/** A failure the connection's owner must fix (credentials, account setup), not a passing outage. */
export function isConnectionFailure(status: RunStatus, reason: string | null): boolean {
  return status === 'failed' && /\((auth|config)\)/.test(reason ?? '');
}

export function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Share of the members not delivered (failed or skipped records). */
export function rejectedShare(counts: RunCounts): number {
  return counts.members > 0 ? (counts.failed + counts.skipped) / counts.members : 0;
}

export function matchesFilters(filters: WebhookFilters, facts: Pick<RunFacts, 'exportId' | 'connectionId' | 'destinationType'>): boolean {
  if (filters.exportIds.length && !filters.exportIds.includes(facts.exportId)) return false;
  if (filters.connectionIds.length && (!facts.connectionId || !filters.connectionIds.includes(facts.connectionId))) return false;
  if (filters.destinationTypes.length && (!facts.destinationType || !filters.destinationTypes.includes(facts.destinationType)))
    return false;
  return true;
}

/** Events of an ended run that this subscription wants. */
export function endedRunEvents(
  webhook: Pick<WebhookRecord, 'events' | 'filters' | 'thresholds' | 'enabled'>,
  facts: RunFacts,
): RaisedEvent[] {
  if (!webhook.enabled || !matchesFilters(webhook.filters, facts)) return [];
  const wanted = new Set(webhook.events);
  const t: WebhookThresholds = webhook.thresholds;
  const events: RaisedEvent[] = [];
  const raise = (type: WebhookEventType, details: Record<string, unknown> = {}) => wanted.has(type) && events.push({ type, details });
  if (facts.status === 'failed') raise('run.failed');
  if (facts.status === 'skipped') raise('run.skipped');
  if (facts.status === 'succeeded') raise('run.succeeded');
  if (facts.status === 'partiallySucceeded') {
    const share = rejectedShare(facts.counts);
    if (share >= t.rejectedShare) raise('run.partiallySucceeded', { rejectedShare: round(share), threshold: t.rejectedShare });
  }
  if ((facts.status === 'succeeded' || facts.status === 'partiallySucceeded') && facts.previousMembers.length >= VOLUME_HISTORY_MIN) {
    const recent = median(facts.previousMembers.slice(0, VOLUME_HISTORY))!;
    const change = recent === 0 ? (facts.counts.members === 0 ? 0 : Infinity) : (facts.counts.members - recent) / recent;
    if (Math.abs(change) > t.volumeChangeShare) {
      raise('volume.changed', {
        members: facts.counts.members,
        recentMedian: recent,
        change: Number.isFinite(change) ? round(change) : null,
        threshold: t.volumeChangeShare,
        runsCompared: Math.min(VOLUME_HISTORY, facts.previousMembers.length),
      });
    }
  }
  // Once when the streak reaches the threshold, not again for every further failure.
  if (isConnectionFailure(facts.status, facts.reason) && facts.connectionFailureStreak === t.failingRuns) {
    raise('connection.failing', { failedRunsInARow: facts.connectionFailureStreak, threshold: t.failingRuns });
  }
  return events;
}

/** Seconds after which a run counts as slow for this subscription, and why. */
export function slowAfter(thresholds: WebhookThresholds, predictedSeconds: number | null): { seconds: number; basis: string } {
  if (predictedSeconds && predictedSeconds > 0)
    return {
      seconds: predictedSeconds * thresholds.slowFactor,
      basis: `${thresholds.slowFactor} × the predicted ${Math.round(predictedSeconds)} s`,
    };
  return { seconds: thresholds.slowAfterMinutes * 60, basis: `${thresholds.slowAfterMinutes} minutes (no prediction)` };
}

/** run.slow for a run still in progress, if it is past this subscription's limit. */
export function slowRunEvent(
  webhook: Pick<WebhookRecord, 'events' | 'filters' | 'thresholds' | 'enabled'>,
  facts: RunFacts,
  now: Date,
): RaisedEvent | undefined {
  if (!webhook.enabled || !webhook.events.includes('run.slow') || !matchesFilters(webhook.filters, facts)) return undefined;
  const elapsed = (now.getTime() - Date.parse(facts.startedAt ?? facts.createdAt)) / 1000;
  const limit = slowAfter(webhook.thresholds, facts.predictedSeconds);
  if (!(elapsed > limit.seconds)) return undefined;
  return {
    type: 'run.slow',
    details: {
      elapsedSeconds: Math.round(elapsed),
      predictedSeconds: facts.predictedSeconds,
      limitSeconds: Math.round(limit.seconds),
      limit: limit.basis,
    },
  };
}

/** Runs in a row (newest first) that failed on auth or configuration. */
export function failureStreak(runs: { status: RunStatus; reason: string | null }[]): number {
  let streak = 0;
  for (const run of runs) {
    if (!isConnectionFailure(run.status, run.reason)) break;
    streak++;
  }
  return streak;
}

const round = (value: number) => Math.round(value * 10_000) / 10_000;
