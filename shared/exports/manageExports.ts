// Use cases for exports: validation against the destination and the lake, permissions per
// caller, optimistic concurrency, and the audit trail.
import { randomUUID } from 'node:crypto';
import type { Principal } from '../auth/principal.js';
import { hasRole } from '../auth/principal.js';
import { recordAudit } from '../audit/auditLog.js';
import type { ConnectionRecord } from '../connections/connection.js';
import { canUseConnection } from '../connections/manageConnections.js';
import { findConnection, listConnections } from '../connections/connectionStore.js';
import { destinationFor } from '../destinations/registry.js';
import type { DataMatchingField, DestinationAdapter } from '../destinations/destination.js';
import { Forbidden, NotEligible, PreconditionFailed, ValidationFailed, type FieldError } from '../errors.js';
import { findSegment, listLakeSegments, loadLakeModel, type SegmentSummary } from '../lake/segmentCatalog.js';
import { listEntities as listLakeEntities } from '../lake/lakeReader.js';
import type { CdmModel } from '../lake/cdmModel.js';
import { validateWith } from '../validation.js';
import { nextRunOf } from '../schedules/recurrence.js';
import { dataMatchingFor, eligibilityOf } from './eligibility.js';
import {
  DEFAULT_DELIVERY,
  type CreateExportBody,
  type Delivery,
  type ExportRecord,
  type ExportView,
  type UpdateExportBody,
} from './exportDefinition.js';
import { missingCapabilities } from './deliveryCapabilities.js';
import { deleteExportSnapshot } from '../delivery/deliverySnapshot.js';
import * as store from './exportStore.js';
import { isPreconditionFailed } from '../storage/preconditionFailed.js';

export const NO_CONNECTION = 'No connection';

export function exportStatus(record: ExportRecord): ExportView['status'] {
  if (!record.connectionId) return 'noConnection';
  return record.schedule.active ? 'active' : 'inactive';
}

/** Admins edit everything; contributors only exports on connections shared with them. */
export function permissionsOn(principal: Principal, record: ExportRecord, connection: ConnectionRecord | undefined): 'edit' | 'view' {
  if (hasRole(principal, 'admin')) return 'edit';
  if (hasRole(principal, 'contributor') && connection && canUseConnection(principal, connection)) return 'edit';
  return 'view';
}

export function toExportView(principal: Principal, record: ExportRecord, connection: ConnectionRecord | undefined): ExportView {
  return {
    id: record.id,
    name: record.name,
    connectionId: record.connectionId,
    connectionName: connection?.name ?? NO_CONNECTION,
    connectionType: connection?.type ?? record.connectionType,
    kind: record.kind,
    segments: record.segments,
    mapping: record.mapping,
    details: record.details,
    entities: record.entities,
    schedule: record.schedule,
    delivery: record.delivery ?? DEFAULT_DELIVERY,
    status: connection ? exportStatus(record) : 'noConnection',
    lastRefreshed: record.lastRefreshed,
    lastRunStatus: record.lastRunStatus,
    nextRun: connection ? nextRunOf(record.schedule, new Date()) : null,
    activeRunId: record.activeRunId,
    yourPermissions: permissionsOn(principal, record, connection),
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    etag: record.etag,
  };
}

async function usableConnection(principal: Principal, connectionId: string): Promise<ConnectionRecord> {
  const connection = await findConnection(connectionId);
  if (!connection || !canUseConnection(principal, connection)) {
    throw new ValidationFailed(`Connection '${connectionId}' does not exist or is not shared with you.`, [
      { path: 'body.connectionId', message: 'unknown connection' },
    ]);
  }
  return connection;
}

interface CheckedDefinition {
  details: Record<string, unknown>;
}

