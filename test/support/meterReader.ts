// Reading the engine's metrics back in a test: an in-memory OpenTelemetry reader behind the global
// meter provider, registered before each test and removed after it.
import { afterEach, beforeEach } from 'vitest';
import { metrics } from '@opentelemetry/api';
import { MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { METER_NAME } from '../../shared/observability/metrics.js';

/** Collects on demand, nothing exported: the test reads what the SDK aggregated. */
export class InMemoryReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

export interface MeterReading {
  /** The engine's metrics aggregated so far, and the errors collecting them. */
  collected(): Promise<{ metrics: MetricData[]; errors: unknown[] }>;
  /** The data points of one metric as {attributes, value}. */
  pointsOf(name: string): Promise<{ attributes: Record<string, unknown>; value: unknown }[]>;
}

/** Registers the beforeEach/afterEach that give each test of the suite a fresh provider. */
export function useInMemoryMeterProvider(): MeterReading {
  let reader: InMemoryReader;
  let provider: MeterProvider;
  beforeEach(() => {
    reader = new InMemoryReader();
    provider = new MeterProvider({ readers: [reader] });
    metrics.setGlobalMeterProvider(provider);
  });
  afterEach(async () => {
    metrics.disable();
    await provider.shutdown();
  });
  const collected = async () => {
    const { resourceMetrics, errors } = await reader.collect();
    return {
      metrics: resourceMetrics.scopeMetrics.filter((scope) => scope.scope.name === METER_NAME).flatMap((scope) => scope.metrics),
      errors,
    };
  };
  return {
    collected,
    pointsOf: async (name) => {
      const metric = (await collected()).metrics.find((data) => data.descriptor.name === name);
      return (metric?.dataPoints ?? []).map((point) => ({ attributes: point.attributes, value: point.value }));
    },
  };
}
