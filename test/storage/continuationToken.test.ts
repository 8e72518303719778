// Table Storage continuation tokens from callers are checked before the SDK decodes them.
import { describe, expect, it } from 'vitest';
import { TableClient } from '@azure/data-tables';
import { isTableContinuationToken, tableContinuationToken } from '../../shared/storage/continuationToken.js';
import { isUnreadableContinuationToken, toProblem } from '../../shared/http/problem.js';

const sdkToken = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64');

describe('table continuation tokens', () => {
  it('accepts what the SDK makes', () => {
    expect(isTableContinuationToken(sdkToken({ nextPartitionKey: '1!8!ZXhwb3J0', nextRowKey: '1!48!YWJj' }))).toBe(true);
    expect(isTableContinuationToken(sdkToken({ nextPartitionKey: 'run-1' }))).toBe(true);
  });

  it('refuses anything else', () => {
    for (const token of [
      '😀👍🏽',
      'NaN',
      '-1',
      "a'b",
      'a?b',
      '9007199254740993',
      '[]',
      '\ufeff',
      '',
      'e30=',
      sdkToken([]),
      sdkToken({ nextPartitionKey: 1 }),
      sdkToken({ nextPartitionKey: 'a/b' }),
      sdkToken({ nextPartitionKey: 'p', nextRowKey: 'r\u0000' }),
      sdkToken({ nextPartitionKey: 'p', extra: 1 }),
      `${sdkToken({ nextPartitionKey: 'p' })}!`,
    ]) {
      expect(isTableContinuationToken(token), JSON.stringify(token)).toBe(false);
    }
  });

  it('takes a + that arrived as a space', () => {
    const token = Array.from({ length: 20 }, (_, i) => sdkToken({ nextPartitionKey: `p${'>'.repeat(i)}` })).find((candidate) =>
      candidate.includes('+'),
    )!;
    expect(token).toContain('+');
    expect(tableContinuationToken.parse(token.replace(/\+/g, ' '))).toBe(token);
  });
});

describe('a token the SDK cannot read', () => {
  it("is the caller's 400 naming query.continuationToken, not a 500", async () => {
    const client = new TableClient('http://127.0.0.1:9/devstoreaccount1', 'anything', { allowInsecureConnection: true });
    const error = await client
      .listEntities()
      .byPage({ continuationToken: '😀👍🏽' })
      .next()
      .then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
    expect(isUnreadableContinuationToken(error)).toBe(true);
    const response = toProblem(error);
    expect(response.status).toBe(400);
    expect(JSON.parse(response.body as string).errors).toEqual([{ path: 'query.continuationToken', message: expect.any(String) }]);
    expect(isUnreadableContinuationToken(new SyntaxError('Unexpected token in JSON'))).toBe(false);
  });
});