/** Checks segments, eligibility, mapping and details against the destination and the lake. */
async function checkDefinition(
  destination: DestinationAdapter,
  definition: {
    kind: ExportRecord['kind'];
    segments: string[];
    mapping: Record<string, string>;
    details: Record<string, unknown>;
    entities: string[];
    delivery?: Delivery;
  },
): Promise<CheckedDefinition> {
  if (!destination.exportKinds.includes(definition.kind)) {
    throw new ValidationFailed(`${destination.displayName} does not take ${definition.kind} exports.`, [
      { path: 'body.kind', message: `use one of: ${destination.exportKinds.join(', ')}` },
    ]);
  }
  const missing = missingCapabilities(destination, definition.kind, definition.delivery ?? DEFAULT_DELIVERY);
  if (missing.length)
    throw new ValidationFailed(
      `${destination.displayName} cannot deliver this way: ${missing.map((error) => error.message).join('; ')}.`,
      missing,
    );
  const details = validateWith(destination.exportDetails, definition.details, 'body.details', 'export details') as Record<string, unknown>;
  if (definition.kind === 'dataOut') {
    checkEntities(await loadLakeModel(), definition.entities, definition.mapping);
    return { details };
  }
  if (definition.segments.length === 0)
    throw new ValidationFailed('Choose at least one segment.', [{ path: 'body.segments', message: 'at least one segment id' }]);
  if (new Set(definition.segments).size !== definition.segments.length) {
    throw new ValidationFailed('A segment is listed twice.', [{ path: 'body.segments', message: 'list each segment once' }]);
  }
  const lakeSegments = await listLakeSegments();
  const unknown: FieldError[] = definition.segments.flatMap((id, index) =>
    lakeSegments.some((segment) => segment.id === id)
      ? []
      : [{ path: `body.segments.${index}`, message: `segment '${id}' does not exist in the lake; GET /api/segments lists the segments` }],
  );
  if (unknown.length)
    throw new ValidationFailed(
      `Unknown segment${unknown.length > 1 ? 's' : ''}: ${unknown.map((error) => error.message).join('; ')}.`,
      unknown,
    );
  const segments: SegmentSummary[] = definition.segments.map((id) => findSegment(lakeSegments, id));
  for (const segment of segments) {
    const eligibility = eligibilityOf(segment, destination, undefined, details);
    if (!eligibility.eligible) throw new NotEligible(eligibility.reason!, { segment: segment.id });
  }
  checkMapping(destination, dataMatchingFor(destination, details), definition.mapping, segments);
  return { details };
}

function checkMapping(
  destination: DestinationAdapter,
  fields: DataMatchingField[],
  mapping: Record<string, string>,
  segments: SegmentSummary[],
): void {
  const errors: FieldError[] = [];
  const known = new Map(fields.map((field) => [field.name, field]));
  for (const [field, attribute] of Object.entries(mapping)) {
    if (!known.has(field) && !destination.freeColumnNames) {
      errors.push({
        path: `body.mapping.${field}`,
        message: `'${field}' is not a data-matching field of ${destination.displayName}; use one of: ${[...known.keys()].join(', ')}`,
      });
      continue;
    }
    for (const segment of segments) {
      if (!segment.attributes.includes(attribute)) {
        errors.push({
          path: `body.mapping.${field}`,
          message: `attribute '${attribute}' does not exist in segment '${segment.name}'; its attributes are: ${segment.attributes.join(', ')}`,
        });
      }
    }
  }
  for (const field of fields.filter((candidate) => candidate.required)) {
    if (!mapping[field.name])
      errors.push({
        path: `body.mapping.${field.name}`,
        message: `${destination.displayName} needs '${field.name}' (${field.label}) mapped to a profile attribute`,
      });
  }
  if (errors.length) throw new ValidationFailed('The data matching is not valid.', errors);
}

/** A data-out export names lake entities, and its mapping's sources exist in them. */
function checkEntities(model: CdmModel, names: string[], mapping: Record<string, string>): void {
  // Any entity of the platform, segment entities included.
  const entities = listLakeEntities(model, { includeSegments: true });
  const errors: FieldError[] = [];
  if (names.length === 0) errors.push({ path: 'body.entities', message: 'choose at least one entity (GET /api/entities lists them)' });
  names.forEach((name, index) => {
    if (!entities.some((entity) => entity.name === name))
      errors.push({ path: `body.entities.${index}`, message: `entity '${name}' does not exist in the lake; GET /api/entities lists them` });
  });
  const chosen = entities.filter((entity) => names.includes(entity.name));
  for (const [column, source] of Object.entries(mapping)) {
    // "Entity.Attribute" names one entity's attribute; a bare name may come from any chosen entity.
    const dot = source.indexOf('.');
    const [entityName, attribute] = dot > 0 ? [source.slice(0, dot), source.slice(dot + 1)] : [undefined, source];
    const candidates = entityName ? chosen.filter((entity) => entity.name === entityName) : chosen;
    if (!candidates.some((entity) => entity.attributes.some((candidate) => candidate.name === attribute))) {
      errors.push({
        path: `body.mapping.${column}`,
        message: `attribute '${source}' does not exist in the chosen entities (${names.join(', ')})`,
      });
    }
  }
  if (errors.length) throw new ValidationFailed('The entities or their mapping are not valid.', errors);
}

