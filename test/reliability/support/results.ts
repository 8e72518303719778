// Where the reliability suite keeps its figures: one JSON file per profile, one entry per row,
// merged as each test ends (so a single file can be re-run and the report re-rendered).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * The suite's sizes. `full` (`npm run test:reliability`) is what RELIABILITY.md reports; `ci`
 * runs every row and check small, inside `npm test` (vitest.config.ts), so CI runs the same
 * code paths on every change. `RELIABILITY_PROFILE=ci npm run test:reliability` runs it alone.
 */
export const PROFILES = {
  full: {
    /** Members of the fault matrix's export, per row. */
    members: 200_000,
    /** How long a mid-run fault's run is stretched (its connection's rate), so faults land mid-run. */
    stretchSeconds: 40,
    /** The mid-run Key Vault outage: longer than the host's 60 s secret cache. */
    keyVaultOutageMs: 60_000,
    keyVaultStretchSeconds: 150,
    /** Key Vault down from before the run starts: longer than the queue's five attempts take (about a minute, with the SecretClient's own retries). */
    startOutageMs: 90_000,
    /** 429 storms: after every `every` calls, the next `length` answered 429. */
    storm: { every: 20, length: 10 },
    /** Slow vendor: one call in `holdEvery` held beyond the call timeout (unset: the adapter's own). */
    holdEvery: 50,
    vendorTimeoutSeconds: undefined as number | undefined,
    /** The recovery sweep's patience (RUN_RECOVERY_STALE_SECONDS) for the plan-message-lost row (unset: the default 120 s). */
    recoveryStaleSeconds: undefined as number | undefined,
    /**
     * Members of the documented-rate row (Campaign Monitor's 2 requests/s, functionTimeout 20 s, 2
     * instances): twice issue 14's 100,000, which passes as well (both measured with the planner
     * handing on within its budget, at load 34 and 18).
     */
    rateRowMembers: 200_000,
    apiClients: 50,
    apiLoadMs: 60_000,
    fuzzRequests: 10_000,
  },
  ci: {
    members: 10_000,
    stretchSeconds: 10,
    keyVaultOutageMs: 5_000,
    keyVaultStretchSeconds: 10,
    startOutageMs: 65_000,
    storm: { every: 4, length: 3 },
    holdEvery: 4,
    vendorTimeoutSeconds: 4 as number | undefined,
    recoveryStaleSeconds: 15 as number | undefined,
    rateRowMembers: 10_000,
    apiClients: 20,
    apiLoadMs: 5_000,
    fuzzRequests: 2_000,
  },
};

export type ProfileName = keyof typeof PROFILES;
export const profileNamed = (name: string | undefined): ProfileName => (name === 'ci' ? 'ci' : 'full');
export const PROFILE: ProfileName = profileNamed(process.env.RELIABILITY_PROFILE);
export const SIZES = PROFILES[PROFILE];

export const PROJECT_ROOT = join(import.meta.dirname, '..', '..', '..');
export const resultsFile = (profile: ProfileName) => join(PROJECT_ROOT, '.outflow', 'reliability', `results-${profile}.json`);
export const RESULTS_FILE = resultsFile(PROFILE);

export type Section = 'faultMatrix' | 'apiLoad' | 'security' | 'fuzz';

export interface ResultEntry {
  id: string;
  measuredAt: string;
  /** Load average (1 min) when the entry was written: the machine is shared. */
  load: number;
  passed: boolean;
  [field: string]: unknown;
}

export type Results = Partial<Record<Section, Record<string, ResultEntry>>>;

export function readResults(file = RESULTS_FILE): Results {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Results;
  } catch {
    return {};
  }
}

/** Merges one row into the results file at once, so a run stopped part way keeps every row it finished. */
export function recordResult(
  section: Section,
  id: string,
  entry: { passed: boolean } & Record<string, unknown>,
  file: string = RESULTS_FILE,
): void {
  const results = readResults(file);
  const rows = (results[section] ??= {});
  rows[id] = { ...entry, id, measuredAt: new Date().toISOString(), load: Number(loadavg()[0]!.toFixed(1)) };
  mkdirSync(dirname(file), { recursive: true });
  // Written aside and renamed: a killed run never leaves half a file.
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(results, null, 2));
  renameSync(temporary, file);
}

export function machine(): { cores: number; cpu: string; memoryGiB: number; node: string; platform: string } {
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

/** Percentile of sorted numbers (nearest rank). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
