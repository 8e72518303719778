// Property-based fuzzing of the whole HTTP API over the real stack: at least 1,000 generated bad
// requests across every served route (malformed JSON, wrong types, unknown fields, bodies over
// 1 MB, bad ids, bad query values, wrong content types, huge numbers, deep nesting, odd unicode).
// No answer may be a 500, and every non-2xx answer must be problem details. Then one explicit
// case per bug the fuzzing found.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { startTestStack, type TestStack } from '../support/testStack.js';
import { expectProblem, problemPaths } from '../support/apiAssertions.js';

const RUNS = Number(process.env.OUTFLOW_FUZZ_RUNS ?? 1_200);
const SEED = Number(process.env.OUTFLOW_FUZZ_SEED ?? 20_261_123);
const TIME_BUDGET_MS = 60_000;
const ONE_MB = 1024 * 1024;

interface Operation {
  method: string;
  path: string;
  operationId: string;
  queryNames: string[];
  hasBody: boolean;
}

interface FuzzRequest {
  operation: Operation;
  path: string;
  query: [string, string][];
  contentType: string | undefined;
  body: string | undefined;
}

let stack: TestStack;
let token: string;
/** Several callers, so a per-caller request budget meets the fuzzing as little as a person would. */
let tokens: string[];
let sentCount = 0;
let operations: Operation[];
const fixtures = { connectionId: '', exportId: '', runId: '', refreshId: '' };

/** Valid bodies per operation, which the fuzzer then breaks. */
function templates(): Record<string, Record<string, unknown>> {
  const exportBody = { name: 'Fuzz', connectionId: fixtures.connectionId, segments: ['Segment_VIP'], mapping: { email: 'Email' }, details: { listId: 'fuzz' } };
  return {
    createConnection: { name: 'Fuzz', type: 'campaign-monitor', secrets: { apiKey: 'fuzz-key' }, privacyConsent: true, limits: { maxMembersPerExport: 10 } },
    updateConnection: { name: 'Fuzz', settings: {}, secrets: { apiKey: 'fuzz-key' }, sharing: 'contributors' },
    createExport: exportBody,
    updateExport: { ...exportBody, schedule: { active: true, mode: 'custom', recurrence: { frequency: 'weekly', interval: 1, daysOfWeek: ['monday'], time: '06:00', timeZone: 'Europe/Oslo' } } },
    setExportSchedule: { active: true, mode: 'systemRefresh' },
    editSchedules: { exportIds: [fixtures.exportId], mode: 'keep', active: true },
    reportRefresh: { process: 'ingestion', status: 'running', entities: ['Contact'] },
    updateRefresh: { status: 'failed', reason: 'fuzz' },
  };
}

// ---------------------------------------------------------------------------------------------
// Generators

const weirdStrings = fc.oneof(
  fc.string({ maxLength: 40, unit: 'grapheme' }),
  fc.string({ maxLength: 40, unit: 'binary' }).filter((value) => value.isWellFormed()),
  fc.constantFrom('', ' ', '-1', '0', '1e309', '-1e309', 'NaN', 'Infinity', '9007199254740993', '123456789012345678901234567890', 'true', 'null', 'undefined', "'; drop table --", "a'b", '\u0000', '\u202e', 'ÆØÅæøå', '😀👍🏽', '\ufeff', 'x'.repeat(5_000), '%', '%zz', '../..', 'a#b', 'a/b', 'a?b', 'a\\b', '{"a":1}', '[]'),
);

const hugeNumbers = fc.constantFrom(1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, -(2 ** 63), 2 ** 64, 0.1 + 0.2, -0, 1e-320);

const badValues: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 2, arbitrary: weirdStrings },
  { weight: 1, arbitrary: hugeNumbers },
  { weight: 1, arbitrary: fc.constantFrom(null, true, [], {}, [null], { __proto__: null }, 'y'.repeat(70_000)) },
);