function requireWriter(principal: Principal): void {
  if (!hasRole(principal, 'admin', 'contributor')) throw new Forbidden('Only administrators and contributors change exports.');
}

export async function createExport(
  principal: Principal,
  body: CreateExportBody,
): Promise<{ record: ExportRecord; connection: ConnectionRecord }> {
  requireWriter(principal);
  const connection = await usableConnection(principal, body.connectionId);
  const destination = destinationFor(connection.type);
  const { details } = await checkDefinition(destination, body);
  const now = new Date().toISOString();
  const record = await store.insertExport({
    id: randomUUID(),
    name: body.name,
    connectionId: connection.id,
    connectionType: connection.type,
    kind: body.kind,
    segments: body.segments,
    mapping: body.mapping,
    details,
    entities: body.entities,
    schedule: body.schedule,
    delivery: body.delivery,
    createdAt: now,
    createdBy: { id: principal.id, name: principal.name },
    updatedAt: now,
    lastRefreshed: null,
    lastRunStatus: null,
    activeRunId: null,
    etag: '',
  });
  await recordAudit(
    principal,
    'export.created',
    { type: 'export', id: record.id, name: record.name },
    { connectionId: connection.id, segments: record.segments },
  );
  return { record, connection };
}

/** The export plus its connection (undefined once disconnected or removed). */
export async function getExportWithConnection(id: string): Promise<{ record: ExportRecord; connection: ConnectionRecord | undefined }> {
  const record = await store.getExport(id);
  const connection = record.connectionId ? await findConnection(record.connectionId) : undefined;
  return { record, connection };
}

export async function listExportViews(principal: Principal): Promise<ExportView[]> {
  const [records, connections] = await Promise.all([store.listExports(), listConnections()]);
  const byId = new Map(connections.map((connection) => [connection.id, connection]));
  return records.map((record) => toExportView(principal, record, record.connectionId ? byId.get(record.connectionId) : undefined));
}

function checkIfMatch(record: ExportRecord, ifMatch: string | undefined): string {
  if (ifMatch && ifMatch !== '*' && ifMatch !== record.etag) {
    throw new PreconditionFailed(`Export '${record.id}' has changed (ETag ${record.etag}); read it again and retry.`);
  }
  return ifMatch && ifMatch !== '*' ? ifMatch : record.etag;
}

async function requireEdit(principal: Principal, record: ExportRecord, connection: ConnectionRecord | undefined): Promise<void> {
  requireWriter(principal);
  if (permissionsOn(principal, record, connection) !== 'edit') {
    throw new Forbidden(`You may view export '${record.name}' but not change it: its connection is not shared with contributors.`);
  }
}

/** Throws unless the caller may change (and so run or cancel) the export. */
export async function requireEditableExport(principal: Principal, id: string): Promise<void> {
  const { record, connection } = await getExportWithConnection(id);
  await requireEdit(principal, record, connection);
}

/**
 * Without If-Match the caller asked for last-writer-wins: a write that lost a race (often with the
 * engine's own bookkeeping on the export, such as a run ending) is redone on the latest version
 * instead of failing with 412.
 */
async function lastWriterWins<T>(ifMatch: string | undefined, write: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if (ifMatch || !(error instanceof PreconditionFailed) || attempt >= 4) throw error;
    }
  }
}

export function updateExport(
  principal: Principal,
  id: string,
  body: UpdateExportBody,
  ifMatch: string | undefined,
): Promise<{ record: ExportRecord; connection: ConnectionRecord | undefined }> {
  return lastWriterWins(ifMatch, () => updateExportOnce(principal, id, body, ifMatch));
}

