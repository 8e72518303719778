// One RFC 4180 record (https://www.rfc-editor.org/rfc/rfc4180#section-2) split into its fields:
// a field is plain text without quotes, or wholly enclosed in double quotes, where a doubled
// quote stands for one and delimiters and line breaks are text. The lake reader finds record
// boundaries itself and sends only records holding a quote here; this replaces batching them
// through csv-parse, whose per-byte state machine cost more than the rest of a read
// (test/lake/csvRecord.test.ts keeps csv-parse as the reference).

/** A record that breaks RFC 4180's quoting; the message says where. */
export class CsvRecordError extends Error {
  override name = 'CsvRecordError';
}

const QUOTE = 0x22;

/**
 * The fields of one record (its line ending removed). Quoting errors are those csv-parse reports
 * without its relax options: a quote inside an unquoted field, text after a closing quote, a quote
 * never closed.
 */
export function splitCsvRecord(text: string, delimiter: string): string[] {
  const values: string[] = [];
  const step = delimiter.length;
  let at = 0;
  let nextQuote = text.indexOf('"');
  for (;;) {
    if (text.charCodeAt(at) === QUOTE) {
      let value = '';
      let from = at + 1;
      for (;;) {
        const quote = text.indexOf('"', from);
        if (quote < 0) throw new CsvRecordError(`a quote opened at character ${at} is never closed`);
        if (text.charCodeAt(quote + 1) === QUOTE) {
          value += text.slice(from, quote + 1);
          from = quote + 2;
          continue;
        }
        value += text.slice(from, quote);
        at = quote + 1;
        break;
      }
      values.push(value);
      if (at === text.length) return values;
      if (!text.startsWith(delimiter, at)) throw new CsvRecordError(`text follows the closing quote at character ${at - 1}`);
      at += step;
      nextQuote = text.indexOf('"', at);
      continue;
    }
    const next = text.indexOf(delimiter, at);
    const stop = next < 0 ? text.length : next;
    if (nextQuote >= 0 && nextQuote < stop) throw new CsvRecordError(`a quote inside an unquoted field at character ${nextQuote}`);
    values.push(text.slice(at, stop));
    if (next < 0) return values;
    at = next + step;
    if (nextQuote >= 0 && nextQuote < at) nextQuote = text.indexOf('"', at);
  }
}