const idValue = (valid: string) =>
  fc.oneof(
    { weight: 2, arbitrary: fc.constant(valid) },
    { weight: 3, arbitrary: weirdStrings.filter((value) => value !== '' && value !== '.' && value !== '..' && !/^(%2e|\.){1,2}$/i.test(value)) },
    { weight: 1, arbitrary: fc.constantFrom('00000000-0000-0000-0000-000000000000', 'ABCDEFGH-IJKL', 'a'.repeat(64), 'a'.repeat(65), 'abc', 'id with spaces', 'a/b', 'a?b', 'a#b', 'a\\b') },
  );

const contentTypes = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  { weight: 1, arbitrary: fc.constantFrom(undefined, 'text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16', 'application/merge-patch+json', 'garbage;;;', 'application/jsonx', '*/*') },
);

function bodyFor(operation: Operation, template: Record<string, unknown>): fc.Arbitrary<string | undefined> {
  const keys = Object.keys(template);
  const mutated = fc.tuple(fc.constantFrom(...(keys.length ? keys : ['name'])), badValues).map(([key, value]) => JSON.stringify({ ...template, [key]: value }));
  const unknownField = fc.tuple(fc.string({ minLength: 1, maxLength: 20 }), badValues).map(([key, value]) => JSON.stringify({ ...template, [key === '__proto__' ? 'proto' : key]: value }));
  const nestedMutation = fc.tuple(fc.constantFrom('details', 'mapping', 'settings', 'secrets', 'limits', 'schedule', 'recurrence'), fc.dictionary(fc.string({ maxLength: 12 }), badValues, { maxKeys: 4 })).map(([key, value]) =>
    JSON.stringify(key === 'recurrence' ? { ...template, schedule: { active: true, mode: 'custom', recurrence: value } } : { ...template, [key]: value }),
  );
  const malformed = fc.oneof(
    fc.constantFrom('{', '{"name":', '[1,2', 'nul', "{'name':'x'}", '{"name":"x",}', '{"name":"x"}}', '\u0000', '{"name":"\\ud800"}', '\ufeff{"name":"x"}', '{"a":1e999}', 'NaN', '"just a string"', '{"name":"x"} trailing'),
    fc.string({ maxLength: 60 }).filter((text) => {
      try {
        JSON.parse(text);
        return false;
      } catch {
        return true;
      }
    }),
  );
  const depth = 20_000;
  const deep = fc.constantFrom('['.repeat(depth) + ']'.repeat(depth), JSON.stringify({ ...template, details: JSON.parse('{"a":'.repeat(200) + '1' + '}'.repeat(200)) }), `{"details":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`);
  const oversize = fc.constantFrom('name', 'details', 'secrets', 'padding').map((key) => JSON.stringify({ ...template, [key]: key === 'details' || key === 'secrets' ? { listId: 'z'.repeat(ONE_MB + 10), apiKey: 'z'.repeat(ONE_MB + 10) } : 'z'.repeat(ONE_MB + 10) }));
  // Under the 1 MB limit but too big for what stores it (a table column, a Key Vault secret).
  const leaves = stringLeaves(template);
  const inflated = fc.tuple(fc.constantFrom(...(leaves.length ? leaves : [['name']])), fc.constantFrom(30_000, 70_000, 400_000, 1_000_000)).map(([path, length]) => JSON.stringify(withLeaf(template, path, 'w'.repeat(length))));
  const manyBig = fc.constantFrom('segments', 'entities', 'exportIds').map((key) => JSON.stringify({ ...template, [key]: Array.from({ length: 40 }, (_, i) => `${i}`.padEnd(20_000, 'q')) }));
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 2, arbitrary: malformed },
    { weight: 2, arbitrary: badValues.map((value) => JSON.stringify(value)) },
    { weight: 4, arbitrary: mutated },
    { weight: 2, arbitrary: unknownField },
    { weight: 3, arbitrary: nestedMutation },
    { weight: 1, arbitrary: deep },
    { weight: 1, arbitrary: oversize },
    { weight: 2, arbitrary: inflated },
    { weight: 1, arbitrary: manyBig },
    { weight: operation.operationId in templates() ? 0 : 1, arbitrary: fc.constant('{}') },
  );
}

