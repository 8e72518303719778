// Fuzzing at scale: at least 10,000 generated requests (fast-check, fixed seed; 2,000 in the
// short profile) over every route of the served OpenAPI document, 8 in flight, as several callers
// (so the per-caller rate limit is not what answers). No answer may be a 5xx, and every error
// answer must be problem details. Generators are compact cousins of test/integration/apiFuzz.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import pLimit from 'p-limit';
import { startTestStack, type TestStack } from '../support/testStack.js';
import { recordResult, SHORT } from './support/results.js';

const REQUESTS = Number(process.env.OUTFLOW_FUZZ_RUNS ?? (SHORT ? 2_000 : 10_000));
const SEED = Number(process.env.OUTFLOW_FUZZ_SEED ?? 20_261_124);
const IN_FLIGHT = 8;
const CALLERS = 16;
const ONE_MB = 1024 * 1024;

interface Operation {
  method: string;
  path: string;
  operationId: string;
  queryNames: string[];
}

interface FuzzRequest {
  operation: Operation;
  path: string;
  query: [string, string][];
  contentType: string | undefined;
  body: string | undefined;
  /** Index of the caller's token; -1 sends none. */
  caller: number;
}

let stack: TestStack;
let tokens: string[];
let operations: Operation[];
const fixtures = { connectionId: '', exportId: '', runId: '', refreshId: '' };

function templates(): Record<string, Record<string, unknown>> {
  const exportBody = { name: 'Fuzz', connectionId: fixtures.connectionId, segments: ['Segment_VIP'], mapping: { email: 'Email' }, details: { listId: 'fuzz' } };
  return {
    createConnection: { name: 'Fuzz', type: 'campaign-monitor', secrets: { apiKey: 'fuzz-key' }, privacyConsent: true, limits: { maxMembersPerExport: 10 } },
    updateConnection: { name: 'Fuzz', settings: {}, sharing: 'contributors' },
    createExport: exportBody,
    updateExport: { ...exportBody, schedule: { active: true, mode: 'custom', recurrence: { frequency: 'weekly', interval: 1, daysOfWeek: ['monday'], time: '06:00', timeZone: 'Europe/Oslo' } } },
    setExportSchedule: { active: true, mode: 'systemRefresh' },
    editSchedules: { exportIds: [fixtures.exportId], mode: 'keep', active: true },
    reportRefresh: { process: 'ingestion', status: 'running', entities: ['Contact'] },
    updateRefresh: { status: 'failed', reason: 'fuzz' },
  };
}

const weird = fc.oneof(
  fc.string({ maxLength: 30, unit: 'grapheme' }),
  fc.string({ maxLength: 30, unit: 'binary' }).filter((value) => (value as unknown as { isWellFormed(): boolean }).isWellFormed()),
  fc.constantFrom('', ' ', '-1', '0', '1e309', 'NaN', '9007199254740993', 'true', 'null', "'; drop table --", '\u0000', '\u202e', 'ÆØÅ', '😀👍🏽', '\ufeff', 'x'.repeat(5_000), '%', '%zz', '../..', 'a#b', 'a/b', 'a?b', '{"a":1}', '[]', 'https://169.254.169.254/'),
);
const badValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 2, arbitrary: weird },
  { weight: 1, arbitrary: fc.constantFrom(1e308, -(2 ** 63), 2 ** 64, -0, 1e-320, null, true, [], {}, 'y'.repeat(70_000)) },
);

