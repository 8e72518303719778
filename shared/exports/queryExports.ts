// The export list: search over name, connection name and type; sort by any listed column; pages.
import { z } from 'zod';
import type { ExportView } from './exportDefinition.js';

export const SORTABLE = ['name', 'connectionName', 'connectionType', 'status', 'schedule', 'lastRefreshed', 'lastRunStatus', 'createdAt'] as const;

export const listExportsQuery = z.strictObject({
  search: z.string().max(200).optional(),
  sort: z.enum(SORTABLE).default('name'),
  order: z.enum(['asc', 'desc']).default('asc'),
  top: z.coerce.number().int().min(1).max(1000).default(100),
  continuationToken: z.string().max(100).optional(),
});
export type ListExportsQuery = z.infer<typeof listExportsQuery>;

function sortKey(view: ExportView, column: (typeof SORTABLE)[number]): string {
  if (column === 'schedule') return view.schedule.mode === 'custom' ? `custom ${view.schedule.recurrence.frequency}` : 'systemRefresh';
  return String(view[column] ?? '');
}

function decodeOffset(token: string | undefined): number {
  if (!token) return 0;
  const offset = Number(Buffer.from(token, 'base64url').toString());
  return Number.isInteger(offset) && offset >= 0 ? offset : 0;
}

export function queryExports(views: ExportView[], query: ListExportsQuery): { items: ExportView[]; continuationToken?: string } {
  const needle = query.search?.trim().toLowerCase();
  const matching = needle
    ? views.filter((view) => [view.name, view.connectionName, view.connectionType].some((value) => value.toLowerCase().includes(needle)))
    : views;
  const direction = query.order === 'asc' ? 1 : -1;
  const collator = new Intl.Collator('en', { sensitivity: 'base', numeric: true });
  const sorted = [...matching].sort((a, b) => direction * collator.compare(sortKey(a, query.sort), sortKey(b, query.sort)) || collator.compare(a.id, b.id));
  const offset = decodeOffset(query.continuationToken);
  const items = sorted.slice(offset, offset + query.top);
  const next = offset + items.length;
  return { items, ...(next < sorted.length ? { continuationToken: Buffer.from(String(next)).toString('base64url') } : {}) };
}
