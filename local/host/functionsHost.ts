// The local Functions host: loads an app's own registrations (through the core API stand-in) and
// runs its HTTP, timer and storage-queue triggers with the runtime's semantics.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BlobServiceClient } from '@azure/storage-blob';
import { installCoreApi, loadFunctionsLibrary, triggerOf, type RegisteredFunction } from './coreApi.js';
import { HttpTriggerServer } from './httpTriggers.js';
import { describeError, formatTimeSpan, InFlight, Invoker, WorkerRestartedError, type FunctionTimeoutError } from './invoke.js';
import { ListenerLock } from './listenerLock.js';
import { createLogger, toLogLevel, type HostLogger } from './logger.js';
import { QueueTrigger } from './queueTriggers.js';
import { DEFAULT_CONNECTION, messageToInput, QueueStorage } from './queueStorage.js';
import { ScheduleMonitor } from './scheduleMonitor.js';
import { applySettings, readHostConfig, readLocalSettings } from './settings.js';
import { TimerTrigger } from './timerTriggers.js';

export interface FunctionsHostOptions {
  /** The function app's folder (host.json, local.settings.json, package.json). Default: cwd. */
  projectDir?: string;
  /** Default: local.settings.json Host.LocalHttpPort, else 7071. 0 picks a free port. */
  port?: number;
  /** App settings that win over both the environment and local.settings.json. */
  settings?: Record<string, string>;
  /** Lease on a received queue message, renewed at half-time. Default: OUTFLOW_QUEUE_LEASE_SECONDS or 600 (the runtime's 10 minutes). */
  queueLeaseSeconds?: number;
  /** How long stop() waits for invocations in progress. Default 30 s. */
  shutdownTimeoutMs?: number;
  /** The URL callers use when a front door stands before this host (printed in the function list). */
  publicUrl?: string;
  /** Which instance this is when several run (shown in every log line). */
  instance?: string;
  /** Called when the host stops taking new work (shutdown or recycle), before it finishes what it runs. */
  onDraining?: () => void;
}

export interface FunctionInfo {
  name: string;
  /** Trigger binding type: httpTrigger, timerTrigger, queueTrigger, … */
  trigger: string;
  /** Methods and URL, queue name or schedule. */
  detail: string;
  /** False for triggers the local host does not run. */
  supported: boolean;
}

export interface RunningFunctionsHost {
  /** Base URL including the route prefix, e.g. http://127.0.0.1:7071/api */
  url: string;
  port: number;
  functions: FunctionInfo[];
  /** Stops accepting work, waits for invocations in progress (bounded), runs appTerminate hooks. */
  stop(): Promise<void>;
  /**
   * Resolves when an invocation ran past functionTimeout and the host has failed every invocation
   * in flight (HTTP callers answered 500, queue messages released for a retry). The process
   * must then exit, as the runtime restarts the worker: nothing of their code may run on.
   */
  recycled: Promise<string>;
}

const DEFAULT_PORT = 7071;
/** The runtime's queue listener holds a message 10 minutes, renewed at half-time (WebJobs SDK QueueListener). */
const DEFAULT_QUEUE_LEASE_SECONDS = 600;
/** How long a recycle waits for the failed invocations' HTTP answers and queue releases. */
const RECYCLE_SETTLE_MS = 5_000;

