// The whole local product in one call: Azurite, the Key Vault emulator, a simulator for every
// destination whose *_API_URL is not set, a lake, and the Functions host as a child process.
// `npm start` and the integration tests both use it, so tests run what developers run.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { startAzurite, stopChild, type RunningAzurite } from './azurite.js';
import { createDevCertificate } from './devCertificate.js';
import { freePort } from './freePort.js';
import { projectRoot } from './projectRoot.js';
import { startKeyVaultEmulator, type KeyVaultEmulator } from './keyVaultEmulator.js';
import { startSimulators, type RunningSimulator } from './simulators/index.js';
import { startWebhookReceiver, type WebhookReceiver } from './webhookReceiver.js';
import { seedLake } from './demoData/seedLake.js';
import type { InstanceInfo as HostInstanceInfo } from './host/instanceProtocol.js';

export type { HostInstanceInfo };

export const PROJECT_DIR = projectRoot();

export interface StackOptions {
  /** Folder for persistent data (Azurite, certificates); omit for in-memory storage in a temp folder. */
  dataDir: string;
  persistent?: boolean;
  hostPort?: number;
  azuritePorts?: { blob: number; queue: number; table: number };
  keyVaultPort?: number;
  /** Fixed simulator ports by setting name (npm start); free ports otherwise. */
  simulatorPorts?: Record<string, number>;
  /** Options per simulator by setting name, e.g. { CAMPAIGN_MONITOR_API_URL: { rateLimit: false } }. */
  simulatorOptions?: Record<string, Record<string, unknown>>;
  /** Port of the local webhook receiver (npm start); a free one otherwise. */
  webhookReceiverPort?: number;
  /** Seed a lake of this many profiles when none exists. */
  seedProfiles?: number;
  seedKind?: 'b2c' | 'b2b';
  invalidEmailRate?: number;
  /** Extra settings for the host (they win over everything else). */
  settings?: Record<string, string>;
  /** Host instances on the same storage, like a scale-out (OUTFLOW_HOST_INSTANCES); default: the setting, else 1. */
  hostInstances?: number;
  /** Overrides host.json functionTimeout, e.g. '00:00:20' (AzureFunctionsJobHost__functionTimeout). */
  functionTimeout?: string;
  /** Where the host's output goes: 'inherit' for npm start, a callback for tests. */
  hostOutput?: 'inherit' | ((line: string) => void);
  authSigningKey?: string;
  /** Node options for the host's processes (its instances inherit them), e.g. ['--cpu-prof', '--cpu-prof-dir=…']. */
  hostExecArgv?: string[];
}

export interface RunningStack {
  apiUrl: string;
  hostPort: number;
  azurite: RunningAzurite;
  keyVault: KeyVaultEmulator;
  simulators: RunningSimulator[];
  /** A webhook subscriber on 127.0.0.1 that keeps what it receives (local/webhookReceiver.ts). */
  webhookReceiver: WebhookReceiver;
  settings: Record<string, string>;
  /** The Functions host's supervisor process (its instances are child processes of it). */
  host: ChildProcess;
  /** The host instances now: number, pid, port, whether ready, how often restarted. */
  hostInstances(): Promise<HostInstanceInfo[]>;
  /**
   * Kills one host instance without warning (SIGKILL), as a crashed or removed instance; the
   * supervisor starts it again, and the others keep working. Returns the pid that was killed.
   */
  killHostInstance(instance: number): Promise<number>;
  /** Restarts the Functions host (e.g. after killing it to simulate a crash). */
  restartHost(): Promise<void>;
  /** Kills the host without warning, as a crash would. */
  killHost(): Promise<void>;
  /** Stops Azurite and starts it again on the same ports and data folder (persistent stacks only). */
  restartAzurite(options?: { downMs?: number }): Promise<void>;
  stop: () => Promise<void>;
}

