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

export async function listAudit(options: { top: number; month?: string }): Promise<AuditEntry[]> {
  const client = await table(TABLES.audit);
  const month = options.month ?? new Date().toISOString().slice(0, 7);
  const entries: AuditEntry[] = [];
  for await (const row of client.listEntities<AuditRow>({ queryOptions: { filter: odata`PartitionKey eq ${month}` } })) {
    entries.push({
      id: row.rowKey!,
      at: row.at,
      actor: fromJson(row.actor, { id: '', name: '' }),
      action: row.action,
      target: fromJson(row.target, { type: '', id: '' }),
      details: fromJson(row.details, {}),
    });
    if (entries.length >= options.top) break;
  }
  return entries;
}
