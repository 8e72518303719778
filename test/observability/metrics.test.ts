// The engine's custom metrics, read back through an in-memory OpenTelemetry reader: what the
// recording functions add up to, and that the sender, the finalizer and the backlog timer record
// them where the engine does the work (the last two against Azurite).
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { metrics } from '@opentelemetry/api';
import { DataPointType, MeterProvider, type Histogram, type MetricData } from '@opentelemetry/sdk-metrics';
import {
  METER_NAME,
  METRICS,
  recordMembers,
  recordQueueBacklog,
  recordRunFinished,
  recordVendorRateLimited,
} from '../../shared/observability/metrics.js';
import { measureQueueBacklog } from '../../shared/observability/queueBacklog.js';
import { DestinationError } from '../../shared/destinations/destinationError.js';
import type { DestinationAdapter, MappedMember } from '../../shared/destinations/destination.js';
import { insertExport } from '../../shared/exports/exportStore.js';
import { finishRunEarly } from '../../shared/runs/finalizeRun.js';
import { insertRun, newRunId } from '../../shared/runs/runStore.js';
import { sendQueueMessage } from '../../shared/storage/clients.js';
import { QUEUES } from '../../shared/storage/names.js';
import { exportRecord, runRecord } from '../support/engineRecords.js';
import { useLocalServices } from '../support/localServices.js';
import { InMemoryReader } from '../support/meterReader.js';
import { sendUnbudgeted } from '../support/sendUnbudgeted.js';

let reader: InMemoryReader;
let provider: MeterProvider;

function useInMemoryMeterProvider(): void {
  beforeEach(() => {
    reader = new InMemoryReader();
    provider = new MeterProvider({ readers: [reader] });
    metrics.setGlobalMeterProvider(provider);
  });
  afterEach(async () => {
    metrics.disable();
    await provider.shutdown();
  });
}

async function collected(): Promise<MetricData[]> {
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  return resourceMetrics.scopeMetrics.filter((scope) => scope.scope.name === METER_NAME).flatMap((scope) => scope.metrics);
}

/** The data points of one metric as {attributes, value}. */
async function pointsOf(name: string): Promise<{ attributes: Record<string, unknown>; value: unknown }[]> {
  const metric = (await collected()).find((data) => data.descriptor.name === name);
  return (metric?.dataPoints ?? []).map((point) => ({ attributes: point.attributes, value: point.value }));
}

describe('without a meter provider (telemetry off)', () => {
  it('records nothing and fails nothing, and uses a provider registered later', async () => {
    metrics.disable();
    expect(() => recordMembers('campaign-monitor', { succeeded: 5, failed: 0, skipped: 0 })).not.toThrow();
    reader = new InMemoryReader();
    provider = new MeterProvider({ readers: [reader] });
    metrics.setGlobalMeterProvider(provider);
    try {
      recordMembers('campaign-monitor', { succeeded: 3, failed: 0, skipped: 0 });
      // Only what was recorded once the provider existed (the distro registers it at app start).
      expect(await pointsOf(METRICS.membersSent)).toEqual([{ attributes: { destination: 'campaign-monitor' }, value: 3 }]);
    } finally {
      metrics.disable();
      await provider.shutdown();
    }
  });
});

