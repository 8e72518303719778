// Changing schedules: one export's (PUT /exports/{id}/schedule) or many at once
// (POST /exports/schedules) — "keep" only switches the selected exports on or off, "override"
// gives them all one new schedule. The bulk edit is all-or-nothing: every export is checked first
// (a list of per-export errors if any is not allowed), then all are written in one table
// transaction guarded by each export's ETag.
import { z } from 'zod';
import type { Principal } from '../auth/principal.js';
import { hasRole } from '../auth/principal.js';
import { recordAudit } from '../audit/auditLog.js';
import type { ConnectionRecord } from '../connections/connection.js';
import { listConnections } from '../connections/connectionStore.js';
import { Forbidden, PreconditionFailed, Unprocessable } from '../errors.js';
import { exportId, schedule, type ExportRecord, type Schedule } from '../exports/exportDefinition.js';
import { getExportWithConnection, permissionsOn } from '../exports/manageExports.js';
import { listExports, replaceExport, replaceSchedules } from '../exports/exportStore.js';
import { isStatus } from '../storage/entities.js';
import { isPreconditionFailed } from '../storage/preconditionFailed.js';

/** A table transaction holds at most 100 operations; all-or-nothing needs one transaction. */
export const MAX_BULK_EXPORTS = 100;

export const editSchedulesBody = z
  .strictObject({
    exportIds: z.array(exportId).min(1, 'select at least one export').max(MAX_BULK_EXPORTS, `at most ${MAX_BULK_EXPORTS} exports at once`),
    mode: z.enum(['keep', 'override']).describe('keep: only switch the selected exports on or off; override: give them all `schedule`'),
    active: z.boolean().optional(),
    schedule: schedule.optional(),
  })
  .superRefine((body, context) => {
    if (new Set(body.exportIds).size !== body.exportIds.length)
      context.addIssue({ code: 'custom', path: ['exportIds'], message: 'list each export once' });
    if (body.mode === 'keep' && body.active === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['active'],
        message: 'keep switches the selected exports on or off: give active true or false',
      });
    }
    if (body.mode === 'keep' && body.schedule) {
      context.addIssue({
        code: 'custom',
        path: ['schedule'],
        message: "keep leaves each export's schedule as it is; use mode override to give them a new one",
      });
    }
    if (body.mode === 'override' && !body.schedule)
      context.addIssue({ code: 'custom', path: ['schedule'], message: 'override needs the schedule to give every selected export' });
  });
export type EditSchedulesBody = z.infer<typeof editSchedulesBody>;

export interface ExportError {
  exportId: string;
  path: string;
  message: string;
}

function requireWriter(principal: Principal): void {
  if (!hasRole(principal, 'admin', 'contributor')) throw new Forbidden('Only administrators and contributors change schedules.');
}

/** Why this export's schedule may not become `next`, or undefined if it may. */
function refusal(
  principal: Principal,
  record: ExportRecord,
  connection: ConnectionRecord | undefined,
  next: Schedule,
): { forbidden: boolean; message: string } | undefined {
  if (permissionsOn(principal, record, connection) !== 'edit') {
    return { forbidden: true, message: `You may view export '${record.name}' but not change it: its connection is not shared with you.` };
  }
  if (next.active && !connection)
    return { forbidden: false, message: `Export '${record.name}' has no connection; choose one before switching its schedule on.` };
  return undefined;
}

export async function setExportSchedule(principal: Principal, id: string, next: Schedule, ifMatch: string | undefined, now = new Date()) {
  requireWriter(principal);
  const { record, connection } = await getExportWithConnection(id);
  const refused = refusal(principal, record, connection, next);
  if (refused) throw refused.forbidden ? new Forbidden(refused.message) : new Unprocessable(refused.message);
  if (ifMatch && ifMatch !== '*' && ifMatch !== record.etag) {
    throw new PreconditionFailed(`Export '${record.id}' has changed (ETag ${record.etag}); read it again and retry.`);
  }
  const updated = await replaceExport(
    { ...record, schedule: next, updatedAt: now.toISOString() },
    ifMatch && ifMatch !== '*' ? ifMatch : record.etag,
  );
  await recordAudit(
    principal,
    'export.scheduleChanged',
    { type: 'export', id, name: record.name },
    { schedule: next, ...(ifMatch ? {} : { lastWriterWins: true }) },
  );
  return { record: updated, connection };
}

function nextScheduleOf(current: Schedule, body: EditSchedulesBody): Schedule {
  if (body.mode === 'keep') return { ...current, active: body.active! };
  return { ...body.schedule!, active: body.active ?? body.schedule!.active };
}

export async function editSchedules(
  principal: Principal,
  body: EditSchedulesBody,
  now = new Date(),
): Promise<{ record: ExportRecord; connection: ConnectionRecord | undefined }[]> {
  requireWriter(principal);
  const [records, connections] = await Promise.all([listExports(), listConnections()]);
  const byId = new Map(records.map((record) => [record.id, record]));
  const connectionsById = new Map(connections.map((connection) => [connection.id, connection]));
  const errors: ExportError[] = [];
  const changes: { record: ExportRecord; connection: ConnectionRecord | undefined; next: Schedule }[] = [];
  body.exportIds.forEach((id, index) => {
    const path = `body.exportIds.${index}`;
    const record = byId.get(id);
    if (!record) return errors.push({ exportId: id, path, message: `Export '${id}' does not exist.` });
    const connection = record.connectionId ? connectionsById.get(record.connectionId) : undefined;
    const next = nextScheduleOf(record.schedule, body);
    const refused = refusal(principal, record, connection, next);
    if (refused) return errors.push({ exportId: id, path, message: refused.message });
    changes.push({ record, connection, next });
  });
  if (errors.length > 0) {
    throw new Unprocessable(
      `${errors.length} of ${body.exportIds.length} selected exports cannot be changed, so none was changed: ${errors.map((error) => error.message).join(' ')}`,
      { errors },
    );
  }

  const updatedAt = now.toISOString();
  let etags: (string | undefined)[];
  try {
    etags = await replaceSchedules(
      changes.map(({ record, next }) => ({ id: record.id, etag: record.etag, schedule: next })),
      updatedAt,
    );
  } catch (error) {
    if (isPreconditionFailed(error) || isStatus(error, 404, 409)) {
      throw new PreconditionFailed(
        'One of the selected exports changed (or was removed) while the schedules were being saved; none was changed. Read them again and retry.',
      );
    }
    throw error;
  }
  for (const { record, next } of changes) {
    await recordAudit(
      principal,
      'export.scheduleChanged',
      { type: 'export', id: record.id, name: record.name },
      { schedule: next, bulk: body.mode },
    );
  }
  return changes.map(({ record, connection, next }, index) => ({
    record: { ...record, schedule: next, updatedAt, etag: etags[index] ?? record.etag },
    connection,
  }));
}
