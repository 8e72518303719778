// One host instance: the Functions host in this process, started by the supervisor (cli.ts) with
// an IPC channel. It reports its port when ready, exits with RECYCLE_EXIT_CODE when a function
// timeout recycles it (the supervisor starts it again, as the runtime restarts its worker), and
// dies at once if the supervisor is gone.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startFunctionsHost, type RunningFunctionsHost } from './functionsHost.js';
import { RECYCLE_EXIT_CODE, type InstanceDraining, type InstanceReady } from './instanceProtocol.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      project: { type: 'string' },
      'queue-lease-seconds': { type: 'string' },
      'public-url': { type: 'string' },
      instance: { type: 'string' },
    },
    strict: true,
  });
  const lease = values['queue-lease-seconds'] === undefined ? undefined : Number(values['queue-lease-seconds']);

  let host: RunningFunctionsHost | undefined;
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping || !host) process.exit(stopping ? 1 : 0);
    stopping = true;
    process.stdout.write(`${signal} received; shutting down (send it again to exit immediately).\n`);
    host.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`Shutdown failed: ${(error as Error).stack ?? String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // The supervisor is gone (killed): an instance without it is a crashed one.
  process.on('disconnect', () => process.exit(1));
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
  });

  host = await startFunctionsHost({
    projectDir: resolve(values.project ?? process.cwd()),
    port: values.port === undefined ? 0 : Number(values.port),
    queueLeaseSeconds: lease,
    publicUrl: values['public-url'],
    instance: values.instance,
    onDraining: () => process.send?.({ type: 'draining' } satisfies InstanceDraining),
  });
  void host.recycled.then(() => process.exit(RECYCLE_EXIT_CODE));
  process.send?.({ type: 'ready', port: host.port } satisfies InstanceReady);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