/** Paths of the string values in a body, e.g. ['details', 'listId']. */
function stringLeaves(value: unknown, path: string[] = []): string[][] {
  if (typeof value === 'string') return [path];
  if (Array.isArray(value)) return value.flatMap((item, index) => stringLeaves(item, [...path, String(index)]));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([key, item]) => stringLeaves(item, [...path, key]));
  return [];
}

function withLeaf(value: unknown, path: string[], leaf: unknown): unknown {
  if (path.length === 0) return leaf;
  const [head, ...rest] = path as [string, ...string[]];
  if (Array.isArray(value)) return value.map((item, index) => (String(index) === head ? withLeaf(item, rest, leaf) : item));
  return { ...(value as Record<string, unknown>), [head]: withLeaf((value as Record<string, unknown>)[head], rest, leaf) };
}

function requestsFor(operation: Operation): fc.Arbitrary<FuzzRequest> {
  const pathParams = [...operation.path.matchAll(/\{(\w+)\}/g)].map((match) => {
    const before = operation.path.slice(0, match.index);
    const valid = match[1] === 'runId' ? fixtures.runId : before === '/connections/' ? fixtures.connectionId : before === '/refreshes/' ? fixtures.refreshId : fixtures.exportId;
    return idValue(valid);
  });
  const queryEntry = fc.tuple(
    operation.queryNames.length ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...operation.queryNames) }, { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 10 }) }) : fc.string({ minLength: 1, maxLength: 10 }),
    weirdStrings,
  );
  const template = templates()[operation.operationId] ?? {};
  return fc.record({
    params: fc.tuple(...pathParams),
    query: fc.array(queryEntry, { maxLength: 3 }),
    contentType: contentTypes,
    body: operation.method === 'GET' ? fc.constant(undefined) : bodyFor(operation, template),
  }).map(({ params, query, contentType, body }) => {
    let index = 0;
    const path = operation.path.replace(/\{\w+\}/g, () => encodeURIComponent(params[index++] as string));
    return { operation, path, query, contentType, body };
  });
}

// ---------------------------------------------------------------------------------------------

async function send(request: FuzzRequest): Promise<{ status: number; contentType: string; text: string }> {
  const search = new URLSearchParams(request.query).toString();
  const headers: Record<string, string> = { authorization: `Bearer ${tokens[sentCount++ % tokens.length]}` };
  if (request.contentType && request.body !== undefined) headers['content-type'] = request.contentType;
  // Conditional writes with a stale ETag: the fixtures survive, deeper checks still run first.
  if (['DELETE'].includes(request.operation.method) || request.operation.path.endsWith('/disconnect')) headers['if-match'] = '"fuzz"';
  const response = await fetch(`${stack.apiUrl}${request.path}${search ? `?${search}` : ''}`, { method: request.operation.method, headers, body: request.body, signal: AbortSignal.timeout(15_000) });
  return { status: response.status, contentType: response.headers.get('content-type') ?? '', text: await response.text() };
}

function checkAnswer(request: FuzzRequest, answer: { status: number; contentType: string; text: string }): void {
  const label = `${request.operation.method} ${request.path.slice(0, 200)} q=${JSON.stringify(request.query).slice(0, 200)} ct=${request.contentType} body=${(request.body ?? '').slice(0, 300)} → ${answer.status} ${answer.text.slice(0, 300)}`;
  expect(answer.status, label).toBeLessThan(500);
  if (answer.status >= 200 && answer.status < 300) return;
  expect(answer.contentType, label).toMatch(/^application\/problem\+json/);
  const problem = JSON.parse(answer.text) as Record<string, unknown>;
  expect(typeof problem.type, label).toBe('string');
  expect(typeof problem.title, label).toBe('string');
  expect(problem.status, label).toBe(answer.status);
  expect(typeof problem.detail, label).toBe('string');
  expect((problem.detail as string).length, label).toBeGreaterThan(0);
}