function bodyFor(operation: Operation): fc.Arbitrary<string | undefined> {
  const template = templates()[operation.operationId] ?? {};
  const keys = Object.keys(template).length ? Object.keys(template) : ['name'];
  const deep = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...keys), badValue).map(([key, value]) => JSON.stringify({ ...template, [key]: value })) },
    { weight: 2, arbitrary: fc.tuple(fc.string({ minLength: 1, maxLength: 16 }), badValue).map(([key, value]) => JSON.stringify({ ...template, [key === '__proto__' ? 'proto' : key]: value })) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom('details', 'mapping', 'settings', 'secrets', 'limits', 'schedule'), fc.dictionary(fc.string({ maxLength: 10 }), badValue, { maxKeys: 4 })).map(([key, value]) => JSON.stringify({ ...template, [key]: value })) },
    { weight: 2, arbitrary: fc.constantFrom('{', '{"name":', '[1,2', 'nul', "{'a':1}", '{"a":1,}', '\u0000', '{"a":"\\ud800"}', '\ufeff{"a":1}', '{"a":1e999}', '"text"', '{"a":1} trailing') },
    { weight: 2, arbitrary: badValue.map((value) => JSON.stringify(value)) },
    { weight: 1, arbitrary: fc.constantFrom(deep(70), deep(5_000), '['.repeat(20_000) + ']'.repeat(20_000)) },
    // Rare: over 1 MB (10,000 of these would be 10 GB of traffic).
    { weight: 1, arbitrary: fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7, 8, 9).map((n) => (n === 0 ? JSON.stringify({ ...template, name: 'z'.repeat(ONE_MB + 10) }) : JSON.stringify({ ...template, name: 'z'.repeat(n * 20) }))) },
    { weight: Object.keys(template).length ? 0 : 1, arbitrary: fc.constant('{}') },
  );
}

function requestsFor(operation: Operation): fc.Arbitrary<FuzzRequest> {
  const params = [...operation.path.matchAll(/\{(\w+)\}/g)].map((match) => {
    const before = operation.path.slice(0, match.index);
    const valid = match[1] === 'runId' ? fixtures.runId : before === '/connections/' ? fixtures.connectionId : before === '/refreshes/' ? fixtures.refreshId : fixtures.exportId;
    return fc.oneof(
      { weight: 2, arbitrary: fc.constant(valid) },
      { weight: 3, arbitrary: weird.filter((value) => value !== '' && !/^(%2e|\.){1,2}$/i.test(value)) },
      { weight: 1, arbitrary: fc.constantFrom('00000000-0000-0000-0000-000000000000', 'a'.repeat(65), 'abc', 'id with spaces') },
    );
  });
  const queryName = operation.queryNames.length ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...operation.queryNames) }, { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 10 }) }) : fc.string({ minLength: 1, maxLength: 10 });
  return fc
    .record({
      params: fc.tuple(...params),
      query: fc.array(fc.tuple(queryName, weird), { maxLength: 3 }),
      contentType: fc.oneof({ weight: 6, arbitrary: fc.constant('application/json') }, { weight: 1, arbitrary: fc.constantFrom(undefined, 'text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/merge-patch+json', 'garbage;;;', '*/*') }),
      body: operation.method === 'GET' ? fc.constant(undefined) : bodyFor(operation),
      // Mostly a full-rights caller (so validation runs), sometimes none.
      caller: fc.oneof({ weight: 15, arbitrary: fc.nat(CALLERS - 1) }, { weight: 1, arbitrary: fc.constant(-1) }),
    })
    .map(({ params, query, contentType, body, caller }) => {
      let index = 0;
      const path = operation.path.replace(/\{\w+\}/g, () => encodeURIComponent(params[index++] as string));
      return { operation, path, query, contentType, body, caller };
    });
}

async function send(request: FuzzRequest): Promise<{ status: number; contentType: string; text: string }> {
  const search = new URLSearchParams(request.query).toString();
  const headers: Record<string, string> = request.caller >= 0 ? { authorization: `Bearer ${tokens[request.caller]}` } : {};
  if (request.contentType && request.body !== undefined) headers['content-type'] = request.contentType;
  // Stale ETags on destructive calls keep the fixtures alive while the deeper checks still run.
  if (request.operation.method === 'DELETE' || request.operation.path.endsWith('/disconnect')) headers['if-match'] = '"fuzz"';
  try {
    const response = await fetch(`${stack.apiUrl}${request.path}${search ? `?${search}` : ''}`, { method: request.operation.method, headers, body: request.body, signal: AbortSignal.timeout(30_000) });
    return { status: response.status, contentType: response.headers.get('content-type') ?? '', text: await response.text() };
  } catch (error) {
    return { status: 0, contentType: '', text: String(error) };
  }
}

