// Reads what the Functions runtime reads before it loads an app: host.json (the parts the local
// host honours) and local.settings.json (app settings, as Core Tools does).
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

export interface QueueOptions {
  batchSize: number;
  newBatchThreshold: number;
  maxPollingIntervalMs: number;
  visibilityTimeoutMs: number;
  maxDequeueCount: number;
  messageEncoding: 'base64' | 'none';
}

export interface SingletonOptions {
  /** Lease on a timer's listener lock (15–60 s, the blob lease range). */
  listenerLockPeriodMs: number;
  /** How often an instance without the lock tries to take it. */
  listenerLockRecoveryPollingIntervalMs: number;
}

export interface HostConfig {
  /** host.json functionTimeout; null = no limit ("-1" or null in host.json). */
  functionTimeoutMs: number | null;
  /** The host id that names the timers' status blobs and locks (host.json "id" is obsolete). */
  hostId: string;
  singleton: SingletonOptions;
  routePrefix: string;
  customHeaders: Record<string, string>;
  queues: QueueOptions;
  /** logging.logLevel from host.json, keys as written ("default", "Function", "Function.<name>"). */
  logLevels: Record<string, string>;
}

export interface LocalSettings {
  values: Record<string, string>;
  localHttpPort?: number;
  /** True when local.settings.json was created from local.settings.sample.json just now. */
  copiedFromSample: boolean;
}

/** Runtime defaults (Storage extension 5.x), used where host.json is silent. */
const QUEUE_DEFAULTS = {
  batchSize: 16,
  maxPollingIntervalMs: 60_000,
  visibilityTimeoutMs: 0,
  maxDequeueCount: 5,
};

/**
 * Runtime default when host.json has no functionTimeout: 30 minutes on Flex Consumption,
 * Premium and Dedicated plans (https://learn.microsoft.com/azure/azure-functions/functions-scale#timeout).
 */
const DEFAULT_FUNCTION_TIMEOUT_MS = 30 * 60_000;

/** SingletonOptions defaults of the WebJobs SDK (host.json "singleton"). */
const SINGLETON_DEFAULTS = { listenerLockPeriodMs: 60_000, listenerLockRecoveryPollingIntervalMs: 60_000 };

/** App settings named AzureFunctionsJobHost__path__to__value override host.json, as in the runtime. */
export const HOST_JSON_OVERRIDE_PREFIX = 'AzureFunctionsJobHost__';

export function readHostConfig(projectDir: string, env: NodeJS.ProcessEnv = process.env): HostConfig {
  const path = join(projectDir, 'host.json');
  const raw = applyHostJsonOverrides(existsSync(path) ? (parseJsonFile(path) as Record<string, unknown>) : {}, env);
  const extensions = asObject(raw.extensions);
  const http = asObject(extensions.http);
  const queues = asObject(extensions.queues);
  const logging = asObject(raw.logging);
  const singleton = asObject(raw.singleton);

  // The runtime caps batchSize at 32 (the Queue service's receive limit).
  const batchSize = clamp(asNumber(queues.batchSize, QUEUE_DEFAULTS.batchSize), 1, 32);
  const encoding = String(queues.messageEncoding ?? 'base64').toLowerCase();
  return {
    functionTimeoutMs: functionTimeout(raw.functionTimeout),
    hostId: hostIdFor(projectDir, env),
    singleton: {
      listenerLockPeriodMs: clamp(durationOr(singleton.listenerLockPeriod, SINGLETON_DEFAULTS.listenerLockPeriodMs), 15_000, 60_000),
      listenerLockRecoveryPollingIntervalMs: Math.max(
        100,
        durationOr(singleton.listenerLockRecoveryPollingInterval, SINGLETON_DEFAULTS.listenerLockRecoveryPollingIntervalMs),
      ),
    },
    routePrefix: typeof http.routePrefix === 'string' ? trimSlashes(http.routePrefix) : 'api',
    customHeaders: stringRecord(http.customHeaders),
    queues: {
      batchSize,
      // Runtime default: N × batchSize / 2 for N cores.
      newBatchThreshold: Math.max(0, asNumber(queues.newBatchThreshold, Math.floor((availableParallelism() * batchSize) / 2))),
      // The runtime never polls more often than every 100 ms.
      maxPollingIntervalMs: Math.max(100, durationOr(queues.maxPollingInterval, QUEUE_DEFAULTS.maxPollingIntervalMs)),
      visibilityTimeoutMs: durationOr(queues.visibilityTimeout, QUEUE_DEFAULTS.visibilityTimeoutMs),
      maxDequeueCount: Math.max(1, asNumber(queues.maxDequeueCount, QUEUE_DEFAULTS.maxDequeueCount)),
      messageEncoding: encoding === 'none' ? 'none' : 'base64',
    },
    logLevels: stringRecord(asObject(logging.logLevel)),
  };
}

/**
 * host.json with `AzureFunctionsJobHost__a__b` app settings written over `a.b` (keys matched
 * without regard to case), the way the runtime lets app settings override host.json
 * (https://learn.microsoft.com/azure/azure-functions/functions-host-json#override-hostjson-values).
 */
