// Generators and checks for fuzzing the HTTP API (fast-check), shared by the fuzz test in
// `npm test` (test/integration/apiFuzz.test.ts) and the reliability suite's larger run: bad
// requests for every route of the served OpenAPI document, built from a valid body per operation
// that the generators then break.
import fc from 'fast-check';
import type { ApiClient } from './apiClient.js';

export const ONE_MB = 1024 * 1024;

export interface Operation {
  method: string;
  path: string;
  operationId: string;
  queryNames: string[];
}

export interface FuzzRequest {
  operation: Operation;
  path: string;
  query: [string, string][];
  contentType: string | undefined;
  body: string | undefined;
}

/** Real ids, so that some requests get past "not found" to the deeper checks. */
export interface FuzzFixtures {
  connectionId: string;
  exportId: string;
  runId: string;
  refreshId: string;
  webhookId: string;
}

export interface FuzzAnswer {
  status: number;
  contentType: string;
  text: string;
}

/**
 * How often bodies are large: `often` (the test in `npm test`: what stores values has limits
 * below 1 MB), or `rare` (thousands of requests: ten thousand 1 MB bodies are 10 GB of traffic).
 */
export type LargeBodies = 'often' | 'rare';

/** Valid bodies per operation, which the fuzzer then breaks. */
export function templates(fixtures: FuzzFixtures): Record<string, Record<string, unknown>> {
  const exportBody = {
    name: 'Fuzz',
    connectionId: fixtures.connectionId,
    segments: ['Segment_VIP'],
    mapping: { email: 'Email' },
    details: { listId: 'fuzz' },
  };
  return {
    createConnection: {
      name: 'Fuzz',
      type: 'campaign-monitor',
      secrets: { apiKey: 'fuzz-key' },
      privacyConsent: true,
      limits: { maxMembersPerExport: 10 },
    },
    updateConnection: { name: 'Fuzz', settings: {}, secrets: { apiKey: 'fuzz-key' }, sharing: 'contributors' },
    createExport: exportBody,
    updateExport: {
      ...exportBody,
      schedule: {
        active: true,
        mode: 'custom',
        recurrence: { frequency: 'weekly', interval: 1, daysOfWeek: ['monday'], time: '06:00', timeZone: 'Europe/Oslo' },
      },
    },
    setExportSchedule: { active: true, mode: 'systemRefresh' },
    editSchedules: { exportIds: [fixtures.exportId], mode: 'keep', active: true },
    reportRefresh: { process: 'ingestion', status: 'running', entities: ['Contact'] },
    updateRefresh: { status: 'failed', reason: 'fuzz' },
    // Loopback: the stacks under test allow it (WEBHOOK_ALLOW_LOOPBACK); nothing listens on port 9.
    createWebhook: {
      name: 'Fuzz',
      url: 'http://127.0.0.1:9/fuzz',
      events: ['run.failed', 'volume.changed'],
      filters: { exportIds: [fixtures.exportId], connectionIds: [], destinationTypes: ['campaign-monitor'] },
      thresholds: { rejectedShare: 0.1, slowAfterMinutes: 30 },
      enabled: false,
    },
    updateWebhook: { url: 'http://127.0.0.1:9/fuzz', events: ['run.slow'], thresholds: { slowFactor: 3 }, enabled: false },
  };
}

export const weirdStrings = fc.oneof(
  fc.string({ maxLength: 40, unit: 'grapheme' }),
  fc.string({ maxLength: 40, unit: 'binary' }).filter((value) => (value as unknown as { isWellFormed(): boolean }).isWellFormed()),
  fc.constantFrom(
    '',
    ' ',
    '-1',
    '0',
    '1e309',
    '-1e309',
    'NaN',
    'Infinity',
    '9007199254740993',
    '123456789012345678901234567890',
    'true',
    'null',
    'undefined',
    "'; drop table --",
    "a'b",
    '\u0000',
    '\u202e',
    'ÆØÅæøå',
    '😀👍🏽',
    '\ufeff',
    'x'.repeat(5_000),
    '%',
    '%zz',
    '../..',
    'a#b',
    'a/b',
    'a?b',
    'a\\b',
    '{"a":1}',
    '[]',
    'https://169.254.169.254/',
  ),
);

const hugeNumbers = fc.constantFrom(1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, -(2 ** 63), 2 ** 64, 0.1 + 0.2, -0, 1e-320);

export const badValues: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 2, arbitrary: weirdStrings },
  { weight: 1, arbitrary: hugeNumbers },
  { weight: 1, arbitrary: fc.constantFrom(null, true, [], {}, [null], { __proto__: null }, 'y'.repeat(70_000)) },
);

function idValue(valid: string): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant(valid) },
    { weight: 3, arbitrary: weirdStrings.filter((value) => value !== '' && !/^(%2e|\.){1,2}$/i.test(value)) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '00000000-0000-0000-0000-000000000000',
        'ABCDEFGH-IJKL',
        'a'.repeat(64),
        'a'.repeat(65),
        'abc',
        'id with spaces',
        'a/b',
        'a?b',
        'a#b',
        'a\\b',
      ),
    },
  );
}

