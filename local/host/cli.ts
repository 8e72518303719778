// node dist/local/host/cli.js [--port 7071] [--project <dir>] [--queue-lease-seconds 60]
// Runs a function app locally; SIGINT/SIGTERM stop it gracefully (a second signal exits at once).
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startFunctionsHost, type RunningFunctionsHost } from './functionsHost.js';

const USAGE = `Usage: node dist/local/host/cli.js [options]

Runs the function app's HTTP, timer and storage-queue triggers locally.

Options:
  --port <n>                 HTTP port on 127.0.0.1 (default: local.settings.json Host.LocalHttpPort, else 7071)
  --project <dir>            Function app folder with host.json and package.json (default: current folder)
  --queue-lease-seconds <n>  How long a received queue message stays invisible while its function runs,
                             renewed at half-time (default: OUTFLOW_QUEUE_LEASE_SECONDS, else 60)
  -h, --help                 Show this help
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      project: { type: 'string' },
      'queue-lease-seconds': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65536)) throw new Error(`Invalid --port: ${values.port}`);
  const lease = values['queue-lease-seconds'] === undefined ? undefined : Number(values['queue-lease-seconds']);

  let host: RunningFunctionsHost | undefined;
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping || !host) {
      // Second signal, or one during startup: leave now.
      process.stdout.write(`${signal} received; exiting immediately.\n`);
      process.exit(stopping ? 1 : 0);
    }
    stopping = true;
    process.stdout.write(`${signal} received; shutting down (send it again to exit immediately).\n`);
    host.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`Shutdown failed: ${(error as Error).stack ?? error}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Whoever read our output is gone (a crashed parent, `| head`): nothing left to report to.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
  });

  host = await startFunctionsHost({
    projectDir: resolve(values.project ?? process.cwd()),
    port,
    queueLeaseSeconds: lease,
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  const code = (error as { code?: string }).code ?? '';
  if (code.startsWith('ERR_PARSE_ARGS')) process.stderr.write(USAGE);
  process.exit(1);
});
