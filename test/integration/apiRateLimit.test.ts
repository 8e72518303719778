// The API's per-caller rate limit over the real host, set low with API_RATE_LIMIT: a caller over
// it gets 429 problem details with Retry-After and is let in again after waiting; other callers
// and the anonymous health check are not held back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/testStack.js';
import { expectProblem } from '../support/apiAssertions.js';
import type { ApiResponse } from '../support/apiClient.js';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ seedProfiles: 0, settings: { API_RATE_LIMIT: JSON.stringify({ requestsPerSecond: 1, burst: 3 }) } });
});

afterAll(async () => {
  await stack?.stop();
});

describe('API_RATE_LIMIT', () => {
  it('answers 429 with Retry-After to a caller over the configured limit, and not to the others', async () => {
    const busy = stack.api.as(await stack.tokenFor('viewer', 'busy-script'));
    const responses: ApiResponse[] = [];
    for (let index = 0; index < 5; index++) responses.push(await busy.get('/destinations'));
    const statuses = responses.map((response) => response.status);
    // A burst of 3, then at most one more as the bucket refills at 1/s while the requests run.
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(1);
    // The refused answer itself: a request sent after these may already find a token refilled on a
    // loaded machine (a sixth request got 200 in a fresh-clone run).
    const limited = responses.find((response) => response.status === 429)!;
    expectProblem(limited, 429);
    expect(limited.body.detail).toContain('more than 1 request per second');
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);

    const other = stack.api.as(await stack.tokenFor('viewer', 'a-person'));
    expect((await other.get('/destinations')).status).toBe(200);
    expect((await fetch(`${stack.apiUrl}/health`)).status).toBe(200);

    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000 + 100));
    expect((await busy.get('/destinations')).status).toBe(200);
  });
});
