// The engine's log lines over the real local stack: every line the planner and the senders write
// is one JSON object carrying the run and export ids (and the chunk id for a sender), and the
// connection's key is in none of them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/testStack.js';
import { eventually } from '../support/apiClient.js';

const API_KEY = 'cm-secret-key-obs-4e1d9a7c2b';
const PROFILES = 2_500;

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({
    seedProfiles: PROFILES,
    invalidEmailRate: 0.01,
    simulatorOptions: { CAMPAIGN_MONITOR_API_URL: { apiKeys: [API_KEY], rateLimit: { requestsPerSecond: 50, burst: 50 } } },
    settings: { DESTINATION_RATE_LIMITS: JSON.stringify({ 'campaign-monitor': { requestsPerSecond: 40, burst: 40 } }) },
  });
});

afterAll(async () => {
  await stack?.stop();
});

/** The JSON lines one function wrote through context.log (the host prefixes time, level and function). */
function engineLines(functionName: string): Record<string, unknown>[] {
  return stack.logs
    .filter(
      (line) =>
        line.includes(`[Functions.${functionName}]`) && !line.includes(`Executed 'Functions.`) && !line.includes(`Executing 'Functions.`),
    )
    .map((line) => JSON.parse(line.slice(line.indexOf('{'))) as Record<string, unknown>);
}

describe('engine log lines', () => {
  it('carry the run id, export id and chunk id as JSON fields', async () => {
    const segments = await stack.api.get('/segments');
    const segmentId = segments.body.find((segment: { name: string }) => segment.name === 'All customers').id;
    const connection = await stack.api.post('/connections', {
      name: 'CM',
      type: 'campaign-monitor',
      secrets: { apiKey: API_KEY },
      privacyConsent: true,
    });
    const created = await stack.api.post('/exports', {
      name: 'Logged',
      connectionId: connection.body.id,
      segments: [segmentId],
      mapping: { email: 'Email' },
      details: { listId: 'logged' },
    });
    const exportId = created.body.id;
    const runId = (await stack.api.post(`/exports/${exportId}/runs`)).body.runId;
    const run = await eventually(
      async () => {
        const response = await stack.api.get(`/exports/${exportId}/runs/${runId}`);
        return response.body.finishedAt ? response.body : undefined;
      },
      { timeoutMs: 60_000, what: 'the run to finish' },
    );
    expect(run.status).toBe('partiallySucceeded');

    const planned = engineLines('planRun');
    expect(planned).toContainEqual(
      expect.objectContaining({ message: expect.stringMatching(/^Planned: /), runId, exportId, members: PROFILES }),
    );
    const sent = engineLines('sendChunk');
    expect(sent.length).toBeGreaterThan(0);
    for (const line of [...planned, ...sent]) expect(line).toMatchObject({ runId, exportId });
    for (const line of sent) expect(line.chunkId).toEqual(expect.any(String));
    // One "Chunk done" line per chunk, whose counts add up to the run's.
    const done = sent.filter((line) => line.message === 'Chunk done');
    expect(new Set(done.map((line) => line.chunkId)).size).toBe(done.length);
    expect(done.reduce((sum, line) => sum + (line.counts as { members: number }).members, 0)).toBe(run.counts.members);
    expect(stack.logs.join('\n')).not.toContain(API_KEY);
  }, 120_000);
});
