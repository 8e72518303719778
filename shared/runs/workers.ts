// The registry of run workers: filled by the entry points (functions/runWorkers.ts), read by the
// core's planner (which worker takes an export) and chunk dispatcher (which worker owns a step).
import type { DestinationAdapter } from '../destinations/destination.js';
import type { ExportRecord } from '../exports/exportDefinition.js';
import type { RunWorker } from './workerContract.js';

const workers: RunWorker[] = [];
const byStep = new Map<string, RunWorker>();

/** Adds a worker; registering the same worker again is a no-op, a step kind taken twice an error. */
export function registerRunWorker(worker: RunWorker): void {
  if (workers.includes(worker)) return;
  for (const step of worker.steps) {
    const owner = byStep.get(step);
    if (owner) throw new Error(`Step '${step}' of worker '${worker.name}' is already the step of worker '${owner.name}'.`);
  }
  workers.push(worker);
  for (const step of worker.steps) byStep.set(step, worker);
}

/** The first registered worker that takes runs of this export to this destination. */
export function workerForExport(record: ExportRecord, destination: DestinationAdapter): RunWorker | undefined {
  return workers.find((worker) => worker.takes(record, destination));
}

export function workerForStep(step: string): RunWorker | undefined {
  return byStep.get(step);
}

export function registeredWorkers(): readonly RunWorker[] {
  return workers;
}
