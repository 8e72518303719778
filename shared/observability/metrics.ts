// The engine's custom metrics, through the OpenTelemetry API. Without a registered meter provider
// (telemetry off: locally, in tests) every call is a no-op. Instruments are looked up from the
// global provider at the time of recording, not at import: the Azure Monitor distro registers its
// provider after the function modules are loaded (see telemetry.ts), and a meter taken from the
// no-op provider earlier would stay a no-op for good.
import { metrics, type Counter, type Gauge, type Histogram, type MeterProvider } from '@opentelemetry/api';

export const METER_NAME = 'outflow';

/** Metric names as they appear in Application Insights (customMetrics.name). */
export const METRICS = {
  /** Members the destination accepted. Attribute: destination (type). */
  membersSent: 'outflow.members.sent',
  /** Members the destination refused (per-record failures). Attribute: destination. */
  membersFailed: 'outflow.members.failed',
  /** Members not sent: invalid or duplicate email, or skipped by the vendor. Attribute: destination. */
  membersSkipped: 'outflow.members.skipped',
  /** 429 answers from vendors. Attribute: destination. */
  vendorRateLimited: 'outflow.vendor.rate_limited',
  /** From the run's start to its final status, in seconds. Attributes: destination, status. */
  runDuration: 'outflow.run.duration',
  /** Approximate messages waiting in a queue. Attribute: queue. */
  queueBacklog: 'outflow.queue.backlog',
} as const;

interface Instruments {
  membersSent: Counter;
  membersFailed: Counter;
  membersSkipped: Counter;
  vendorRateLimited: Counter;
  runDuration: Histogram;
  queueBacklog: Gauge;
}

let cached: { provider: MeterProvider; instruments: Instruments } | undefined;

function instruments(): Instruments {
  const provider = metrics.getMeterProvider();
  if (cached?.provider === provider) return cached.instruments;
  const meter = provider.getMeter(METER_NAME);
  const members = (name: string, description: string) => meter.createCounter(name, { description, unit: '{member}' });
  const created: Instruments = {
    membersSent: members(METRICS.membersSent, 'Members the destination accepted'),
    membersFailed: members(METRICS.membersFailed, 'Members the destination refused'),
    membersSkipped: members(METRICS.membersSkipped, 'Members not sent (invalid or duplicate, or skipped by the vendor)'),
    vendorRateLimited: meter.createCounter(METRICS.vendorRateLimited, {
      description: '429 answers from destination APIs',
      unit: '{response}',
    }),
    runDuration: meter.createHistogram(METRICS.runDuration, {
      description: 'Run duration from start to final status',
      unit: 's',
      // Runs last from seconds (small segments) to hours (millions of members at a vendor's rate).
      advice: { explicitBucketBoundaries: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800] },
    }),
    queueBacklog: meter.createGauge(METRICS.queueBacklog, {
      description: 'Approximate number of messages in the queue',
      unit: '{message}',
    }),
  };
  cached = { provider, instruments: created };
  return created;
}

export interface MemberCounts {
  succeeded: number;
  failed: number;
  skipped: number;
}

/** After each batch: what happened to the members since the previous one. */
export function recordMembers(destination: string, counts: MemberCounts): void {
  const attributes = { destination };
  const { membersSent, membersFailed, membersSkipped } = instruments();
  if (counts.succeeded > 0) membersSent.add(counts.succeeded, attributes);
  if (counts.failed > 0) membersFailed.add(counts.failed, attributes);
  if (counts.skipped > 0) membersSkipped.add(counts.skipped, attributes);
}

export function recordVendorRateLimited(destination: string): void {
  instruments().vendorRateLimited.add(1, { destination });
}

export function recordRunFinished(destination: string, status: string, durationSeconds: number): void {
  if (!Number.isFinite(durationSeconds) || durationSeconds < 0) return;
  instruments().runDuration.record(durationSeconds, { destination, status });
}

export function recordQueueBacklog(queue: string, messages: number): void {
  instruments().queueBacklog.record(messages, { queue });
}
