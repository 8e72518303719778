// The rules that decide which events a subscription gets: thresholds, the volume median, the
// connection's failing streak, filters and run.slow with and without a prediction.
import { describe, expect, it } from 'vitest';
import { endedRunEvents, failureStreak, median, slowRunEvent, type RunFacts } from '../../shared/webhooks/eventRules.js';
import { DEFAULT_THRESHOLDS, WEBHOOK_EVENTS, type WebhookRecord } from '../../shared/webhooks/webhook.js';

type Subscription = Pick<WebhookRecord, 'events' | 'filters' | 'thresholds' | 'enabled'>;

const subscription = (changes: Partial<Subscription> = {}): Subscription => ({
  events: [...WEBHOOK_EVENTS],
  filters: { exportIds: [], connectionIds: [], destinationTypes: [] },
  thresholds: { ...DEFAULT_THRESHOLDS },
  enabled: true,
  ...changes,
});

const facts = (changes: Partial<RunFacts> = {}): RunFacts => ({
  status: 'succeeded',
  reason: null,
  counts: { members: 1_000, sent: 1_000, succeeded: 1_000, failed: 0, skipped: 0 },
  startedAt: '2026-12-01T10:00:00.000Z',
  createdAt: '2026-12-01T09:59:00.000Z',
  predictedSeconds: null,
  exportId: 'export-1234',
  connectionId: 'connection-1234',
  destinationType: 'campaign-monitor',
  previousMembers: [],
  connectionFailureStreak: 0,
  ...changes,
});

const types = (subscriptionChanges: Partial<Subscription>, factChanges: Partial<RunFacts>) =>
  endedRunEvents(subscription(subscriptionChanges), facts(factChanges)).map((event) => event.type);

describe('run outcome events', () => {
  it("raises the event of the run's status, only when subscribed", () => {
    expect(types({}, { status: 'failed', reason: 'vendor down' })).toEqual(['run.failed']);
    expect(types({}, { status: 'skipped' })).toEqual(['run.skipped']);
    expect(types({}, { status: 'succeeded' })).toEqual(['run.succeeded']);
    expect(types({ events: ['run.failed'] }, { status: 'succeeded' })).toEqual([]);
    expect(types({}, { status: 'cancelled' })).toEqual([]);
    expect(types({ enabled: false }, { status: 'failed' })).toEqual([]);
  });

  it('raises run.partiallySucceeded only when the rejected share reaches the threshold', () => {
    const partial = (failed: number, skipped: number) => ({
      status: 'partiallySucceeded' as const,
      counts: { members: 1_000, sent: 1_000, succeeded: 1_000 - failed - skipped, failed, skipped },
    });
    expect(types({ thresholds: { ...DEFAULT_THRESHOLDS, rejectedShare: 0.1 } }, partial(60, 39))).toEqual([]);
    expect(types({ thresholds: { ...DEFAULT_THRESHOLDS, rejectedShare: 0.1 } }, partial(60, 40))).toEqual(['run.partiallySucceeded']);
    const [event] = endedRunEvents(subscription({ thresholds: { ...DEFAULT_THRESHOLDS, rejectedShare: 0 } }), facts(partial(1, 0)));
    expect(event).toEqual({ type: 'run.partiallySucceeded', details: { rejectedShare: 0.001, threshold: 0 } });
  });

  it('applies the filters: exports, connections and destination types', () => {
    const failed = { status: 'failed' as const };
    expect(types({ filters: { exportIds: ['other-export'], connectionIds: [], destinationTypes: [] } }, failed)).toEqual([]);
    expect(types({ filters: { exportIds: ['export-1234'], connectionIds: [], destinationTypes: [] } }, failed)).toEqual(['run.failed']);
    expect(types({ filters: { exportIds: [], connectionIds: ['other-conn'], destinationTypes: [] } }, failed)).toEqual([]);
    expect(types({ filters: { exportIds: [], connectionIds: [], destinationTypes: ['mailchimp'] } }, failed)).toEqual([]);
    expect(
      types({ filters: { exportIds: [], connectionIds: ['connection-1234'], destinationTypes: ['campaign-monitor'] } }, failed),
    ).toEqual(['run.failed']);
    // An export without a connection never matches a connection filter.
    expect(
      types({ filters: { exportIds: [], connectionIds: ['connection-1234'], destinationTypes: [] } }, { ...failed, connectionId: null }),
    ).toEqual([]);
  });
});