async function updateExportOnce(
  principal: Principal,
  id: string,
  body: UpdateExportBody,
  ifMatch: string | undefined,
): Promise<{ record: ExportRecord; connection: ConnectionRecord | undefined }> {
  const { record: current, connection: currentConnection } = await getExportWithConnection(id);
  await requireEdit(principal, current, currentConnection);
  const etag = checkIfMatch(current, ifMatch);
  const connection = body.connectionId ? await usableConnection(principal, body.connectionId) : currentConnection;
  const next: ExportRecord = {
    ...current,
    name: body.name ?? current.name,
    connectionId: connection?.id ?? null,
    connectionType: connection?.type ?? current.connectionType,
    segments: body.segments ?? current.segments,
    mapping: body.mapping ?? current.mapping,
    details: body.details ?? current.details,
    entities: body.entities ?? current.entities,
    schedule: body.schedule ?? current.schedule,
    delivery: body.delivery ?? current.delivery ?? DEFAULT_DELIVERY,
    updatedAt: new Date().toISOString(),
  };
  if (connection) next.details = (await checkDefinition(destinationFor(connection.type), next)).details;
  const record = await store.replaceExport(next, etag);
  await recordAudit(
    principal,
    'export.updated',
    { type: 'export', id, name: record.name },
    { changed: Object.keys(body).sort(), ...(ifMatch ? {} : { lastWriterWins: true }) },
  );
  return { record, connection };
}

export async function deleteExport(principal: Principal, id: string, ifMatch: string | undefined): Promise<void> {
  const record = await lastWriterWins(ifMatch, async () => {
    const { record, connection } = await getExportWithConnection(id);
    await requireEdit(principal, record, connection);
    await store.deleteExportRow(id, checkIfMatch(record, ifMatch));
    return record;
  });
  // What the export delivered from (its changes snapshot) goes with it.
  await deleteExportSnapshot(id).catch(() => undefined);
  await recordAudit(principal, 'export.deleted', { type: 'export', id, name: record.name }, ifMatch ? {} : { lastWriterWins: true });
}

export async function duplicateExport(
  principal: Principal,
  id: string,
): Promise<{ record: ExportRecord; connection: ConnectionRecord | undefined }> {
  const { record, connection } = await getExportWithConnection(id);
  await requireEdit(principal, record, connection);
  const now = new Date().toISOString();
  const copy = await store.insertExport({
    ...record,
    id: randomUUID(),
    name: `${record.name} (copy)`,
    schedule: { ...record.schedule, active: false },
    createdAt: now,
    createdBy: { id: principal.id, name: principal.name },
    updatedAt: now,
    lastRefreshed: null,
    lastRunStatus: null,
    activeRunId: null,
  });
  await recordAudit(principal, 'export.duplicated', { type: 'export', id: copy.id, name: copy.name }, { from: id });
  return { record: copy, connection };
}

/** Drops the export's connection: it keeps its definition, is deactivated and shows "No connection". */
export async function disconnectExport(principal: Principal, id: string, ifMatch: string | undefined): Promise<ExportRecord> {
  const { record, updated } = await lastWriterWins(ifMatch, async () => {
    const { record, connection } = await getExportWithConnection(id);
    await requireEdit(principal, record, connection);
    const updated = await store.replaceExport(
      { ...record, connectionId: null, schedule: { ...record.schedule, active: false }, updatedAt: new Date().toISOString() },
      checkIfMatch(record, ifMatch),
    );
    return { record, updated };
  });
  await recordAudit(principal, 'export.disconnected', { type: 'export', id, name: record.name }, { connectionId: record.connectionId });
  return updated;
}

/** After a connection is removed every export on it becomes noConnection (definition kept). */
export async function detachExportsFrom(connectionId: string): Promise<number> {
  let detached = 0;
  for (const listed of await store.listExports()) {
    if (listed.connectionId !== connectionId) continue;
    // Each export is written under the ETag of the version just read, never '*': an edit or a run
    // ending at the same moment is kept (the write is retried on the newer version).
    for (let attempt = 0; ; attempt++) {
      const record = await store.findExport(listed.id);
      if (!record || record.connectionId !== connectionId) break;
      try {
        await store.replaceExport(
          { ...record, connectionId: null, schedule: { ...record.schedule, active: false }, updatedAt: new Date().toISOString() },
          record.etag,
        );
        detached++;
        break;
      } catch (error) {
        if ((error as { status?: number }).status === 404) break;
        if (!isPreconditionFailed(error) || attempt >= 20) throw error;
      }
    }
  }
  return detached;
}
