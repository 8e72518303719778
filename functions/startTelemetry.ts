import { app } from '@azure/functions';
import { startTelemetry, stopTelemetry } from '../shared/observability/telemetry.js';

// Telemetry starts in the app-start hook rather than from an import at the top of every entry
// file: package.json "main" is a glob, so neither the worker nor `func start` promises which file
// loads first, while appStart runs once per worker process after every entry file is loaded and
// before the first invocation — in the real worker, under `func start` and in the local host
// alike. The custom metrics look their instruments up when recording (shared/observability/
// metrics.ts), so starting after the modules load loses nothing.
app.hook.appStart(async () => {
  await startTelemetry();
});

// Graceful shutdown (scale-in, deployment): export what is still buffered.
app.hook.appTerminate(async () => {
  await stopTelemetry();
});
