// The export list: search over name, connection name and type; sort by any listed column; pages.
import { z } from 'zod';
import type { ExportView } from './exportDefinition.js';

export const SORTABLE = [
  'name',
  'connectionName',
  'connectionType',
  'status',
  'schedule',
  'lastRefreshed',
  'lastRunStatus',
  'yourPermissions',
  'createdAt',
] as const;

export const listExportsQuery = z.strictObject({
  search: z.string().max(200).optional(),
  sort: z.enum(SORTABLE).default('name'),
  order: z.enum(['asc', 'desc']).default('asc'),
  top: z.coerce.number().int().min(1).max(1000).default(100),
  continuationToken: z
    .string()
    .max(100)
    .refine(
      (token) => offsetOf(token) !== undefined,
      'pass the continuationToken of the previous page unchanged (or leave it out for the first page)',
    )
    .optional(),
});
export type ListExportsQuery = z.infer<typeof listExportsQuery>;

function sortKey(view: ExportView, column: (typeof SORTABLE)[number]): string {
  if (column === 'schedule') return view.schedule.mode === 'custom' ? `custom ${view.schedule.recurrence.frequency}` : 'systemRefresh';
  return String(view[column] ?? '');
}

const collator = new Intl.Collator('en', { sensitivity: 'base', numeric: true });
/** ISO 8601 times sort as plain strings, much faster than through the collator. */
const TIMESTAMP_COLUMNS = new Set<string>(['lastRefreshed', 'createdAt']);

function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The position a continuation token of this list stands for, or undefined if it is not one. */
function offsetOf(token: string): number | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  const text = Buffer.from(token, 'base64url').toString();
  if (!/^(0|[1-9]\d{0,15})$/.test(text) || Buffer.from(text).toString('base64url') !== token) return undefined;
  return Number(text);
}

export function queryExports(views: ExportView[], query: ListExportsQuery): { items: ExportView[]; continuationToken?: string } {
  const needle = query.search?.trim().toLowerCase();
  const matching = needle
    ? views.filter((view) => [view.name, view.connectionName, view.connectionType].some((value) => value.toLowerCase().includes(needle)))
    : views;
  const direction = query.order === 'asc' ? 1 : -1;
  // Keys computed once per export, not once per comparison: this runs over every export per request.
  const keyed = matching.map((view) => ({ view, key: sortKey(view, query.sort) }));
  const compare = TIMESTAMP_COLUMNS.has(query.sort) ? compareCodeUnits : collator.compare;
  keyed.sort((a, b) => direction * compare(a.key, b.key) || compareCodeUnits(a.view.id, b.view.id));
  const offset = query.continuationToken ? (offsetOf(query.continuationToken) ?? 0) : 0;
  const items = keyed.slice(offset, offset + query.top).map((entry) => entry.view);
  const next = offset + items.length;
  return { items, ...(next < keyed.length ? { continuationToken: Buffer.from(String(next)).toString('base64url') } : {}) };
}
