// Running an export through the API in the end-to-end tests: start a run, wait (bounded) for it to
// end, and read the records it listed.
import { expect } from 'vitest';
import { eventually, type ApiClient } from './apiClient.js';

const FINAL_STATUSES = ['succeeded', 'partiallySucceeded', 'failed', 'skipped', 'cancelled'];

export interface FinishedRun {
  id: string;
  status: string;
  reason?: string;
  counts: Record<string, number>;
  /** The rest of the run resource (tasks, timestamps, …) as the API answers it. */
  [field: string]: any;
}

/** Starts a run of the export and polls it until its status is final. */
export async function runToEnd(api: ApiClient, exportId: string, wait: { timeoutMs: number; intervalMs?: number }): Promise<FinishedRun> {
  const started = await api.post(`/exports/${exportId}/runs`);
  expect(started.status).toBe(202);
  return eventually(
    async () => {
      const response = await api.get(`/exports/${exportId}/runs/${started.body.runId}`);
      return FINAL_STATUSES.includes(response.body.status) ? response.body : undefined;
    },
    { ...wait, what: 'the run to finish' },
  );
}

/** The run's failed or skipped records, all on one page (the tests keep them under 5,000). */
export async function runRecords<T = { email: string; code: string; message: string; status: string }>(
  api: ApiClient,
  exportId: string,
  runId: string,
  status: 'failed' | 'skipped',
): Promise<T[]> {
  const response = await api.get(`/exports/${exportId}/runs/${runId}/records?status=${status}&top=5000`);
  expect(response.status).toBe(200);
  expect(response.body.continuationToken).toBeUndefined();
  return response.body.items;
}
