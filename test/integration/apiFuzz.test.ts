// Property-based fuzzing of the whole HTTP API over the real stack: at least 1,000 generated bad
// requests across every served route (malformed JSON, wrong types, unknown fields, bodies over
// 1 MB, bad ids, bad query values, wrong content types, huge numbers, deep nesting, odd unicode).
// No answer may be a 500, and every non-2xx answer must be problem details. Then one explicit
// case per bug the fuzzing found. Generators: test/support/apiFuzzing.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { startTestStack, type TestStack } from '../support/testStack.js';
import { expectProblem, problemPaths } from '../support/apiAssertions.js';
import {
  answerProblem,
  describeExchange,
  prepareFuzzing,
  requestsFor,
  sendFuzzRequest,
  type FuzzFixtures,
  type Operation,
} from '../support/apiFuzzing.js';

const RUNS = Number(process.env.OUTFLOW_FUZZ_RUNS ?? 1_200);
const SEED = Number(process.env.OUTFLOW_FUZZ_SEED ?? 20_261_123);

let stack: TestStack;
let token: string;
/** Several callers, so a per-caller request budget meets the fuzzing as little as a person would. */
let tokens: string[];
let sentCount = 0;
let operations: Operation[];
let fixtures: FuzzFixtures;

beforeAll(async () => {
  stack = await startTestStack({ seedProfiles: 200, simulatorOptions: { CAMPAIGN_MONITOR_API_URL: { rateLimit: false } } });
  token = await stack.tokenFor(['admin', 'system'] as never, 'fuzzer');
  tokens = await Promise.all(Array.from({ length: 8 }, (_, index) => stack.tokenFor(['admin', 'system'] as never, `fuzzer-${index}`)));
  ({ fixtures, operations } = await prepareFuzzing(stack.api.as(token)));
});

afterAll(async () => {
  await stack?.stop();
});

describe('fuzzing every route with bad requests', () => {
  // How fast is measured by the reliability suite's fuzz run (RELIABILITY.md), not asserted here.
  it(`answers ${RUNS} generated bad requests without a 500, every error as problem details`, { timeout: 120_000 }, async () => {
    const started = Date.now();
    const perOperation = new Map<string, number>();
    const statuses = new Map<number, number>();
    const arbitrary = fc.constantFrom(...operations).chain((operation) => requestsFor(operation, fixtures, 'often'));
    await fc.assert(
      fc.asyncProperty(arbitrary, async (request) => {
        const answer = await sendFuzzRequest(stack.apiUrl, request, tokens[sentCount++ % tokens.length], 15_000);
        perOperation.set(request.operation.operationId, (perOperation.get(request.operation.operationId) ?? 0) + 1);
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        expect(answerProblem(answer), describeExchange(request, answer)).toBeUndefined();
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    const elapsed = Date.now() - started;
    const sent = [...perOperation.values()].reduce((sum, count) => sum + count, 0);
    if (process.env.OUTFLOW_TEST_VERBOSE)
      console.log({ elapsed, sent, statuses: Object.fromEntries(statuses), perOperation: Object.fromEntries(perOperation) });
    expect(sent).toBeGreaterThanOrEqual(1_000);
    expect(new Set(perOperation.keys())).toEqual(new Set(operations.map((operation) => operation.operationId)));
  });
});

// One case per bug the fuzzing found; each was a 500 before its fix.
describe('bugs the fuzzing found', () => {
  const api = () => stack.api.as(token);

  it('a continuation token this API did not make is a 400 naming it (it failed inside the storage SDK)', async () => {
    for (const path of [
      `/exports/${fixtures.exportId}/runs`,
      `/exports/${fixtures.exportId}/runs/${fixtures.runId}/records`,
      '/refreshes',
    ]) {
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
      expect(new Set(problemPaths(segments))).toEqual(new Set(['query.connectionId']));
      const created = await api().post('/exports', {
        name: 'x',
        connectionId: value,
        segments: ['Segment_VIP'],
        mapping: { email: 'Email' },
        details: { listId: 'l' },
      });
      expectProblem(created, 400);
      expect(new Set(problemPaths(created))).toEqual(new Set(['body.connectionId']));
      const updated = await api().patch(`/exports/${fixtures.exportId}`, { connectionId: value });
      expectProblem(updated, 400);
      expect(new Set(problemPaths(updated))).toEqual(new Set(['body.connectionId']));
    }
  });

  it('secrets longer than a Key Vault secret holds are a 400 naming them (Key Vault refused them)', async () => {
    const long = 'k'.repeat(30_000);
    const created = await api().post('/connections', {
      name: 'x',
      type: 'campaign-monitor',
      secrets: { apiKey: long },
      privacyConsent: true,
    });
    expectProblem(created, 400);
    expect(problemPaths(created)).toEqual(['body.secrets']);
    const updated = await api().patch(`/connections/${fixtures.connectionId}`, { secrets: { apiKey: long } });
    expectProblem(updated, 400);
    expect(problemPaths(updated)).toEqual(['body.secrets']);
    // Two fields each under the cap but together over it.
    const merged = await api().patch(`/connections/${fixtures.connectionId}`, {
      secrets: { apiKey: 'k'.repeat(15_000), other: 'o'.repeat(15_000) },
    });
    expect(merged.status).toBe(400);
  });

  it('values longer than a table column holds are a 400 naming the field (storage refused them)', async () => {
    const exportBody = {
      name: 'x',
      connectionId: fixtures.connectionId,
      segments: ['Segment_VIP'],
      mapping: { email: 'Email' },
      details: { listId: 'l' },
    };
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
    const settings = await api().post('/connections', {
      name: 'x',
      type: 'campaign-monitor',
      settings: { clientId: 'c'.repeat(70_000) },
      secrets: { apiKey: 'k' },
      privacyConsent: true,
    });
    expectProblem(settings, 400);
    expect(problemPaths(settings)).toEqual(['body.settings']);
  });

  it('JSON nested thousands of levels deep is a 400 (checking its size overflowed the stack)', async () => {
    const deep = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
    const body = `{"name":"x","connectionId":"${fixtures.connectionId}","segments":["Segment_VIP"],"mapping":{"email":"Email"},"details":${deep(20_000)}}`;
    const response = await api().request('POST', '/exports', { rawBody: body, headers: { 'content-type': 'application/json' } });
    expectProblem(response, 400);
    expect(response.body.detail).toContain('64 levels');
    const settings = await api().request('PATCH', `/connections/${fixtures.connectionId}`, {
      rawBody: `{"settings":${deep(5_000)}}`,
      headers: { 'content-type': 'application/json' },
    });
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