function problemOk(answer: { status: number; contentType: string; text: string }): boolean {
  if (!/^application\/problem\+json/.test(answer.contentType)) return false;
  try {
    const problem = JSON.parse(answer.text) as Record<string, unknown>;
    return typeof problem.type === 'string' && typeof problem.title === 'string' && problem.status === answer.status && typeof problem.detail === 'string' && (problem.detail as string).length > 0;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  stack = await startTestStack({ seedProfiles: 200, simulatorOptions: { CAMPAIGN_MONITOR_API_URL: { rateLimit: false } } });
  tokens = await Promise.all(Array.from({ length: CALLERS }, (_, index) => stack.tokenFor(['admin', 'system'] as never, `fuzzer-${index}`)));
  const api = stack.api.as(tokens[0]);
  fixtures.connectionId = (await api.post('/connections', { name: 'Fuzz fixture', type: 'campaign-monitor', secrets: { apiKey: 'fuzz-key' }, sharing: 'contributors', privacyConsent: true })).body.id;
  fixtures.exportId = (await api.post('/exports', { name: 'Fuzz fixture', connectionId: fixtures.connectionId, segments: ['Segment_VIP'], mapping: { email: 'Email' }, details: { listId: 'fuzz' } })).body.id;
  fixtures.runId = (await api.post(`/exports/${fixtures.exportId}/runs`)).body.runId;
  fixtures.refreshId = (await api.post('/refreshes', { process: 'measures', status: 'running' })).body?.id ?? '0000000000000-00000000';
  const document = (await api.get('/openapi.json')).body;
  operations = [];
  for (const [path, item] of Object.entries(document.paths as Record<string, Record<string, any>>)) {
    for (const [method, operation] of Object.entries(item)) {
      const queryNames = ((operation.parameters ?? []) as { in: string; name: string }[]).filter((parameter) => parameter.in === 'query').map((parameter) => parameter.name);
      operations.push({ method: method.toUpperCase(), path, operationId: operation.operationId, queryNames });
    }
  }
}, 300_000);

afterAll(async () => {
  await stack?.stop();
});

describe(`fuzzing every route with ${REQUESTS.toLocaleString('en-US')} generated requests`, () => {
  it('answers without a 5xx, every error as problem details', { timeout: 1_800_000 }, async () => {
    const started = Date.now();
    // Every route equally often, each with its own generated requests.
    const arbitrary = fc.constantFrom(...operations).chain(requestsFor);
    const requests = fc.sample(arbitrary, { numRuns: REQUESTS, seed: SEED });
    const statuses: Record<string, number> = {};
    const perOperation = new Map<string, number>();
    const failures: string[] = [];
    let serverErrors = 0;
    let notProblemJson = 0;
    const limit = pLimit(IN_FLIGHT);
    await Promise.all(
      requests.map((request) =>
        limit(async () => {
          const answer = await send(request);
          statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
          perOperation.set(request.operation.operationId, (perOperation.get(request.operation.operationId) ?? 0) + 1);
          const label = `${request.operation.method} ${request.path.slice(0, 120)} q=${JSON.stringify(request.query).slice(0, 120)} ct=${request.contentType} body=${(request.body ?? '').slice(0, 160)} → ${answer.status} ${answer.text.slice(0, 200)}`;
          if (answer.status >= 500 || answer.status === 0) {
            serverErrors++;
            if (failures.length < 20) failures.push(label);
          } else if (answer.status >= 400 && !problemOk(answer)) {
            notProblemJson++;
            if (failures.length < 20) failures.push(`not problem details: ${label}`);
          }
        }),
      ),
    );
    const seconds = Math.round((Date.now() - started) / 100) / 10;
    recordResult('fuzz', 'all-routes', {
      passed: serverErrors === 0 && notProblemJson === 0,
      requests: requests.length,
      routes: perOperation.size,
      seed: SEED,
      seconds,
      serverErrors,
      notProblemJson,
      statuses,
      perOperation: Object.fromEntries(perOperation),
      failures,
    });
    expect(failures).toEqual([]);
    expect(requests.length).toBeGreaterThanOrEqual(SHORT ? 2_000 : 10_000);
    expect(new Set(perOperation.keys())).toEqual(new Set(operations.map((operation) => operation.operationId)));
  });
});
