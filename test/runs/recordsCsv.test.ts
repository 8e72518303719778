import { describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import { neutralizeFormula, recordsAsCsv } from '../../shared/runs/recordsCsv.js';

describe('records as CSV', () => {
  it.each(['=HYPERLINK("x")', '+1', '-2', '@SUM(A1)'])('neutralises the formula %j', (value) => {
    expect(neutralizeFormula(value)).toBe(`'${value}`);
  });
  it('quotes per RFC 4180 and keeps plain values', () => {
    const csv = recordsAsCsv([
      { email: 'a@b.no', status: 'failed', category: 'invalidRecord', code: '1', message: 'Bad "quote", comma', segmentId: 'S' },
    ]);
    const rows = parse(csv) as string[][];
    expect(rows[0]).toEqual(['email', 'key', 'status', 'category', 'code', 'message', 'segmentId', 'operation', 'partition', 'position']);
    expect(rows[1]).toEqual(['a@b.no', '', 'failed', 'invalidRecord', '1', 'Bad "quote", comma', 'S', '', '', '']);
  });
  it('names the profile key and the source row, so a record without an email can be found', () => {
    const csv = recordsAsCsv([
      {
        email: '',
        key: 'c-42',
        status: 'skipped',
        category: 'invalidRecord',
        code: 'invalidEmail',
        message: 'The email address is empty.',
        segmentId: 'S',
        operation: 'send',
        partition: 'gen/Profile/part-0001.csv',
        position: 0,
      },
    ]);
    const rows = parse(csv) as string[][];
    expect(rows[1]).toEqual([
      '',
      'c-42',
      'skipped',
      'invalidRecord',
      'invalidEmail',
      'The email address is empty.',
      'S',
      'send',
      'gen/Profile/part-0001.csv',
      '0',
    ]);
  });
});
