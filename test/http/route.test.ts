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