beforeAll(async () => {
  stack = await startTestStack({ seedProfiles: 200, simulatorOptions: { CAMPAIGN_MONITOR_API_URL: { rateLimit: false } } });
  token = await stack.tokenFor(['admin', 'system'] as never, 'fuzzer');
  tokens = await Promise.all(Array.from({ length: 8 }, (_, index) => stack.tokenFor(['admin', 'system'] as never, `fuzzer-${index}`)));
  const api = stack.api.as(token);
  fixtures.connectionId = (await api.post('/connections', { name: 'Fuzz fixture', type: 'campaign-monitor', secrets: { apiKey: 'fuzz-key' }, sharing: 'contributors', privacyConsent: true })).body.id;
  fixtures.exportId = (await api.post('/exports', { name: 'Fuzz fixture', connectionId: fixtures.connectionId, segments: ['Segment_VIP'], mapping: { email: 'Email' }, details: { listId: 'fuzz' } })).body.id;
  fixtures.runId = (await api.post(`/exports/${fixtures.exportId}/runs`)).body.runId;
  fixtures.refreshId = (await api.post('/refreshes', { process: 'measures', status: 'running' })).body?.id ?? '0000000000000-00000000';
  const document = (await api.get('/openapi.json')).body;
  operations = [];
  for (const [path, item] of Object.entries(document.paths as Record<string, Record<string, any>>)) {
    for (const [method, operation] of Object.entries(item)) {
      const queryNames = ((operation.parameters ?? []) as { in: string; name: string }[]).filter((parameter) => parameter.in === 'query').map((parameter) => parameter.name);
      operations.push({ method: method.toUpperCase(), path, operationId: operation.operationId, queryNames, hasBody: !!operation.requestBody });
    }
  }
});

afterAll(async () => {
  await stack?.stop();
});

