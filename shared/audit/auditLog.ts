// Who changed what, when. Entries never hold secret values: callers pass only names and ids.
import { odata } from '@azure/data-tables';
import { randomUUID } from 'node:crypto';
import type { Principal } from '../auth/principal.js';
import { table } from '../storage/clients.js';
import { TABLES } from '../storage/names.js';
import { fromJson, toJson } from '../storage/entities.js';

export interface AuditEntry {
  id: string;
  at: string;
  actor: { id: string; name: string };
  action: string;
  target: { type: string; id: string; name?: string };
  details?: Record<string, unknown>;
}

interface AuditRow {
  at: string;
  actor: string;
  action: string;
  target: string;
  details: string;
}

/** Row keys sort newest first within a month partition. */
function rowKeyFor(at: Date): string {
  return `${String(8_640_000_000_000_000 - at.getTime()).padStart(16, '0')}-${randomUUID().slice(0, 8)}`;
}

export async function recordAudit(
  actor: Principal,
  action: string,
  target: AuditEntry['target'],
  details?: Record<string, unknown>,
): Promise<void> {
  const at = new Date();
  const client = await table(TABLES.audit);
  await client.createEntity<AuditRow>({
    partitionKey: at.toISOString().slice(0, 7),
    rowKey: rowKeyFor(at),
    at: at.toISOString(),
    actor: toJson({ id: actor.id, name: actor.name }),
    action,
    target: toJson(target),
    details: toJson(details ?? {}),
  });
}

function toAuditEntry(row: AuditRow & { rowKey?: string }): AuditEntry {
  return {
    id: row.rowKey!,
    at: row.at,
    actor: fromJson(row.actor, { id: '', name: '' }),
    action: row.action,
    target: fromJson(row.target, { type: '', id: '' }),
    details: fromJson(row.details, {}),
  };
}

/** Entries of one action recorded since `since` (newest first): a bounded range of row keys per month. */
export async function auditSince(action: string, since: Date, now = new Date()): Promise<AuditEntry[]> {
  const client = await table(TABLES.audit);
  const months = [...new Set([now.toISOString().slice(0, 7), since.toISOString().slice(0, 7)])];
  const before = String(8_640_000_000_000_000 - since.getTime()).padStart(16, '0');
  const entries: AuditEntry[] = [];
  for (const month of months) {
    const filter = odata`PartitionKey eq ${month} and RowKey lt ${before} and action eq ${action}`;
    for await (const row of client.listEntities<AuditRow>({ queryOptions: { filter } })) entries.push(toAuditEntry(row));
  }
  return entries.sort((a, b) => b.at.localeCompare(a.at));
}

export async function listAudit(options: { top: number; month?: string }): Promise<AuditEntry[]> {
  const client = await table(TABLES.audit);
  const month = options.month ?? new Date().toISOString().slice(0, 7);
  const entries: AuditEntry[] = [];
  for await (const row of client.listEntities<AuditRow>({ queryOptions: { filter: odata`PartitionKey eq ${month}` } })) {
    entries.push(toAuditEntry(row));
    if (entries.length >= options.top) break;
  }
  return entries;
}