export async function startFunctionsHost(options: FunctionsHostOptions = {}): Promise<RunningFunctionsHost> {
  const projectDir = resolve(options.projectDir ?? process.cwd());
  if (!existsSync(join(projectDir, 'host.json'))) throw new Error(`No host.json in ${projectDir}.`);

  // Settings reach process.env before any function module is imported, as in the runtime.
  const local = readLocalSettings(projectDir);
  applySettings(local.values, options.settings);
  process.env.AZURE_FUNCTIONS_ENVIRONMENT ??= 'Development';
  const config = readHostConfig(projectDir);
  const logger = createLogger({ format: process.env.OUTFLOW_LOG_FORMAT, logLevels: config.logLevels, instance: options.instance });
  if (local.copiedFromSample) logger.host('information', 'Created local.settings.json from local.settings.sample.json.');

  const registry = installCoreApi();
  registry.systemLog = (level, category, message) => {
    const mapped = toLogLevel(level);
    if (mapped === 'warning' || mapped === 'error' || mapped === 'critical') logger.log({ level: mapped, category, message });
  };
  const lib = loadFunctionsLibrary(projectDir);
  for (const file of resolveMainFiles(projectDir)) {
    try {
      await import(pathToFileURL(file).href);
    } catch (error) {
      throw new Error(`Worker was unable to load entry point "${relative(projectDir, file)}": ${describeError(error)}`, { cause: error });
    }
  }
  const registered = registry.functions;
  if (registered.length === 0) logger.host('warning', 'No functions were registered (check package.json "main").');

  const storage = new QueueStorage();
  const inFlight = new InFlight();
  let recycle: (error: FunctionTimeoutError) => void = () => undefined;
  const invoker = new Invoker(lib, registry, logger, storage, config.queues, {
    functionTimeoutMs: config.functionTimeoutMs,
    onTimeout: (error) => recycle(error),
  });
  const leaseSeconds = clampLease(
    options.queueLeaseSeconds ?? Number(process.env.OUTFLOW_QUEUE_LEASE_SECONDS || DEFAULT_QUEUE_LEASE_SECONDS),
  );
  const timezone = timerTimeZone(logger);
  const coordination = timerCoordination(storage, config, logger);

  const httpFunctions: RegisteredFunction[] = [];
  const timers: TimerTrigger[] = [];
  const queues: QueueTrigger[] = [];
  const functions: FunctionInfo[] = [];
  for (const fn of registered) {
    const trigger = triggerOf(fn);
    const type = trigger.type.toLowerCase();
    warnAboutUnsupportedBindings(fn, logger);
    if (type === 'httptrigger') {
      httpFunctions.push(fn);
      functions.push({ name: fn.metadata.name, trigger: trigger.type, detail: '', supported: true });
    } else if (type === 'timertrigger') {
      const timer = new TimerTrigger(fn, invoker, inFlight, logger, timezone, coordination?.(fn.metadata.name));
      timers.push(timer);
      const startup = timer.runOnStartup ? ', runOnStartup' : '';
      functions.push({ name: fn.metadata.name, trigger: trigger.type, detail: `${timer.schedule.describe}${startup}`, supported: true });
    } else if (type === 'queuetrigger') {
      const queue = new QueueTrigger(fn, invoker, inFlight, logger, storage, config.queues, leaseSeconds);
      queues.push(queue);
      functions.push({ name: fn.metadata.name, trigger: trigger.type, detail: queue.queueName, supported: true });
    } else {
      logger.host('warning', `Function "${fn.metadata.name}": ${trigger.type} is not supported by the local host; it will not run.`);
      functions.push({ name: fn.metadata.name, trigger: trigger.type, detail: '', supported: false });
    }
  }

  const http = new HttpTriggerServer({
    lib,
    invoker,
    inFlight,
    logger,
    routePrefix: config.routePrefix,
    customHeaders: config.customHeaders,
    functions: httpFunctions,
    invokeByAdmin: (name, input) => {
      const lower = name.toLowerCase();
      const timer = timers.find((t) => t.fn.metadata.name.toLowerCase() === lower);
      if (timer) {
        timer.fire('admin');
        return true;
      }
      const queue = queues.find((q) => q.fn.metadata.name.toLowerCase() === lower);
      if (queue) {
        queue.invokeDirect(typeof input === 'string' ? messageToInput(input) : input);
        return true;
      }
      return false;
    },
  });

  for (const hook of registry.hooks.appStart) {
    await hook({ hookData: invoker.appHookData, appHookData: invoker.appHookData, functionAppDirectory: projectDir });
  }

  const port = await http.listen(options.port ?? local.localHttpPort ?? DEFAULT_PORT);
  const origin = options.publicUrl?.replace(/\/+$/, '') ?? `http://127.0.0.1:${port}`;
  const url = config.routePrefix ? `${origin}/${config.routePrefix}` : origin;
  for (const route of http.routes) {
    const info = functions.find((f) => f.name === route.fn.metadata.name)!;
    const methods = route.methods.length > 0 ? route.methods.join(',') : 'ALL';
    info.detail = `[${methods}] ${url}/${route.template.replace(/^\/+/, '')}`;
  }
  const lines = functions.map(
    (f) => `  ${f.name}: ${f.trigger === 'httpTrigger' ? '' : `${f.trigger} `}${f.detail}${f.supported ? '' : ' (not run locally)'}`,
  );
  logger.host('information', `Functions:\n${lines.join('\n')}`);
  const timeout = config.functionTimeoutMs === null ? 'none' : formatTimeSpan(config.functionTimeoutMs);
  logger.host('information', `functionTimeout: ${timeout}; queue messages held ${leaseSeconds} s while their function runs.`);
  queues.forEach((queue) => queue.start());
  timers.forEach((timer) => timer.start());
  logger.host('information', `Host started: ${url}`);

  let stopping: Promise<void> | undefined;
  let recycling: Promise<string> | undefined;
  let recycled!: (reason: string) => void;
  const recycledPromise = new Promise<string>((resolve) => (recycled = resolve));
  // As the runtime on a function timeout (azure-functions-host PR #5857, issues #8720 and #10936):
  // the worker that ran it is restarted, and with it every invocation in flight there fails.
  recycle = (error) => {
    if (stopping || recycling) return;
    recycling = (async () => {
      options.onDraining?.();
      logger.host('error', `A function timeout has occurred. Restarting worker process executing invocationId '${error.invocationId}'.`);
      void http.stopAccepting();
      void Promise.all(timers.map((timer) => timer.stop()));
      void Promise.all(queues.map((queue) => queue.stop()));
      invoker.abortAll(new WorkerRestartedError(`the worker process was restarted after a function timeout (${error.message})`));
      await inFlight.drain(RECYCLE_SETTLE_MS);
      return error.message;
    })();
    void recycling.then(recycled);
  };

  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 30_000;
  const stop = () =>
    (stopping ??= (async () => {
      options.onDraining?.();
      logger.host('information', 'Stopping host: no new requests or messages; waiting for invocations in progress.');
      const closed = http.stopAccepting();
      await Promise.all(timers.map((timer) => timer.stop()));
      await Promise.all(queues.map((queue) => queue.stop()));
      if (!(await inFlight.drain(shutdownTimeoutMs))) {
        logger.host('warning', `${inFlight.size} invocation(s) still running after ${shutdownTimeoutMs} ms; stopping anyway.`);
        // Their messages go back to the queue now, as failed invocations' do, not after the lease.
        invoker.abortAll(new WorkerRestartedError('the host shut down'));
        await inFlight.drain(RECYCLE_SETTLE_MS);
      }
      for (const hook of registry.hooks.appTerminate) {
        try {
          await hook({ hookData: invoker.appHookData, appHookData: invoker.appHookData });
        } catch (error) {
          logger.host('error', `appTerminate hook failed: ${describeError(error)}`);
        }
      }
      http.closeAllConnections();
      await closed;
      logger.host('information', 'Host stopped.');
    })());

  return { url, port, functions, stop, recycled: recycledPromise };
}

