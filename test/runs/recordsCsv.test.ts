import { describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import { neutralizeFormula, recordsAsCsv } from '../../shared/runs/recordsCsv.js';

describe('records as CSV', () => {
  it.each(['=HYPERLINK("x")', '+1', '-2', '@SUM(A1)'])('neutralises the formula %j', (value) => {
    expect(neutralizeFormula(value)).toBe(`'${value}`);
  });
  it('quotes per RFC 4180 and keeps plain values', () => {
    const csv = recordsAsCsv([{ email: 'a@b.no', status: 'failed', category: 'invalidRecord', code: '1', message: 'Bad "quote", comma', segmentId: 'S' }]);
    const rows = parse(csv) as string[][];
    expect(rows[0]).toEqual(['email', 'status', 'category', 'code', 'message', 'segmentId']);
    expect(rows[1]).toEqual(['a@b.no', 'failed', 'invalidRecord', '1', 'Bad "quote", comma', 'S']);
  });
});