const contentTypes = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      undefined,
      'text/plain',
      'application/xml',
      'multipart/form-data; boundary=x',
      'application/x-www-form-urlencoded',
      'application/json; charset=utf-16',
      'application/merge-patch+json',
      'garbage;;;',
      'application/jsonx',
      '*/*',
    ),
  },
);

const notJson = fc.oneof(
  fc.constantFrom(
    '{',
    '{"name":',
    '[1,2',
    'nul',
    "{'name':'x'}",
    '{"name":"x",}',
    '{"name":"x"}}',
    '\u0000',
    '{"name":"\\ud800"}',
    '\ufeff{"name":"x"}',
    '{"a":1e999}',
    'NaN',
    '"just a string"',
    '{"name":"x"} trailing',
  ),
  fc.string({ maxLength: 60 }).filter((text) => {
    try {
      JSON.parse(text);
      return false;
    } catch {
      return true;
    }
  }),
);

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

function bodyFor(template: Record<string, unknown>, largeBodies: LargeBodies): fc.Arbitrary<string | undefined> {
  const keys = Object.keys(template);
  const mutated = fc
    .tuple(fc.constantFrom(...(keys.length ? keys : ['name'])), badValues)
    .map(([key, value]) => JSON.stringify({ ...template, [key]: value }));
  const unknownField = fc
    .tuple(fc.string({ minLength: 1, maxLength: 20 }), badValues)
    .map(([key, value]) => JSON.stringify({ ...template, [key === '__proto__' ? 'proto' : key]: value }));
  const nestedMutation = fc
    .tuple(
      fc.constantFrom('details', 'mapping', 'settings', 'secrets', 'limits', 'schedule', 'recurrence', 'filters', 'thresholds'),
      fc.dictionary(fc.string({ maxLength: 12 }), badValues, { maxKeys: 4 }),
    )
    .map(([key, value]) =>
      JSON.stringify(
        key === 'recurrence'
          ? { ...template, schedule: { active: true, mode: 'custom', recurrence: value } }
          : { ...template, [key]: value },
      ),
    );
  const depth = 20_000;
  const deep = fc.constantFrom(
    '['.repeat(depth) + ']'.repeat(depth),
    JSON.stringify({ ...template, details: JSON.parse('{"a":'.repeat(200) + '1' + '}'.repeat(200)) }),
    `{"details":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`,
  );
  const oversize = fc.constantFrom('name', 'details', 'secrets', 'padding').map((key) =>
    JSON.stringify({
      ...template,
      [key]:
        key === 'details' || key === 'secrets'
          ? { listId: 'z'.repeat(ONE_MB + 10), apiKey: 'z'.repeat(ONE_MB + 10) }
          : 'z'.repeat(ONE_MB + 10),
    }),
  );
  // Under the 1 MB limit but too big for what stores it (a table column, a Key Vault secret).
  const leaves = stringLeaves(template);
  const inflated = fc
    .tuple(fc.constantFrom(...(leaves.length ? leaves : [['name']])), fc.constantFrom(30_000, 70_000, 400_000, 1_000_000))
    .map(([path, length]) => JSON.stringify(withLeaf(template, path, 'w'.repeat(length))));
  const manyBig = fc
    .constantFrom('segments', 'entities', 'exportIds')
    .map((key) => JSON.stringify({ ...template, [key]: Array.from({ length: 40 }, (_, i) => `${i}`.padEnd(20_000, 'q')) }));
  const often = largeBodies === 'often' ? 1 : 0;
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 2, arbitrary: notJson },
    { weight: 2, arbitrary: badValues.map((value) => JSON.stringify(value)) },
    { weight: 4, arbitrary: mutated },
    { weight: 2, arbitrary: unknownField },
    { weight: 3, arbitrary: nestedMutation },
    { weight: 1, arbitrary: deep },
    { weight: often, arbitrary: oversize },
    { weight: 2 * often, arbitrary: inflated },
    { weight: often, arbitrary: manyBig },
    // Rare: one large body in ten of these, the others a little long.
    {
      weight: 1 - often,
      arbitrary: fc.oneof(
        { weight: 1, arbitrary: fc.oneof(oversize, inflated, manyBig) },
        { weight: 9, arbitrary: fc.integer({ min: 1, max: 9 }).map((n) => JSON.stringify({ ...template, name: 'z'.repeat(n * 20) })) },
      ),
    },
    { weight: keys.length ? 0 : 1, arbitrary: fc.constant('{}') },
  );
}

