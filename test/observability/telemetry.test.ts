// Telemetry starts only with a connection string, once, with the managed identity as the
// exporter's credential (the component accepts Entra auth only). The distro itself is replaced:
// starting it for real would reach out to Azure.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManagedIdentityCredential } from '@azure/identity';

const distro = vi.hoisted(() => ({ useAzureMonitor: vi.fn(), shutdownAzureMonitor: vi.fn(async () => {}) }));
vi.mock('@azure/monitor-opentelemetry', () => distro);

const { startTelemetry, stopTelemetry, telemetryEnabled } = await import('../../shared/observability/telemetry.js');

const CONNECTION_STRING =
  'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://example.in.applicationinsights.azure.com/';

afterEach(async () => {
  await stopTelemetry();
  delete process.env.APPLICATIONINSIGHTS_CONNECTION_STRING;
  delete process.env.AZURE_CLIENT_ID;
  vi.clearAllMocks();
});

describe('startTelemetry', () => {
  it('does nothing without APPLICATIONINSIGHTS_CONNECTION_STRING', async () => {
    expect(telemetryEnabled()).toBe(false);
    expect(await startTelemetry()).toBe(false);
    expect(distro.useAzureMonitor).not.toHaveBeenCalled();
  });

  it('starts the Azure Monitor distro once, authenticating with the user-assigned managed identity', async () => {
    process.env.APPLICATIONINSIGHTS_CONNECTION_STRING = CONNECTION_STRING;
    process.env.AZURE_CLIENT_ID = '11111111-2222-3333-4444-555555555555';
    expect(telemetryEnabled()).toBe(true);
    expect(await startTelemetry()).toBe(true);
    expect(await startTelemetry()).toBe(true);
    expect(distro.useAzureMonitor).toHaveBeenCalledTimes(1);
    const options = distro.useAzureMonitor.mock.calls[0]![0];
    expect(options.azureMonitorExporterOptions.connectionString).toBe(CONNECTION_STRING);
    expect(options.azureMonitorExporterOptions.credential).toBeInstanceOf(ManagedIdentityCredential);
    expect(options.enableLiveMetrics).toBe(false);
  });

  it('flushes and stops on app terminate', async () => {
    process.env.APPLICATIONINSIGHTS_CONNECTION_STRING = CONNECTION_STRING;
    await startTelemetry();
    await stopTelemetry();
    expect(distro.shutdownAzureMonitor).toHaveBeenCalledTimes(1);
  });
});