describe('volume.changed', () => {
  it('takes the median of the recent runs, not the mean', () => {
    expect(median([1, 100, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeUndefined();
  });

  it('raises when the members differ from the median by more than the share, up or down', () => {
    const only = { events: ['volume.changed' as const] };
    // Median 1,000 despite one outlier of 50,000.
    const history = [1_000, 50_000, 990, 1_010, 1_000];
    expect(types(only, { previousMembers: history, counts: { members: 1_400, sent: 0, succeeded: 1_400, failed: 0, skipped: 0 } })).toEqual(
      [],
    );
    expect(types(only, { previousMembers: history, counts: { members: 1_600, sent: 0, succeeded: 1_600, failed: 0, skipped: 0 } })).toEqual(
      ['volume.changed'],
    );
    expect(types(only, { previousMembers: history, counts: { members: 400, sent: 0, succeeded: 400, failed: 0, skipped: 0 } })).toEqual([
      'volume.changed',
    ]);
    const [event] = endedRunEvents(
      subscription(only),
      facts({ previousMembers: history, counts: { members: 2_000, sent: 0, succeeded: 2_000, failed: 0, skipped: 0 } }),
    );
    expect(event!.details).toEqual({ members: 2_000, recentMedian: 1_000, change: 1, threshold: 0.5, runsCompared: 5 });
  });

  it('needs three earlier runs, looks at the last ten, and ignores runs that sent nothing', () => {
    const only = { events: ['volume.changed' as const] };
    const members = (count: number) => ({ counts: { members: count, sent: 0, succeeded: count, failed: 0, skipped: 0 } });
    expect(types(only, { previousMembers: [100, 100], ...members(10_000) })).toEqual([]);
    expect(types(only, { previousMembers: [100, 100, 100], ...members(10_000) })).toEqual(['volume.changed']);
    // The ten newest are 10,000 each; older small runs do not count.
    expect(types(only, { previousMembers: [...Array(10).fill(10_000), 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], ...members(10_000) })).toEqual([]);
    expect(types(only, { previousMembers: [100, 100, 100], ...members(10_000), status: 'failed' })).toEqual([]);
    expect(types(only, { previousMembers: [0, 0, 0], ...members(5) })).toEqual(['volume.changed']);
  });
});

describe('connection.failing', () => {
  const authFailure = {
    status: 'failed' as const,
    reason: '1 of 1 chunks failed: Campaign Monitor refused the batch (auth): Invalid API Key',
  };

  it('counts the runs in a row that failed on auth or configuration', () => {
    const config = { status: 'failed' as const, reason: "Mailchimp refused the export's setup (config): list not found" };
    const outage = { status: 'failed' as const, reason: '1 of 1 chunks failed: vendor answered 503' };
    const ok = { status: 'succeeded' as const, reason: null };
    expect(failureStreak([authFailure, config, authFailure, ok, authFailure])).toBe(3);
    expect(failureStreak([outage, authFailure, authFailure])).toBe(0);
    expect(failureStreak([])).toBe(0);
  });

  it('raises once, when the streak reaches the threshold', () => {
    const only = { events: ['connection.failing' as const], thresholds: { ...DEFAULT_THRESHOLDS, failingRuns: 3 } };
    expect(types(only, { ...authFailure, connectionFailureStreak: 2 })).toEqual([]);
    expect(types(only, { ...authFailure, connectionFailureStreak: 3 })).toEqual(['connection.failing']);
    expect(types(only, { ...authFailure, connectionFailureStreak: 4 })).toEqual([]);
    expect(types(only, { status: 'failed', reason: 'timed out', connectionFailureStreak: 3 })).toEqual([]);
  });
});

describe('run.slow', () => {
  const started = Date.parse('2026-12-01T10:00:00.000Z');
  const at = (seconds: number) => new Date(started + seconds * 1000);
  const running = (predictedSeconds: number | null) => facts({ status: 'running', predictedSeconds });

  it('uses the prediction times the factor when the run has one', () => {
    const webhook = subscription({ thresholds: { ...DEFAULT_THRESHOLDS, slowFactor: 1.5 } });
    expect(slowRunEvent(webhook, running(600), at(899))).toBeUndefined();
    const event = slowRunEvent(webhook, running(600), at(901));
    expect(event).toMatchObject({ type: 'run.slow', details: { elapsedSeconds: 901, predictedSeconds: 600, limitSeconds: 900 } });
  });

  it('uses the fixed duration without a prediction', () => {
    const webhook = subscription({ thresholds: { ...DEFAULT_THRESHOLDS, slowAfterMinutes: 30 } });
    expect(slowRunEvent(webhook, running(null), at(1_799))).toBeUndefined();
    expect(slowRunEvent(webhook, running(null), at(1_801))?.details).toMatchObject({
      limitSeconds: 1_800,
      limit: '30 minutes (no prediction)',
    });
  });

  it('only for subscribers of run.slow whose filters match', () => {
    expect(slowRunEvent(subscription({ events: ['run.failed'] }), running(null), at(100_000))).toBeUndefined();
    expect(
      slowRunEvent(
        subscription({ filters: { exportIds: ['x-export-0'], connectionIds: [], destinationTypes: [] } }),
        running(null),
        at(100_000),
      ),
    ).toBeUndefined();
  });
});