/** Bad requests for one operation: its path ids, query, content type and body. */
export function requestsFor(operation: Operation, fixtures: FuzzFixtures, largeBodies: LargeBodies): fc.Arbitrary<FuzzRequest> {
  const pathParams = [...operation.path.matchAll(/\{(\w+)\}/g)].map((match) => {
    const before = operation.path.slice(0, match.index);
    const valid =
      match[1] === 'runId'
        ? fixtures.runId
        : before === '/connections/'
          ? fixtures.connectionId
          : before === '/refreshes/'
            ? fixtures.refreshId
            : before === '/webhooks/'
              ? fixtures.webhookId
              : fixtures.exportId;
    return idValue(valid);
  });
  const queryEntry = fc.tuple(
    operation.queryNames.length
      ? fc.oneof(
          { weight: 3, arbitrary: fc.constantFrom(...operation.queryNames) },
          { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 10 }) },
        )
      : fc.string({ minLength: 1, maxLength: 10 }),
    weirdStrings,
  );
  const template = templates(fixtures)[operation.operationId] ?? {};
  return fc
    .record({
      params: fc.tuple(...pathParams),
      query: fc.array(queryEntry, { maxLength: 3 }),
      contentType: contentTypes,
      body: operation.method === 'GET' ? fc.constant(undefined) : bodyFor(template, largeBodies),
    })
    .map(({ params, query, contentType, body }) => {
      let index = 0;
      const path = operation.path.replace(/\{\w+\}/g, () => encodeURIComponent(params[index++] as string));
      return { operation, path, query, contentType, body };
    });
}

/** The fixtures the requests point at, and every operation of the served OpenAPI document. */
export async function prepareFuzzing(api: ApiClient): Promise<{ fixtures: FuzzFixtures; operations: Operation[] }> {
  const connectionId = (
    await api.post('/connections', {
      name: 'Fuzz fixture',
      type: 'campaign-monitor',
      secrets: { apiKey: 'fuzz-key' },
      sharing: 'contributors',
      privacyConsent: true,
    })
  ).body.id;
  const exportId = (
    await api.post('/exports', {
      name: 'Fuzz fixture',
      connectionId,
      segments: ['Segment_VIP'],
      mapping: { email: 'Email' },
      details: { listId: 'fuzz' },
    })
  ).body.id;
  const runId = (await api.post(`/exports/${exportId}/runs`)).body.runId;
  const refreshId = (await api.post('/refreshes', { process: 'measures', status: 'running' })).body?.id ?? '0000000000000-00000000';
  const webhookId =
    (await api.post('/webhooks', { name: 'Fuzz fixture', url: 'http://127.0.0.1:9/fuzz', events: ['run.failed'], enabled: false })).body
      ?.id ?? '00000000-0000-0000-0000-000000000000';
  const document = (await api.get('/openapi.json')).body;
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(document.paths as Record<string, Record<string, any>>)) {
    for (const [method, operation] of Object.entries(item)) {
      const queryNames = ((operation.parameters ?? []) as { in: string; name: string }[])
        .filter((parameter) => parameter.in === 'query')
        .map((parameter) => parameter.name);
      operations.push({ method: method.toUpperCase(), path, operationId: operation.operationId, queryNames });
    }
  }
  return { fixtures: { connectionId, exportId, runId, refreshId, webhookId }, operations };
}

/** Sends one request as the caller with `token` (none when undefined). */
export async function sendFuzzRequest(
  apiUrl: string,
  request: FuzzRequest,
  token: string | undefined,
  timeoutMs: number,
): Promise<FuzzAnswer> {
  const search = new URLSearchParams(request.query).toString();
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  if (request.contentType && request.body !== undefined) headers['content-type'] = request.contentType;
  // Conditional writes with a stale ETag: the fixtures survive, deeper checks still run first.
  if (request.operation.method === 'DELETE' || request.operation.path.endsWith('/disconnect')) headers['if-match'] = '"fuzz"';
  const response = await fetch(`${apiUrl}${request.path}${search ? `?${search}` : ''}`, {
    method: request.operation.method,
    headers,
    body: request.body,
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: response.status, contentType: response.headers.get('content-type') ?? '', text: await response.text() };
}

/** What is wrong with an answer (a 5xx, an error that is not problem details), or undefined. */
export function answerProblem(answer: FuzzAnswer): string | undefined {
  if (answer.status >= 500 || answer.status === 0) return `a ${answer.status || 'network error'}`;
  if (answer.status < 400) return undefined;
  if (!/^application\/problem\+json/.test(answer.contentType))
    return `a ${answer.status} as ${answer.contentType || 'no content type'}, not problem details`;
  let problem: Record<string, unknown>;
  try {
    problem = JSON.parse(answer.text) as Record<string, unknown>;
  } catch {
    return `a ${answer.status} whose body is not JSON`;
  }
  if (typeof problem.type !== 'string' || typeof problem.title !== 'string') return `a ${answer.status} without type and title`;
  if (problem.status !== answer.status) return `a ${answer.status} whose problem says status ${String(problem.status)}`;
  if (typeof problem.detail !== 'string' || problem.detail.length === 0) return `a ${answer.status} without a detail saying what to fix`;
  return undefined;
}

/** One line describing a request and its answer, for a failure message. */
export function describeExchange(request: FuzzRequest, answer: FuzzAnswer): string {
  return `${request.operation.method} ${request.path.slice(0, 160)} q=${JSON.stringify(request.query).slice(0, 160)} ct=${request.contentType} body=${(request.body ?? '').slice(0, 240)} → ${answer.status} ${answer.text.slice(0, 240)}`;
}
