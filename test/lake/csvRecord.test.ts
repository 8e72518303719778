// splitCsvRecord against csv-parse, the reference: the same fields for any record csv-stringify
// writes (quotes, doubled quotes, delimiters and line breaks inside quotes, empty fields), and an
// error wherever csv-parse (without its relax options) refuses the quoting.
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CsvRecordError, splitCsvRecord } from '../../shared/lake/csvRecord.js';

/** csv-parse's reading of one record, or 'error'. */
function reference(text: string, delimiter: string): string[] | 'error' {
  try {
    const rows = parse(text, { delimiter, record_delimiter: ['\r\n', '\n'], relax_column_count: true }) as string[][];
    return rows.length === 1 ? rows[0]! : 'error';
  } catch {
    return 'error';
  }
}

function split(text: string, delimiter: string): string[] | 'error' {
  try {
    return splitCsvRecord(text, delimiter);
  } catch (error) {
    if (error instanceof CsvRecordError) return 'error';
    throw error;
  }
}

/** Whether a line break stands outside quotes (even quote parity), as the lake reader's scan counts them. */
function endsARecord(text: string): boolean {
  let inQuotes = false;
  for (const char of text) {
    if (char === '"') inQuotes = !inQuotes;
    else if (char === '\n' && !inQuotes) return true;
  }
  return false;
}

describe('splitCsvRecord', () => {
  it('reads hand-written records as csv-parse does', () => {
    const cases: [string, string[]][] = [
      ['a,"b,c",d', ['a', 'b,c', 'd']],
      ['"Søren ""Sønne"" Ødegård","line one\nline two",', ['Søren "Sønne" Ødegård', 'line one\nline two', '']],
      ['"a\r\nb,""c""",x', ['a\r\nb,"c"', 'x']],
      ['"""",",","\n"', ['"', ',', '\n']],
      ['5,van der Berg,"",last', ['5', 'van der Berg', '', 'last']],
      ['1;"Berg; Olsen";""', ['1', 'Berg; Olsen', '']],
    ];
    for (const [text, fields] of cases) {
      const delimiter = text.includes(';') ? ';' : ',';
      expect(splitCsvRecord(text, delimiter)).toEqual(fields);
      expect(reference(text, delimiter)).toEqual(fields);
    }
  });

  it('refuses the quoting csv-parse refuses', () => {
    for (const text of ['a"b,c', 'a,"b"c', '"a', 'a, "b"', '"a" ,b', 'a,"b""']) {
      expect(reference(text, ','), text).toBe('error');
      expect(() => splitCsvRecord(text, ','), text).toThrow(CsvRecordError);
    }
  });

  it('matches csv-parse for any record (property)', () => {
    const field = fc.oneof(
      fc.string({ unit: fc.constantFrom('a', 'ø', ',', ';', '"', '\n', '\r\n', ' ', 'Å', '1'), maxLength: 10 }),
      fc.string({ maxLength: 8 }),
    );
    fc.assert(
      fc.property(
        fc.array(field, { minLength: 1, maxLength: 8 }),
        fc.constantFrom(',', ';'),
        fc.boolean(),
        (fields, delimiter, quoteAll) => {
          const text = stringify([fields], { delimiter, record_delimiter: '\n', quoted: quoteAll }).replace(/\n$/, '');
          // An empty record is an empty line, which the lake reader skips before splitting.
          fc.pre(text !== '');
          expect(split(text, delimiter)).toEqual(reference(text, delimiter));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('matches csv-parse, errors included, for any text with quotes (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', ',', '"', ' ', '\n', 'ø'), minLength: 1, maxLength: 16 }), (text) => {
        // A line break outside quotes ends a record before the splitter sees it.
        fc.pre(!endsARecord(text));
        const expected = reference(text, ',');
        if (expected === 'error') expect(split(text, ',')).toBe('error');
        else expect(split(text, ',')).toEqual(expected);
      }),
      { numRuns: 800 },
    );
  });
});
