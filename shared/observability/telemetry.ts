// Application Insights through OpenTelemetry (the Azure Monitor distro), on only when
// APPLICATIONINSIGHTS_CONNECTION_STRING is set. Started once per worker process from the
// app-start hook registered in functions/startTelemetry.ts (why a hook: see there).
//
// The component has local (key) auth disabled, so the exporter authenticates with Entra ID: the
// user-assigned managed identity (AZURE_CLIENT_ID), which infra grants Monitoring Metrics
// Publisher. The host's own logs (context.log lines included) travel separately, through the
// host's Application Insights integration (APPLICATIONINSIGHTS_AUTHENTICATION_STRING).
import { ManagedIdentityCredential } from '@azure/identity';
import { setting } from '../settings.js';

let started = false;

export function telemetryEnabled(): boolean {
  return setting('APPLICATIONINSIGHTS_CONNECTION_STRING') !== undefined;
}

/** Starts the distro once; false (and nothing loaded) when telemetry is off. */
export async function startTelemetry(): Promise<boolean> {
  const connectionString = setting('APPLICATIONINSIGHTS_CONNECTION_STRING');
  if (!connectionString || started) return started;
  // Loaded only when needed: the distro is large, and local runs and tests never use it.
  const { useAzureMonitor } = await import('@azure/monitor-opentelemetry');
  const clientId = setting('AZURE_CLIENT_ID');
  useAzureMonitor({
    azureMonitorExporterOptions: {
      connectionString,
      credential: new ManagedIdentityCredential(clientId ? { clientId } : {}),
    },
    // The Functions host already feeds Live Metrics; a second feed from the worker would double it.
    enableLiveMetrics: false,
  });
  started = true;
  return true;
}

/** Flushes what is buffered (metrics are exported once a minute) before the worker goes away. */
export async function stopTelemetry(): Promise<void> {
  if (!started) return;
  started = false;
  const { shutdownAzureMonitor } = await import('@azure/monitor-opentelemetry');
  await shutdownAzureMonitor();
}