describe('fuzzing every route with bad requests', () => {
  it(`answers ${RUNS} generated bad requests without a 500, every error as problem details, within ${TIME_BUDGET_MS / 1000} s`, { timeout: TIME_BUDGET_MS + 30_000 }, async () => {
    const started = Date.now();
    const perOperation = new Map<string, number>();
    const statuses = new Map<number, number>();
    const arbitrary = fc.constantFrom(...operations).chain(requestsFor);
    await fc.assert(
      fc.asyncProperty(arbitrary, async (request) => {
        const answer = await send(request);
        perOperation.set(request.operation.operationId, (perOperation.get(request.operation.operationId) ?? 0) + 1);
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        checkAnswer(request, answer);
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    const elapsed = Date.now() - started;
    const sent = [...perOperation.values()].reduce((sum, count) => sum + count, 0);
    if (process.env.OUTFLOW_TEST_VERBOSE) console.log({ elapsed, sent, statuses: Object.fromEntries(statuses), perOperation: Object.fromEntries(perOperation) });
    expect(sent).toBeGreaterThanOrEqual(1_000);
    expect(new Set(perOperation.keys())).toEqual(new Set(operations.map((operation) => operation.operationId)));
    expect(elapsed).toBeLessThan(TIME_BUDGET_MS);
  });
});

// One case per bug the fuzzing found; each was a 500 before its fix.
describe('bugs the fuzzing found', () => {
  const api = () => stack.api.as(token);

  it('a continuation token this API did not make is a 400 naming it (it failed inside the storage SDK)', async () => {
    for (const path of [`/exports/${fixtures.exportId}/runs`, `/exports/${fixtures.exportId}/runs/${fixtures.runId}/records`, '/refreshes']) {
      for (const value of ['😀👍🏽', 'NaN', "a'b", '9007199254740993']) {
        const response = await api().get(`${path}?continuationToken=${encodeURIComponent(value)}`);
        expectProblem(response, 400);
        expect(problemPaths(response), `${path} ${value}`).toEqual(['query.continuationToken']);
      }
    }
  });

  it('a connection id that cannot be a table key is a 400 naming it (storage answered 500 for "../..", "a#b", or 300 characters)', async () => {
    for (const value of ['../..', 'a#b', 'w'.repeat(300)]) {
      const segments = await api().get(`/segments?connectionId=${encodeURIComponent(value)}`);
      expectProblem(segments, 400);
      expect(problemPaths(segments)).toEqual(['query.connectionId']);
      const created = await api().post('/exports', { name: 'x', connectionId: value, segments: ['Segment_VIP'], mapping: { email: 'Email' }, details: { listId: 'l' } });
      expectProblem(created, 400);
      expect(problemPaths(created)).toEqual(['body.connectionId']);
      const updated = await api().patch(`/exports/${fixtures.exportId}`, { connectionId: value });
      expectProblem(updated, 400);
      expect(problemPaths(updated)).toEqual(['body.connectionId']);
    }
  });

  it('secrets longer than a Key Vault secret holds are a 400 naming them (Key Vault refused them)', async () => {
    const long = 'k'.repeat(30_000);
    const created = await api().post('/connections', { name: 'x', type: 'campaign-monitor', secrets: { apiKey: long }, privacyConsent: true });
    expectProblem(created, 400);
    expect(problemPaths(created)).toEqual(['body.secrets']);
    const updated = await api().patch(`/connections/${fixtures.connectionId}`, { secrets: { apiKey: long } });
    expectProblem(updated, 400);
    expect(problemPaths(updated)).toEqual(['body.secrets']);
    // Two fields each under the cap but together over it.
    const merged = await api().patch(`/connections/${fixtures.connectionId}`, { secrets: { apiKey: 'k'.repeat(15_000), other: 'o'.repeat(15_000) } });
    expect(merged.status).toBe(400);
  });

  it('values longer than a table column holds are a 400 naming the field (storage refused them)', async () => {
    const exportBody = { name: 'x', connectionId: fixtures.connectionId, segments: ['Segment_VIP'], mapping: { email: 'Email' }, details: { listId: 'l' } };
    for (const [patch, path] of [
      [{ details: { listId: 'l'.repeat(70_000) } }, 'body.details'],
      [{ entities: ['e'.repeat(40_000)] }, 'body.entities.0'],
      [{ segments: ['s'.repeat(40_000)] }, 'body.segments.0'],
      [{ mapping: { email: 'm'.repeat(40_000) } }, 'body.mapping.email'],
    ] as const) {
      const response = await api().post('/exports', { ...exportBody, ...patch });
      expectProblem(response, 400);
      expect(problemPaths(response), path).toEqual([path]);
    }
    const settings = await api().post('/connections', { name: 'x', type: 'campaign-monitor', settings: { clientId: 'c'.repeat(70_000) }, secrets: { apiKey: 'k' }, privacyConsent: true });
    expectProblem(settings, 400);
    expect(problemPaths(settings)).toEqual(['body.settings']);
  });

  it('JSON nested thousands of levels deep is a 400 (checking its size overflowed the stack)', async () => {
    const deep = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
    const body = `{"name":"x","connectionId":"${fixtures.connectionId}","segments":["Segment_VIP"],"mapping":{"email":"Email"},"details":${deep(20_000)}}`;
    const response = await api().request('POST', '/exports', { rawBody: body, headers: { 'content-type': 'application/json' } });
    expectProblem(response, 400);
    expect(response.body.detail).toContain('64 levels');
    const settings = await api().request('PATCH', `/connections/${fixtures.connectionId}`, { rawBody: `{"settings":${deep(5_000)}}`, headers: { 'content-type': 'application/json' } });
    expectProblem(settings, 400);
  });

  it('a row too large for Table Storage is a 413 from the store, whatever route wrote it', async () => {
    process.env.AzureWebJobsStorage = stack.azurite.connectionString;
    const { insertExport } = await import('../../shared/exports/exportStore.js');
    const { PayloadTooLarge } = await import('../../shared/errors.js');
    const now = new Date().toISOString();
    const oversize = insertExport({
      id: 'oversize-export-row',
      name: 'n'.repeat(40_000),
      connectionId: null,
      connectionType: 'campaign-monitor',
      kind: 'segment',
      segments: [],
      mapping: {},
      details: {},
      entities: [],
      schedule: { active: false, mode: 'systemRefresh' },
      createdAt: now,
      createdBy: { id: 'test', name: 'test' },
      updatedAt: now,
      lastRefreshed: null,
      lastRunStatus: null,
      activeRunId: null,
      etag: '',
    });
    await expect(oversize).rejects.toBeInstanceOf(PayloadTooLarge);
  });
});
