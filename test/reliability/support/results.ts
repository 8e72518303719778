// Where the reliability suite keeps its figures: one JSON file per profile, one entry per row,
// merged as each test ends (so a single file can be re-run and the report re-rendered).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';

/** `RELIABILITY_PROFILE=short` runs every row small and fast (CI); anything else is the full profile. */
export const PROFILE: 'short' | 'full' = process.env.RELIABILITY_PROFILE === 'short' ? 'short' : 'full';
export const SHORT = PROFILE === 'short';

export const PROJECT_ROOT = join(import.meta.dirname, '..', '..', '..');
export const RESULTS_FILE = join(PROJECT_ROOT, '.outflow', 'reliability', `results-${PROFILE}.json`);

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

export function recordResult(section: Section, id: string, entry: { passed: boolean } & Record<string, unknown>): void {
  const results = readResults();
  const rows = (results[section] ??= {});
  rows[id] = { ...entry, id, measuredAt: new Date().toISOString(), load: Number(loadavg()[0]!.toFixed(1)) };
  mkdirSync(dirname(RESULTS_FILE), { recursive: true });
  // Written aside and renamed: a killed run never leaves half a file.
  const temporary = `${RESULTS_FILE}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(results, null, 2));
  renameSync(temporary, RESULTS_FILE);
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
