// The workers the entry points register: each export goes to exactly one of them, each step kind
// belongs to one worker, and a second worker claiming a step kind already taken is refused.
import { describe, expect, it } from 'vitest';
import '../../functions/runWorkers.js';
import { registerRunWorker, registeredWorkers, workerForExport, workerForStep } from '../../shared/runs/workers.js';
import { destinationFor } from '../../shared/destinations/registry.js';
import type { ExportRecord } from '../../shared/exports/exportDefinition.js';

const exportOf = (kind: ExportRecord['kind']) => ({ kind }) as ExportRecord;

describe('registered run workers', () => {
  it('are the segment sender and the data-out writer, with their own step kinds', () => {
    expect(registeredWorkers().map((worker) => [worker.name, [...worker.steps]])).toEqual([
      ['segmentSender', ['send', 'remove']],
      ['dataOutWriter', ['copy', 'merge', 'publish']],
    ]);
    expect(workerForStep('send')?.name).toBe('segmentSender');
    for (const step of ['copy', 'merge', 'publish']) expect(workerForStep(step)?.name).toBe('dataOutWriter');
    expect(workerForStep('')).toBeUndefined();
  });

  it('route segment exports to vendors to the sender, and data-out and storage exports to the writer', () => {
    expect(workerForExport(exportOf('segment'), destinationFor('mailchimp'))?.name).toBe('segmentSender');
    expect(workerForExport(exportOf('segment'), destinationFor('azure-blob'))?.name).toBe('dataOutWriter');
    expect(workerForExport(exportOf('dataOut'), destinationFor('azure-blob'))?.name).toBe('dataOutWriter');
  });

  it('refuse a second worker for a step kind already taken', () => {
    const copycat = { name: 'copycat', steps: ['send'], takes: () => false, plan: async () => undefined, runStep: async () => undefined };
    expect(() => registerRunWorker(copycat)).toThrow(/Step 'send' of worker 'copycat' is already the step of worker 'segmentSender'/);
    expect(registeredWorkers().map((worker) => worker.name)).not.toContain('copycat');
  });
});