export async function startStack(options: StackOptions): Promise<RunningStack> {
  const started: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of started.reverse()) await stop().catch(() => undefined);
  };
  try {
    mkdirSync(options.dataDir, { recursive: true });
    const azuriteLocation = options.persistent ? join(options.dataDir, 'azurite') : undefined;
    let azurite = await startAzurite({
      location: azuriteLocation,
      blobPort: options.azuritePorts?.blob,
      queuePort: options.azuritePorts?.queue,
      tablePort: options.azuritePorts?.table,
    });
    started.push(() => azurite.stop());

    const certificate = await createDevCertificate(join(options.dataDir, 'certs'));
    const keyVaultToken = randomBytes(24).toString('hex');
    const keyVault = await startKeyVaultEmulator({
      certPath: certificate.certPath,
      keyPath: certificate.keyPath,
      port: options.keyVaultPort ?? 0,
      token: keyVaultToken,
    });
    started.push(() => keyVault.stop());

    const simulators = await startSimulators({
      ports: options.simulatorPorts ?? {},
      options: options.simulatorOptions,
      skip: (setting) => !!(options.settings?.[setting] ?? process.env[setting]),
    });
    for (const simulator of simulators) started.push(() => simulator.stop());
    const webhookReceiver = await startWebhookReceiver({ port: options.webhookReceiverPort });
    started.push(() => webhookReceiver.stop());

    if (options.seedProfiles) await seedIfEmpty(azurite.connectionString, options);

    const hostPort = options.hostPort ?? (await freePort());
    const settings: Record<string, string> = {
      AzureWebJobsStorage: azurite.connectionString,
      KEY_VAULT_URL: keyVault.url,
      KEY_VAULT_LOCAL_TOKEN: keyVaultToken,
      NODE_EXTRA_CA_CERTS: certificate.certPath,
      AUTH_DEV_SIGNING_KEY: options.authSigningKey ?? randomBytes(32).toString('base64url'),
      ...Object.fromEntries(simulators.map((simulator) => [simulator.setting, simulator.url])),
      ...(options.hostInstances ? { OUTFLOW_HOST_INSTANCES: String(options.hostInstances) } : {}),
      ...(options.functionTimeout ? { AzureFunctionsJobHost__functionTimeout: options.functionTimeout } : {}),
      // Webhooks may target the local receiver (loopback only; private ranges stay refused).
      WEBHOOK_ALLOW_LOOPBACK: 'true',
      PUBLIC_API_URL: `http://127.0.0.1:${hostPort}/api`,
      ...options.settings,
    };
    let host = await startHost(hostPort, settings, options.hostOutput ?? 'inherit', options.hostExecArgv ?? []);
    started.push(() => stopChild(host, 50_000));
    const apiUrl = `http://127.0.0.1:${hostPort}/api`;
    return {
      apiUrl,
      hostPort,
      get azurite() {
        return azurite;
      },
      keyVault,
      simulators,
      webhookReceiver,
      settings,
      get host() {
        return host;
      },
      async hostInstances() {
        const response = await fetch(`http://127.0.0.1:${hostPort}/admin/host/instances`);
        if (!response.ok) throw new Error(`GET /admin/host/instances answered ${response.status}`);
        return (await response.json()) as HostInstanceInfo[];
      },
      async killHostInstance(instance: number) {
        const info = (await this.hostInstances()).find((entry) => entry.instance === instance);
        if (!info?.pid) throw new Error(`Host instance ${instance} is not running.`);
        process.kill(info.pid, 'SIGKILL');
        return info.pid;
      },
      async restartHost() {
        await stopChild(host, 50_000);
        host = await startHost(hostPort, settings, options.hostOutput ?? 'inherit', options.hostExecArgv ?? []);
      },
      async killHost() {
        await new Promise<void>((resolve) => {
          if (host.exitCode !== null || host.signalCode !== null) return resolve();
          host.once('exit', () => resolve());
          host.kill('SIGKILL');
        });
      },
      async restartAzurite(restart = {}) {
        // In memory, a restart would come back empty: only a stack on disk can survive one.
        if (!azuriteLocation) throw new Error('restartAzurite needs a persistent stack (persistent: true).');
        const { blobPort, queuePort, tablePort } = azurite;
        await azurite.stop();
        if (restart.downMs) await new Promise((resolve) => setTimeout(resolve, restart.downMs));
        azurite = await startAzurite({ location: azuriteLocation, blobPort, queuePort, tablePort });
      },
      stop: stopAll,
    } as RunningStack;
  } catch (error) {
    await stopAll();
    throw error;
  }
}

async function seedIfEmpty(connectionString: string, options: StackOptions): Promise<void> {
  const container = BlobServiceClient.fromConnectionString(connectionString).getContainerClient(process.env.LAKE_CONTAINER || 'lake');
  await container.createIfNotExists();
  if (await container.getBlockBlobClient('model.json').exists()) return;
  await seedLake({
    containerClient: container,
    profiles: options.seedProfiles!,
    kind: options.seedKind ?? 'b2c',
    seed: 1,
    invalidEmailRate: options.invalidEmailRate ?? 0,
  });
}

async function startHost(
  port: number,
  settings: Record<string, string>,
  output: StackOptions['hostOutput'],
  execArgv: string[],
): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [...execArgv, join(PROJECT_DIR, 'dist', 'local', 'host', 'cli.js'), '--port', String(port), '--project', PROJECT_DIR],
    {
      cwd: PROJECT_DIR,
      env: { ...process.env, ...settings },
      stdio: output === 'inherit' ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'],
    },
  );
  if (typeof output === 'function') {
    for (const stream of [child.stdout!, child.stderr!]) {
      let pending = '';
      stream.on('data', (data: Buffer) => {
        pending += data.toString();
        const lines = pending.split('\n');
        pending = lines.pop()!;
        for (const line of lines) output(line);
      });
    }
  }
  await waitForHealth(`http://127.0.0.1:${port}/api/health`, child);
  return child;
}

async function waitForHealth(url: string, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`The Functions host exited with code ${child.exitCode} before it was ready.`);
    try {
      const response = await fetch(url);
      // Ready when every host instance is (the first one answers health before the others start).
      if (response.ok && (await allInstancesReady(new URL('/admin/host/instances', url).href))) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  child.kill('SIGKILL');
  throw new Error(`The Functions host did not answer ${url} within ${timeoutMs / 1000} s.`);
}

async function allInstancesReady(url: string): Promise<boolean> {
  const instances = (await (await fetch(url)).json()) as HostInstanceInfo[];
  return instances.every((instance) => instance.ready);
}
