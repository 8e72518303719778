// Starts Azurite (from npm) as a child process: in memory for tests, on disk for `npm start`.
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { connect } from 'node:net';
import { freePort } from './freePort.js';

/** Azurite's well-known development account (public, documented by Microsoft). */
export const DEV_ACCOUNT = 'devstoreaccount1';
export const DEV_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteOptions {
  /** Folder for persistent data; omit for in-memory storage. */
  location?: string;
  blobPort?: number;
  queuePort?: number;
  tablePort?: number;
}

export interface RunningAzurite {
  connectionString: string;
  blobPort: number;
  queuePort: number;
  tablePort: number;
  pid: number;
  stop(): Promise<void>;
}

export async function startAzurite(options: AzuriteOptions = {}): Promise<RunningAzurite> {
  const blobPort = options.blobPort ?? (await freePort());
  const queuePort = options.queuePort ?? (await freePort());
  const tablePort = options.tablePort ?? (await freePort());
  const require = createRequire(import.meta.url);
  const azuriteMain = join(dirname(require.resolve('azurite/package.json')), 'dist', 'src', 'azurite.js');
  const args = [
    azuriteMain,
    '--silent',
    '--disableTelemetry',
    '--skipApiVersionCheck',
    '--loose',
    '--blobHost',
    '127.0.0.1',
    '--blobPort',
    String(blobPort),
    '--queueHost',
    '127.0.0.1',
    '--queuePort',
    String(queuePort),
    '--tableHost',
    '127.0.0.1',
    '--tablePort',
    String(tablePort),
    ...(options.location ? ['--location', options.location] : ['--inMemoryPersistence']),
  ];
  // Node.js arguments for Azurite's own process, to look into it (e.g. `--cpu-prof --cpu-prof-dir=DIR`:
  // Node refuses --cpu-prof in NODE_OPTIONS).
  const nodeArguments = (process.env.OUTFLOW_AZURITE_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const child = spawn(process.execPath, [...nodeArguments, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  try {
    await Promise.all([blobPort, queuePort, tablePort].map((port) => waitForPort(port, child)));
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`Azurite did not start: ${(error as Error).message} ${stderr}`, { cause: error });
  }
  const connectionString = azuriteConnectionString(blobPort, queuePort, tablePort);
  return {
    connectionString,
    blobPort,
    queuePort,
    tablePort,
    pid: child.pid!,
    stop: () => stopChild(child),
  };
}

export function azuriteConnectionString(blobPort: number, queuePort: number, tablePort: number): string {
  return [
    'DefaultEndpointsProtocol=http',
    `AccountName=${DEV_ACCOUNT}`,
    `AccountKey=${DEV_KEY}`,
    `BlobEndpoint=http://127.0.0.1:${blobPort}/${DEV_ACCOUNT}`,
    `QueueEndpoint=http://127.0.0.1:${queuePort}/${DEV_ACCOUNT}`,
    `TableEndpoint=http://127.0.0.1:${tablePort}/${DEV_ACCOUNT}`,
  ].join(';');
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`port ${port} not open after ${timeoutMs} ms`);
}

/** SIGTERM, then SIGKILL if the child has not exited within a few seconds. */
export function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