/** Status blobs and listener locks for timers, in the AzureWebJobsStorage account as in the runtime. */
function timerCoordination(storage: QueueStorage, config: ReturnType<typeof readHostConfig>, logger: HostLogger) {
  let connectionString: string;
  try {
    connectionString = storage.connectionString(DEFAULT_CONNECTION);
  } catch {
    logger.host('warning', 'AzureWebJobsStorage is not set: timers run on this instance without a listener lock or schedule status.');
    return undefined;
  }
  const container = BlobServiceClient.fromConnectionString(connectionString).getContainerClient('azure-webjobs-hosts');
  return (functionName: string) => {
    const fullName = `Host.Functions.${functionName}`;
    return {
      lock: (onAcquired: () => void, onLost: () => void) =>
        new ListenerLock(container, `locks/${config.hostId}/${fullName}.Listener`, config.singleton, logger, onAcquired, onLost),
      status: new ScheduleMonitor(container, `timers/${config.hostId}/${fullName}/status`),
    };
  };
}

/** package.json "main": one file, or a glob such as "dist/functions/*.js" (as the runtime allows). */
export function resolveMainFiles(projectDir: string): string[] {
  const packageJson = JSON.parse(readFileSync(join(projectDir, 'package.json'), 'utf8')) as { main?: string };
  const main = (packageJson.main ?? 'index.js').replace(/\\/g, '/').replace(/^\.\//, '');
  if (!/[*?{[]/.test(main)) {
    const file = isAbsolute(main) ? main : join(projectDir, main);
    if (!existsSync(file)) throw new Error(`package.json "main" points to ${file}, which does not exist (build first?).`);
    return [file];
  }
  const parts = main.split('/');
  const firstGlob = parts.findIndex((part) => /[*?{[]/.test(part));
  const base = join(projectDir, ...parts.slice(0, firstGlob));
  const pattern = globToRegExp(parts.slice(firstGlob).join('/'));
  const files = existsSync(base) ? walk(base).filter((file) => pattern.test(relative(base, file).split(sep).join('/'))) : [];
  if (files.length === 0) throw new Error(`package.json "main" (${main}) matches no files in ${projectDir} (build first?).`);
  return files.sort();
}

function walk(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry.startsWith('.')) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) files.push(...walk(path));
    else files.push(path);
  }
  return files;
}

export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i]!;
    if (char === '*' && glob[i + 1] === '*') {
      // "**/" matches any number of folders, including none.
      source += glob[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += glob[i + 2] === '/' ? 2 : 1;
    } else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else if (char === '{') {
      const end = glob.indexOf('}', i);
      source += `(?:${glob
        .slice(i + 1, end)
        .split(',')
        .map(escapeRegExp)
        .join('|')})`;
      i = end;
    } else source += escapeRegExp(char);
  }
  return new RegExp(`^${source}$`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function warnAboutUnsupportedBindings(fn: RegisteredFunction, logger: HostLogger): void {
  const triggerType = triggerOf(fn).type.toLowerCase();
  for (const [name, binding] of Object.entries(fn.metadata.bindings)) {
    const type = binding.type.toLowerCase();
    if (type.endsWith('trigger')) continue;
    const httpReturn = name === '$return' && type === 'http' && triggerType === 'httptrigger';
    if (httpReturn || (binding.direction === 'out' && type === 'queue')) continue;
    logger.host(
      'warning',
      `Function "${fn.metadata.name}": ${binding.direction} binding "${name}" (${binding.type}) is not supported by the local host and is ignored.`,
    );
  }
}

function clampLease(seconds: number): number {
  return Number.isFinite(seconds) ? Math.min(600, Math.max(2, Math.round(seconds))) : DEFAULT_QUEUE_LEASE_SECONDS;
}

/** WEBSITE_TIME_ZONE (an IANA name on Linux) sets the timers' time zone, else the machine's. */
function timerTimeZone(logger: HostLogger): string | undefined {
  const zone = process.env.WEBSITE_TIME_ZONE;
  if (!zone) return undefined;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return zone;
  } catch {
    logger.host('warning', `WEBSITE_TIME_ZONE "${zone}" is not an IANA time zone; timers use the machine's time zone.`);
    return undefined;
  }
}
