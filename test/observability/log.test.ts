// Engine log lines: one JSON object per line with the bound run, export and chunk ids, at the
// context's level, and no secret in them even when one is handed over by mistake.
import { describe, expect, it } from 'vitest';
import { REDACTED, createLogger, rememberSecret, type LogSink } from '../../shared/observability/log.js';

function recordingSink() {
  const lines: { level: string; text: string }[] = [];
  const sink: LogSink = {
    log: (text) => lines.push({ level: 'info', text }),
    warn: (text) => lines.push({ level: 'warn', text }),
    error: (text) => lines.push({ level: 'error', text }),
  };
  return { sink, lines, parsed: () => lines.map((line) => JSON.parse(line.text) as Record<string, unknown>) };
}

describe('createLogger', () => {
  it('writes one JSON object per line with the bound ids on every line, at the right level', () => {
    const { sink, lines, parsed } = recordingSink();
    const log = createLogger(sink, { runId: '1780000000000-1a2b3c4d', exportId: 'export-1' });
    log.info('Planned: 10 members in 1 chunks', { members: 10 });
    log.with({ chunkId: 'c-0001' }).warn('The chunk is held by another sender');
    log.error('Chunk failed', { reason: 'list gone' });
    expect(lines.map((line) => line.level)).toEqual(['info', 'warn', 'error']);
    expect(parsed()).toEqual([
      { message: 'Planned: 10 members in 1 chunks', runId: '1780000000000-1a2b3c4d', exportId: 'export-1', members: 10 },
      { message: 'The chunk is held by another sender', runId: '1780000000000-1a2b3c4d', exportId: 'export-1', chunkId: 'c-0001' },
      { message: 'Chunk failed', runId: '1780000000000-1a2b3c4d', exportId: 'export-1', reason: 'list gone' },
    ]);
  });

  it('leaves out unset ids and writes errors as name and message', () => {
    const { sink, parsed } = recordingSink();
    createLogger(sink, { runId: undefined, exportId: 'export-2' }).warn('Schedule not fired', { error: new TypeError('table busy') });
    expect(parsed()).toEqual([
      { message: 'Schedule not fired', exportId: 'export-2', error: { name: 'TypeError', message: 'table busy' } },
    ]);
  });

  it('redacts values under secret-looking keys, at any depth', () => {
    const { sink, lines, parsed } = recordingSink();
    createLogger(sink, { runId: 'r' }).info('Connection read', {
      connection: { name: 'CM', secrets: { apiKey: 'cm-key-1234567890' }, settings: { region: 'eu' } },
      apiKey: 'another-key-0987654321',
      Authorization: 'Basic Zm9vOmJhcg==',
      password: 'hunter2-hunter2',
    });
    expect(parsed()[0]).toEqual({
      message: 'Connection read',
      runId: 'r',
      connection: { name: 'CM', secrets: REDACTED, settings: { region: 'eu' } },
      apiKey: REDACTED,
      Authorization: REDACTED,
      password: REDACTED,
    });
    for (const secret of ['cm-key-1234567890', 'another-key-0987654321', 'Zm9vOmJhcg==', 'hunter2-hunter2'])
      expect(lines[0]!.text).not.toContain(secret);
  });

  it('redacts a known secret value wherever it appears (a vendor error echoing the key)', () => {
    const secret = 'sk-live-5d41402abc4b2a76b9719d911017c592';
    rememberSecret(secret);
    const { sink, lines, parsed } = recordingSink();
    createLogger(sink, { runId: 'r' }).error(`Vendor said: invalid key ${secret}`, {
      reason: `401 for ${secret}`,
      attempts: [{ detail: secret }],
    });
    expect(lines[0]!.text).not.toContain(secret);
    expect(parsed()[0]).toEqual({
      message: `Vendor said: invalid key ${REDACTED}`,
      runId: 'r',
      reason: `401 for ${REDACTED}`,
      attempts: [{ detail: REDACTED }],
    });
  });

  it('redacts credentials in well-known shapes inside texts', () => {
    const { sink, lines } = recordingSink();
    createLogger(sink).warn('Request failed', {
      request: 'GET https://x.blob.core.windows.net/lake/a.csv?sv=2024&sig=abcDEF123%2Bxyz&se=2030',
      header: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl',
      storage: 'DefaultEndpointsProtocol=https;AccountName=a;AccountKey=bm90LWEtcmVhbC1rZXk=;EndpointSuffix=core.windows.net',
    });
    expect(lines[0]!.text).not.toMatch(/abcDEF123|eyJhbGci|bm90LWEtcmVhbC1rZXk/);
    expect(lines[0]!.text).toContain('sig=[redacted]');
  });

  it('never fails the work it describes', () => {
    const throwing: LogSink = {
      log: () => {
        throw new Error('sink down');
      },
      warn: () => {},
      error: () => {},
    };
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() => createLogger(throwing).info('x')).not.toThrow();
    const { sink, parsed } = recordingSink();
    expect(() => createLogger(sink).info('circular', { circular })).not.toThrow();
    expect(parsed()[0]!.message).toBe('circular');
  });
});
