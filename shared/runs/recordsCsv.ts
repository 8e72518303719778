import { stringify } from 'csv-stringify/sync';

/** Cells a spreadsheet would run as a formula get a leading apostrophe (CSV injection). */
export function neutralizeFormula(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

export function recordsAsCsv(
  records: {
    email: string;
    key?: string;
    status: string;
    category: string;
    code: string;
    message: string;
    segmentId: string;
    operation?: string;
    partition?: string;
    position?: number | null;
  }[],
): string {
  const columns = ['email', 'key', 'status', 'category', 'code', 'message', 'segmentId', 'operation', 'partition', 'position'] as const;
  return stringify([
    columns as unknown as string[],
    ...records.map((record) => columns.map((column) => neutralizeFormula(String(record[column] ?? '')))),
  ]);
}