export function applyHostJsonOverrides(hostJson: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const result = structuredClone(hostJson);
  for (const [name, value] of Object.entries(env)) {
    // An empty value (a blank line in local.settings.json) overrides nothing.
    if (!value || !name.toLowerCase().startsWith(HOST_JSON_OVERRIDE_PREFIX.toLowerCase())) continue;
    const path = name
      .slice(HOST_JSON_OVERRIDE_PREFIX.length)
      .split('__')
      .filter((part) => part !== '');
    if (path.length === 0) continue;
    let node = result;
    for (const [index, part] of path.entries()) {
      const key = Object.keys(node).find((existing) => existing.toLowerCase() === part.toLowerCase()) ?? part;
      if (index === path.length - 1) {
        node[key] = value;
      } else {
        if (!node[key] || typeof node[key] !== 'object') node[key] = {};
        node = node[key] as Record<string, unknown>;
      }
    }
  }
  return result;
}

function functionTimeout(value: unknown): number | null {
  if (value === undefined) return DEFAULT_FUNCTION_TIMEOUT_MS;
  if (value === null || String(value).trim() === '-1' || String(value).trim() === '') return null;
  const ms = durationOr(value, DEFAULT_FUNCTION_TIMEOUT_MS);
  // The runtime's minimum is one second.
  return Math.max(1000, ms);
}

/**
 * AzureFunctionsWebHost__hostid when set (as in the runtime), else one derived from the app's
 * folder name: lower-case letters, digits and dashes, at most 32 characters.
 */
function hostIdFor(projectDir: string, env: NodeJS.ProcessEnv): string {
  const configured = Object.entries(env).find(([name]) => name.toLowerCase() === 'azurefunctionswebhost__hostid')?.[1];
  const base = configured || `local-${projectDir.split(/[\\/]/).filter(Boolean).pop() ?? 'app'}`;
  return (
    base
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 32) || 'local-app'
  );
}

/**
 * Reads local.settings.json, first copying local.settings.sample.json to it when only the sample
 * exists (so a fresh clone starts with working local values).
 */
export function readLocalSettings(projectDir: string): LocalSettings {
  const path = join(projectDir, 'local.settings.json');
  const sample = join(projectDir, 'local.settings.sample.json');
  let copiedFromSample = false;
  if (!existsSync(path) && existsSync(sample)) {
    copyFileSync(sample, path);
    copiedFromSample = true;
  }
  if (!existsSync(path)) return { values: {}, copiedFromSample };
  const raw = asObject(parseJsonFile(path));
  if (raw.IsEncrypted === true) throw new Error(`${path} is encrypted; the local host reads plain settings only.`);
  const host = asObject(raw.Host);
  const port = Number(host.LocalHttpPort);
  return {
    values: stringRecord(raw.Values),
    localHttpPort: Number.isInteger(port) && port > 0 ? port : undefined,
    copiedFromSample,
  };
}

/**
 * Puts settings into process.env the way the runtime does: the environment wins over
 * local.settings.json Values; explicit overrides (programmatic callers) win over both.
 */
export function applySettings(
  fileValues: Record<string, string>,
  overrides: Record<string, string> = {},
  env: NodeJS.ProcessEnv = process.env,
): void {
  for (const [name, value] of Object.entries(fileValues)) {
    if (env[name] === undefined) env[name] = value;
  }
  for (const [name, value] of Object.entries(overrides)) env[name] = value;
}

/** Replaces `%Name%` binding expressions with app settings, as the runtime does for queue names and schedules. */
export function resolveAppSettingExpressions(value: string, env: NodeJS.ProcessEnv = process.env): string {
  return value.replace(/%([^%]+)%/g, (_, name: string) => {
    const resolved = env[name];
    if (resolved === undefined) throw new Error(`App setting "${name}" (used as %${name}%) is not set.`);
    return resolved;
  });
}

/**
 * Parses a .NET TimeSpan as host.json writes it: "hh:mm:ss", "hh:mm:ss.fff" or "d.hh:mm:ss".
 * Returns milliseconds.
 */
export function parseTimeSpan(text: string): number {
  const match = /^(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,7}))?$/.exec(text.trim());
  if (!match) throw new Error(`Not a TimeSpan (expected hh:mm:ss): "${text}"`);
  const [, days, hours, minutes, seconds, fraction] = match;
  const ms = fraction ? Math.round(Number(`0.${fraction}`) * 1000) : 0;
  return ((Number(days ?? 0) * 24 + Number(hours)) * 60 + Number(minutes)) * 60_000 + Number(seconds) * 1000 + ms;
}

function durationOr(value: unknown, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'number') return value * 1000;
  return parseTimeSpan(String(value));
}

function parseJsonFile(path: string): unknown {
  const text = readFileSync(path, 'utf8').replace(/^\uFEFF/, '');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`Cannot parse ${path}: ${(error as Error).message}`, { cause: error });
  }
}

function asObject(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function asNumber(value: unknown, fallback: number): number {
  const number = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  return Number.isFinite(number) ? number : fallback;
}

function stringRecord(value: unknown): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, item] of Object.entries(asObject(value))) {
    if (item !== undefined && item !== null) result[key] = String(item);
  }
  return result;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

function trimSlashes(value: string): string {
  return value.replace(/^\/+|\/+$/g, '');
}
