import { stringify } from 'csv-stringify/sync';

/** Cells a spreadsheet would run as a formula get a leading apostrophe (CSV injection). */
export function neutralizeFormula(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

export function recordsAsCsv(records: { email: string; status: string; category: string; code: string; message: string; segmentId: string }[]): string {
  const columns = ['email', 'status', 'category', 'code', 'message', 'segmentId'] as const;
  return stringify([columns as unknown as string[], ...records.map((record) => columns.map((column) => neutralizeFormula(record[column] ?? '')))]);
}
