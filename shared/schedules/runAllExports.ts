// Run all: starts every export whose schedule is on (inactive ones are left out and can still be
// run one at a time), and says for each export not started why.
import pLimit from 'p-limit';
import type { Principal } from '../auth/principal.js';
import { hasRole } from '../auth/principal.js';
import { listConnections } from '../connections/connectionStore.js';
import { Conflict, DomainError, Forbidden } from '../errors.js';
import { listExports } from '../exports/exportStore.js';
import { permissionsOn } from '../exports/manageExports.js';
import { startRun } from '../runs/startRun.js';

export interface RunAllResult {
  started: { exportId: string; name: string; runId: string }[];
  notStarted: { exportId: string; name: string; reason: string; activeRunId?: string }[];
}

export async function runAllExports(principal: Principal): Promise<RunAllResult> {
  if (!hasRole(principal, 'admin', 'contributor')) throw new Forbidden('Only administrators and contributors run exports.');
  const [records, connections] = await Promise.all([listExports(), listConnections()]);
  const connectionsById = new Map(connections.map((connection) => [connection.id, connection]));
  const result: RunAllResult = { started: [], notStarted: [] };
  const limit = pLimit(4);
  const sorted = [...records].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  await Promise.all(
    sorted.map((record) =>
      limit(async () => {
        const connection = record.connectionId ? connectionsById.get(record.connectionId) : undefined;
        const notStarted = (reason: string, extra: { activeRunId?: string } = {}) =>
          result.notStarted.push({ exportId: record.id, name: record.name, reason, ...extra });
        if (!connection) return notStarted('It has no connection; choose one first.');
        if (!record.schedule.active) return notStarted('Its schedule is off (inactive); run it on its own if you need it now.');
        if (permissionsOn(principal, record, connection) !== 'edit')
          return notStarted('You may view it but not run it: its connection is not shared with you.');
        try {
          const run = await startRun(principal, record.id, 'runAll');
          result.started.push({ exportId: record.id, name: record.name, runId: run.id });
        } catch (error) {
          if (error instanceof Conflict)
            return notStarted('A run is already in progress.', { activeRunId: String(error.extensions.activeRunId ?? '') || undefined });
          if (error instanceof DomainError) return notStarted(error.message);
          throw error;
        }
      }),
    ),
  );
  // Completion order depends on timing; answer in list order.
  const order = new Map(sorted.map((record, index) => [record.id, index]));
  result.started.sort((a, b) => order.get(a.exportId)! - order.get(b.exportId)!);
  result.notStarted.sort((a, b) => order.get(a.exportId)! - order.get(b.exportId)!);
  return result;
}
