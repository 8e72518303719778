// Fuzzing at scale: at least 10,000 generated requests (fast-check, fixed seed; 2,000 in the
// ci profile) over every route of the served OpenAPI document, 8 in flight, as several callers
// (so the per-caller rate limit is not what answers). No answer may be a 5xx, and every error
// answer must be problem details. Generators: test/support/apiFuzzing.ts, with large bodies rare.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import pLimit from 'p-limit';
import { startTestStack, type TestStack } from '../support/testStack.js';
import { recordResult, SIZES } from './support/results.js';
import {
  answerProblem,
  describeExchange,
  prepareFuzzing,
  requestsFor,
  sendFuzzRequest,
  type FuzzAnswer,
  type FuzzFixtures,
  type FuzzRequest,
  type Operation,
} from '../support/apiFuzzing.js';

const REQUESTS = Number(process.env.OUTFLOW_FUZZ_RUNS ?? SIZES.fuzzRequests);
const SEED = Number(process.env.OUTFLOW_FUZZ_SEED ?? 20_261_124);
const IN_FLIGHT = 8;
const CALLERS = 16;

let stack: TestStack;
let tokens: string[];
let operations: Operation[];
let fixtures: FuzzFixtures;

/** A generated request, and the caller sending it (an index into `tokens`; -1 sends no token). */
function callsFor(operation: Operation): fc.Arbitrary<{ request: FuzzRequest; caller: number }> {
  // Mostly a full-rights caller (so validation runs), sometimes none.
  const caller = fc.oneof({ weight: 15, arbitrary: fc.nat(CALLERS - 1) }, { weight: 1, arbitrary: fc.constant(-1) });
  return fc.record({ request: requestsFor(operation, fixtures, 'rare'), caller });
}

async function send(request: FuzzRequest, caller: number): Promise<FuzzAnswer> {
  try {
    return await sendFuzzRequest(stack.apiUrl, request, caller >= 0 ? tokens[caller] : undefined, 30_000);
  } catch (error) {
    return { status: 0, contentType: '', text: String(error) };
  }
}

beforeAll(async () => {
  stack = await startTestStack({ seedProfiles: 200, simulatorOptions: { CAMPAIGN_MONITOR_API_URL: { rateLimit: false } } });
  tokens = await Promise.all(
    Array.from({ length: CALLERS }, (_, index) => stack.tokenFor(['admin', 'system'] as never, `fuzzer-${index}`)),
  );
  ({ fixtures, operations } = await prepareFuzzing(stack.api.as(tokens[0])));
}, 300_000);

afterAll(async () => {
  await stack?.stop();
});

describe(`fuzzing every route with ${REQUESTS.toLocaleString('en-US')} generated requests`, () => {
  it('answers without a 5xx, every error as problem details', { timeout: 1_800_000 }, async () => {
    const started = Date.now();
    // Every route equally often, each with its own generated requests.
    const arbitrary = fc.constantFrom(...operations).chain(callsFor);
    const calls = fc.sample(arbitrary, { numRuns: REQUESTS, seed: SEED });
    const statuses: Record<string, number> = {};
    const perOperation = new Map<string, number>();
    const failures: string[] = [];
    let serverErrors = 0;
    let notProblemJson = 0;
    const limit = pLimit(IN_FLIGHT);
    await Promise.all(
      calls.map(({ request, caller }) =>
        limit(async () => {
          const answer = await send(request, caller);
          statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
          perOperation.set(request.operation.operationId, (perOperation.get(request.operation.operationId) ?? 0) + 1);
          const problem = answerProblem(answer);
          if (!problem) return;
          if (answer.status >= 500 || answer.status === 0) serverErrors++;
          else notProblemJson++;
          if (failures.length < 20) failures.push(`${problem}: ${describeExchange(request, answer)}`);
        }),
      ),
    );
    const seconds = Math.round((Date.now() - started) / 100) / 10;
    recordResult('fuzz', 'all-routes', {
      passed: serverErrors === 0 && notProblemJson === 0,
      requests: calls.length,
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
    expect(calls.length).toBeGreaterThanOrEqual(SIZES.fuzzRequests);
    expect(new Set(perOperation.keys())).toEqual(new Set(operations.map((operation) => operation.operationId)));
  });
});
