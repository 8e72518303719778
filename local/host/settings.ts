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

export interface HostConfig {
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

export function readHostConfig(projectDir: string): HostConfig {
  const path = join(projectDir, 'host.json');
  const raw = existsSync(path) ? (parseJsonFile(path) as Record<string, unknown>) : {};
  const extensions = asObject(raw.extensions);
  const http = asObject(extensions.http);
  const queues = asObject(extensions.queues);
  const logging = asObject(raw.logging);

  // The runtime caps batchSize at 32 (the Queue service's receive limit).
  const batchSize = clamp(asNumber(queues.batchSize, QUEUE_DEFAULTS.batchSize), 1, 32);
  const encoding = String(queues.messageEncoding ?? 'base64').toLowerCase();
  return {
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
    throw new Error(`Cannot parse ${path}: ${(error as Error).message}`);
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