describe('the recording functions', () => {
  useInMemoryMeterProvider();

  it('count members sent, failed and skipped per destination type', async () => {
    recordMembers('campaign-monitor', { succeeded: 1000, failed: 2, skipped: 3 });
    recordMembers('campaign-monitor', { succeeded: 998, failed: 0, skipped: 1 });
    recordMembers('mailchimp', { succeeded: 500, failed: 0, skipped: 0 });
    expect(await pointsOf(METRICS.membersSent)).toEqual([
      { attributes: { destination: 'campaign-monitor' }, value: 1998 },
      { attributes: { destination: 'mailchimp' }, value: 500 },
    ]);
    // Zero is not recorded, so a destination with no failures has no series.
    expect(await pointsOf(METRICS.membersFailed)).toEqual([{ attributes: { destination: 'campaign-monitor' }, value: 2 }]);
    expect(await pointsOf(METRICS.membersSkipped)).toEqual([{ attributes: { destination: 'campaign-monitor' }, value: 4 }]);
  });

  it('count 429s by destination', async () => {
    recordVendorRateLimited('iterable');
    recordVendorRateLimited('iterable');
    recordVendorRateLimited('linkedin');
    expect(await pointsOf(METRICS.vendorRateLimited)).toEqual([
      { attributes: { destination: 'iterable' }, value: 2 },
      { attributes: { destination: 'linkedin' }, value: 1 },
    ]);
  });

  it('record run durations in seconds by destination and final status, ignoring impossible ones', async () => {
    recordRunFinished('campaign-monitor', 'succeeded', 12);
    recordRunFinished('campaign-monitor', 'succeeded', 30);
    recordRunFinished('campaign-monitor', 'failed', 2);
    recordRunFinished('campaign-monitor', 'failed', Number.NaN);
    recordRunFinished('campaign-monitor', 'failed', -1);
    const metric = (await collected()).find((data) => data.descriptor.name === METRICS.runDuration)!;
    expect(metric.dataPointType).toBe(DataPointType.HISTOGRAM);
    expect(metric.descriptor.unit).toBe('s');
    const byStatus = Object.fromEntries(metric.dataPoints.map((point) => [String(point.attributes.status), point.value as Histogram]));
    expect(byStatus.succeeded).toMatchObject({ count: 2, sum: 42, min: 12, max: 30 });
    expect(byStatus.failed).toMatchObject({ count: 1, sum: 2 });
    expect(metric.dataPoints.every((point) => point.attributes.destination === 'campaign-monitor')).toBe(true);
  });

  it('keep the latest queue backlog per queue', async () => {
    recordQueueBacklog('export-chunks', 120);
    recordQueueBacklog('export-chunks', 80);
    recordQueueBacklog('export-runs', 1);
    expect(await pointsOf(METRICS.queueBacklog)).toEqual([
      { attributes: { queue: 'export-chunks' }, value: 80 },
      { attributes: { queue: 'export-runs' }, value: 1 },
    ]);
  });
});

describe('the sender', () => {
  useInMemoryMeterProvider();

  it('counts each 429 of a batch it retries', async () => {
    let calls = 0;
    const destination = {
      type: 'campaign-monitor',
      displayName: 'Campaign Monitor',
      async sendBatch(_call: unknown, members: MappedMember[]) {
        if (++calls <= 2) throw new DestinationError('rateLimited', 'Too many requests', { status: 429, retryAfterMs: 0 });
        return { succeeded: members.length, failures: [] };
      },
    } as unknown as DestinationAdapter;
    const call = { settings: {}, secrets: {}, details: {}, apiOrigin: undefined };
    const result = await sendUnbudgeted(destination, call, [{ email: 'a@example.com', fields: {} }], 'metrics-test');
    expect(result).toEqual({ succeeded: 1, failures: [] });
    expect(await pointsOf(METRICS.vendorRateLimited)).toEqual([{ attributes: { destination: 'campaign-monitor' }, value: 2 }]);
  });
});

describe('against storage', () => {
  useLocalServices();

  useInMemoryMeterProvider();

  it('the finalizer records the run duration once, by destination type and final status', async () => {
    const exportId = randomUUID();
    const startedAt = new Date(Date.now() - 90_000).toISOString();
    const runId = newRunId();
    await insertExport(
      exportRecord({
        id: exportId,
        name: 'Metrics',
        connectionId: 'connection-1',
        connectionType: 'mailchimp',
        segments: ['Segment_AllCustomers'],
        createdAt: startedAt,
        activeRunId: runId,
      }),
    );
    const run = await insertRun(runRecord({ id: runId, exportId, createdAt: startedAt }));
    await finishRunEarly(run, 'failed', 'Ended by the test.');
    // A second attempt finds the run ended and records nothing more.
    await finishRunEarly(run, 'failed', 'Ended by the test.');
    const points = await pointsOf(METRICS.runDuration);
    expect(points).toHaveLength(1);
    expect(points[0]!.attributes).toEqual({ destination: 'mailchimp', status: 'failed' });
    const value = points[0]!.value as Histogram;
    expect(value.count).toBe(1);
    expect(value.sum).toBeGreaterThanOrEqual(90);
    expect(value.sum).toBeLessThan(120);
  });

  it("the backlog timer reads each engine queue's approximate message count", async () => {
    for (let index = 0; index < 3; index++)
      await sendQueueMessage(QUEUES.exportChunks, { exportId: 'e', runId: 'r', chunkId: `c${index}` });
    expect(await measureQueueBacklog()).toEqual({ [QUEUES.exportChunks]: 3, [QUEUES.exportRuns]: 0 });
    expect(await pointsOf(METRICS.queueBacklog)).toEqual([
      { attributes: { queue: QUEUES.exportChunks }, value: 3 },
      { attributes: { queue: QUEUES.exportRuns }, value: 0 },
    ]);
  });
});
