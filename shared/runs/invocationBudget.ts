// How long one invocation of a queue function may work before it hands the rest of its work to a
// message of its own. The Functions runtime fails an invocation past `functionTimeout` and
// restarts the worker process, killing everything else in flight on it
// (https://learn.microsoft.com/azure/azure-functions/functions-host-json#functiontimeout,
// azure-functions-host issue #8720); a budget well under it keeps every invocation clear of that.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setting } from '../settings.js';

/** The runtime's own default on Flex Consumption and Premium when host.json says nothing. */
const DEFAULT_FUNCTION_TIMEOUT_MS = 30 * 60_000;
/** An invocation never works longer than this, whatever the timeout allows. */
const MAX_BUDGET_MS = 5 * 60_000;
/** Share of functionTimeout an invocation may work; the rest covers its last vendor call and acknowledgement. */
const BUDGET_SHARE = 0.4;

/** Parses a .NET TimeSpan as host.json writes it ("hh:mm:ss", "d.hh:mm:ss", "hh:mm:ss.fff") into ms. */
export function parseTimeSpanMs(text: string): number | undefined {
  const match = /^(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,7}))?$/.exec(text.trim());
  if (!match) return undefined;
  const [, days, hours, minutes, seconds, fraction] = match;
  const ms = fraction ? Math.round(Number(`0.${fraction}`) * 1000) : 0;
  return ((Number(days ?? 0) * 24 + Number(hours)) * 60 + Number(minutes)) * 60_000 + Number(seconds) * 1000 + ms;
}

function hostJsonTimeout(): string | undefined {
  // The app root holds host.json; this file is dist/shared/runs/ under it once built.
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [
    join(here, '..', '..', '..', 'host.json'),
    join(here, '..', '..', 'host.json'),
    join(process.cwd(), 'host.json'),
  ]) {
    if (!existsSync(candidate)) continue;
    try {
      const value = (JSON.parse(readFileSync(candidate, 'utf8').replace(/^\uFEFF/, '')) as { functionTimeout?: unknown }).functionTimeout;
      return typeof value === 'string' ? value : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

let cachedTimeoutMs: number | undefined;

/**
 * functionTimeout as the runtime applies it: the app setting that overrides host.json
 * (AzureFunctionsJobHost__functionTimeout, see the "Override host.json values" section of the
 * page above), else host.json, else the runtime's default.
 */
export function functionTimeoutMs(): number {
  const override = setting('AzureFunctionsJobHost__functionTimeout');
  if (override) return parseTimeSpanMs(override) ?? DEFAULT_FUNCTION_TIMEOUT_MS;
  cachedTimeoutMs ??= parseTimeSpanMs(hostJsonTimeout() ?? '') ?? DEFAULT_FUNCTION_TIMEOUT_MS;
  return cachedTimeoutMs;
}

/** How long one invocation may work: min(5 min, 40% of functionTimeout). */
export function invocationBudgetMs(timeoutMs = functionTimeoutMs()): number {
  return Math.max(1000, Math.min(MAX_BUDGET_MS, Math.floor(timeoutMs * BUDGET_SHARE)));
}

/** The moment an invocation that started at `startedAt` should hand its work on. */
export function invocationDeadline(startedAt = Date.now()): number {
  return startedAt + invocationBudgetMs();
}
