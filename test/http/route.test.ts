// Pieces of the route wrapper that need no host: how deep a JSON body nests.
import { describe, expect, it } from 'vitest';
import { jsonDepth, MAX_JSON_DEPTH } from '../../shared/http/route.js';

describe('jsonDepth', () => {
  it('counts the nesting of objects and arrays, not brackets inside strings', () => {
    expect(jsonDepth('1')).toBe(0);
    expect(jsonDepth('{"a":[1,{"b":[]}]}')).toBe(4);
    expect(jsonDepth('{"a":"[[[[{{{{"}')).toBe(1);
    expect(jsonDepth('["\\"[[[", "\\\\", [[]]]')).toBe(3);
    expect(jsonDepth('['.repeat(100_000))).toBe(100_000);
  });

  it('allows the nesting real requests have', () => {
    const exportBody = { schedule: { mode: 'custom', recurrence: { daysOfWeek: ['monday'] } }, details: { customFieldKeys: { a: 'b' } } };
    expect(jsonDepth(JSON.stringify(exportBody))).toBeLessThan(MAX_JSON_DEPTH);
  });
});

describe('unhandled errors', () => {
  it('are logged through the redacting logger, with an id the caller can quote, and never echoed', async () => {
    const { toProblem } = await import('../../shared/http/problem.js');
    const lines: string[] = [];
    const context = {
      log: (text: string) => lines.push(text),
      warn: (text: string) => lines.push(text),
      error: (text: string) => lines.push(text),
    };
    const error = new Error(
      'storage said: DefaultEndpointsProtocol=https;AccountName=a;AccountKey=c2VjcmV0a2V5;EndpointSuffix=core.windows.net',
    );
    const response = toProblem(error, context as never);
    expect(response.status).toBe(500);
    expect(String(response.body)).not.toContain('AccountKey');
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as { message: string; errorId: string; error: string };
    expect(line).toMatchObject({ message: 'Unhandled error', errorId: JSON.parse(String(response.body)).errorId });
    expect(line.error).toContain('AccountKey=[redacted]');
    expect(line.error).toContain('route.test.ts');
    expect(lines[0]).not.toContain('c2VjcmV0a2V5');
  });
});

describe('answers for requests no route takes', () => {
  it('name the methods a path takes (405), or the missing path (404)', async () => {
    const { allowedMethods } = await import('../../shared/http/unmatchedRoute.js');
    const routes = [
      { route: 'exports/{id}', method: 'GET' },
      { route: 'exports/{id}', method: 'PATCH' },
      { route: 'exports/run-all', method: 'POST' },
    ] as never[];
    expect(allowedMethods('exports/abc', routes)).toEqual(['GET', 'HEAD', 'PATCH']);
    expect(allowedMethods('EXPORTS/run-all/', routes)).toEqual(['GET', 'HEAD', 'PATCH', 'POST']);
    expect(allowedMethods('exports', routes)).toEqual([]);
    expect(allowedMethods('exports/abc/runs', routes)).toEqual([]);
  });
});
