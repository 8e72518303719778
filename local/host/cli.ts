// node dist/local/host/cli.js [--port 7071] [--project <dir>] [--instances N] [--queue-lease-seconds 600]
// Runs a function app locally: N host instances (processes) on the same storage behind one HTTP
// port, each started again when a function timeout recycles it or it crashes. SIGINT/SIGTERM stop
// them gracefully (a second signal kills them).
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { FrontDoor } from './frontDoor.js';
import { InstancePool } from './instancePool.js';
import { createLogger } from './logger.js';
import { applySettings, readHostConfig, readLocalSettings } from './settings.js';

const USAGE = `Usage: node dist/local/host/cli.js [options]

Runs the function app's HTTP, timer and storage-queue triggers locally.

Options:
  --port <n>                 HTTP port on 127.0.0.1 (default: local.settings.json Host.LocalHttpPort, else 7071)
  --project <dir>            Function app folder with host.json and package.json (default: current folder)
  --instances <n>            Host instances (processes) on the same storage, like a scale-out
                             (default: OUTFLOW_HOST_INSTANCES, else 1)
  --queue-lease-seconds <n>  How long a received queue message stays invisible while its function runs,
                             renewed at half-time (default: OUTFLOW_QUEUE_LEASE_SECONDS, else 600)
  -h, --help                 Show this help
`;

const DEFAULT_PORT = 7071;
const MAX_INSTANCES = 16;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      project: { type: 'string' },
      instances: { type: 'string' },
      'queue-lease-seconds': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const projectDir = resolve(values.project ?? process.cwd());
  const local = readLocalSettings(projectDir);
  applySettings(local.values);
  const config = readHostConfig(projectDir);

  const port = values.port === undefined ? (local.localHttpPort ?? DEFAULT_PORT) : Number(values.port);
  if (!(Number.isInteger(port) && port >= 0 && port < 65536)) throw new Error(`Invalid --port: ${values.port}`);
  const instancesText = values.instances ?? process.env.OUTFLOW_HOST_INSTANCES ?? '';
  const instances = instancesText.trim() === '' ? 1 : Number(instancesText);
  if (!(Number.isInteger(instances) && instances >= 1 && instances <= MAX_INSTANCES)) {
    throw new Error(`Invalid host instance count "${instancesText}" (--instances or OUTFLOW_HOST_INSTANCES): 1 to ${MAX_INSTANCES}.`);
  }

  const logger = createLogger({ format: process.env.OUTFLOW_LOG_FORMAT, logLevels: config.logLevels });
  const log = (message: string) => logger.host('information', message);
  let pool: InstancePool | undefined;
  let door: FrontDoor | undefined;
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping || !door || !pool) {
      process.stdout.write(`${signal} received; exiting immediately.\n`);
      pool?.kill();
      process.exit(stopping ? 1 : 0);
    }
    stopping = true;
    process.stdout.write(`${signal} received; shutting down (send it again to exit immediately).\n`);
    const closed = door.stopAccepting();
    pool
      .stop()
      .then(async () => {
        door!.closeAllConnections();
        await closed;
        process.exit(0);
      })
      .catch((error: unknown) => {
        process.stderr.write(`Shutdown failed: ${(error as Error).stack ?? String(error)}\n`);
        process.exit(1);
      });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
  });

  // Filled in once the front door's port is known (the instances print it as theirs).
  const args: string[] = [];
  pool = new InstancePool({ count: instances, args, log });
  door = new FrontDoor(pool, log);
  const listening = await door.listen(port);
  const publicUrl = `http://127.0.0.1:${listening}`;
  args.push('--project', projectDir, '--public-url', publicUrl);
  if (values['queue-lease-seconds'] !== undefined) args.push('--queue-lease-seconds', values['queue-lease-seconds']);
  if (instances > 1) log(`Starting ${instances} host instances on the same storage (host id ${config.hostId}) behind ${publicUrl}.`);
  await pool.start();
  if (instances > 1) log(`All ${instances} host instances are ready.`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  const code = (error as { code?: string }).code ?? '';
  if (code.startsWith('ERR_PARSE_ARGS')) process.stderr.write(USAGE);
  process.exit(1);
});
