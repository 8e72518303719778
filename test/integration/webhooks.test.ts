// Signed webhooks over the real local stack: a run failed on purpose (the Campaign Monitor
// simulator refusing every key) delivers one signed run.failed that the Standard Webhooks
// library's own verification accepts; a receiver answering 500 three times gets the same event
// (same webhook-id) again until it accepts it, with the attempts in the delivery log; URLs aimed
// at private ranges or metadata are refused naming body.url; secrets are shown once only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { startTestStack, type TestStack } from '../support/testStack.js';
import { eventually } from '../support/apiClient.js';
import { runToEnd } from '../support/exportRuns.js';
import { expectProblem, problemPaths } from '../support/apiAssertions.js';
import type { ReceivedDelivery } from '../../local/webhookReceiver.js';

let stack: TestStack;
let connectionId: string;
let simulatorUrl: string;

async function createExport(name: string): Promise<string> {
  const response = await stack.api.post('/exports', {
    name,
    connectionId,
    segments: ['Segment_VIP'],
    mapping: { email: 'Email' },
    details: { listId: name.toLowerCase().replace(/\W+/g, '-') },
  });
  expect(response.status, response.text).toBe(201);
  return response.body.id;
}

async function subscribe(body: Record<string, unknown>): Promise<{ id: string; secret: string; etag: string }> {
  const response = await stack.api.post('/webhooks', {
    name: 'Alerts',
    url: `${stack.webhookReceiver.url}/hooks/outflow`,
    events: ['run.failed'],
    ...body,
  });
  expect(response.status, response.text).toBe(201);
  expect(response.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{40,}={0,2}$/);
  return { id: response.body.id, secret: response.body.secret, etag: response.headers.get('etag')! };
}

const verify = (secret: string, delivery: ReceivedDelivery) =>
  new Webhook(secret).verify(delivery.body, {
    'webhook-id': delivery.webhookId!,
    'webhook-timestamp': delivery.timestamp!,
    'webhook-signature': delivery.signature!,
  }) as { type: string; data: any };

const forRun = (runId: string) => stack.webhookReceiver.deliveries.filter((delivery) => JSON.parse(delivery.body).data?.run?.id === runId);

async function setSimulatorFaults(faults: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${simulatorUrl}/_simulator/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(faults),
  });
  expect(response.status).toBe(200);
}

beforeAll(async () => {
  // Retries a second apart, so a receiver failing three times is done with in seconds.
  stack = await startTestStack({
    seedProfiles: 300,
    simulatorOptions: { CAMPAIGN_MONITOR_API_URL: { rateLimit: false } },
    settings: { WEBHOOK_RETRY_DELAYS_SECONDS: '1' },
  });
  simulatorUrl = stack.simulators.find((simulator) => simulator.setting === 'CAMPAIGN_MONITOR_API_URL')!.url;
  const connection = await stack.api.post('/connections', {
    name: 'CM alerts',
    type: 'campaign-monitor',
    secrets: { apiKey: 'webhook-test-key' },
    privacyConsent: true,
  });
  expect(connection.status, connection.text).toBe(201);
  connectionId = connection.body.id;
}, 180_000);

afterAll(async () => {
  await stack?.stop();
});

describe('webhooks', () => {
  it("delivers one signed run.failed for a run failed on purpose, verified by the specification's library", async () => {
    const { id, secret } = await subscribe({ events: ['run.failed', 'run.succeeded'] });
    const exportId = await createExport('Revoked key');
    await setSimulatorFaults({ revokeKeys: true });
    let run;
    try {
      run = await runToEnd(stack.api, exportId, { timeoutMs: 60_000 });
    } finally {
      await setSimulatorFaults({});
    }
    expect(run.status).toBe('failed');
    const [delivery] = await eventually(async () => (forRun(run.id).length ? forRun(run.id) : undefined), {
      timeoutMs: 30_000,
      what: 'the run.failed delivery',
    });
    const event = verify(secret, delivery!);
    expect(event.type).toBe('run.failed');
    expect(event.data).toMatchObject({
      export: { id: exportId, name: 'Revoked key' },
      connection: { id: connectionId, name: 'CM alerts', type: 'campaign-monitor' },
      run: { id: run.id, status: 'failed', counts: run.counts },
      reason: run.reason,
      links: {
        run: `${stack.apiUrl}/exports/${exportId}/runs/${run.id}`,
        records: `${stack.apiUrl}/exports/${exportId}/runs/${run.id}/records?status=failed`,
      },
    });
    expect(delivery!.webhookId).toMatch(/^msg_/);
    // Another secret does not verify it: the signature is really over this body with this secret.
    const other = await stack.api.post(`/webhooks/${id}/rotate-secret`);
    expect(other.status).toBe(200);
    expect(() => verify(other.body.secret, delivery!)).toThrow();
    // One delivery for the run, and the log says so.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(forRun(run.id)).toHaveLength(1);
    const log = await stack.api.get(`/webhooks/${id}/deliveries`);
    expect(log.status).toBe(200);
    expect(log.body.items).toEqual([
      expect.objectContaining({ id: delivery!.webhookId, eventType: 'run.failed', status: 'succeeded', attempts: 1, responseStatus: 204 }),
    ]);
    await stack.api.delete(`/webhooks/${id}`);
  }, 120_000);

  it('sends the same event again after three 500s until it is accepted; the attempts are in the delivery log', async () => {
    const { id, secret } = await subscribe({ name: 'Flaky receiver' });
    const exportId = await createExport('Flaky');
    stack.webhookReceiver.failNext(3);
    await setSimulatorFaults({ revokeKeys: true });
    let run;
    try {
      run = await runToEnd(stack.api, exportId, { timeoutMs: 60_000 });
    } finally {
      await setSimulatorFaults({});
    }
    expect(run.status).toBe('failed');
    const attempts = await eventually(
      async () => (forRun(run.id).some((delivery) => delivery.answered === 204) ? forRun(run.id) : undefined),
      { timeoutMs: 60_000, what: 'the event to be accepted' },
    );
    expect(attempts.map((delivery) => delivery.answered)).toEqual([500, 500, 500, 204]);
    expect(new Set(attempts.map((delivery) => delivery.webhookId)).size).toBe(1);
    expect(new Set(attempts.map((delivery) => delivery.body)).size).toBe(1);
    for (const delivery of attempts) expect(verify(secret, delivery).type).toBe('run.failed');
    const log = await eventually(
      async () => {
        const response = await stack.api.get(`/webhooks/${id}/deliveries`);
        return response.body.items?.[0]?.status === 'succeeded' ? response.body.items : undefined;
      },
      { timeoutMs: 10_000, what: 'the delivery log to show success' },
    );
    expect(log).toEqual([
      expect.objectContaining({ id: attempts[0]!.webhookId, status: 'succeeded', attempts: 4, responseStatus: 204, nextAttemptAt: null }),
    ]);
    const webhook = await stack.api.get(`/webhooks/${id}`);
    expect(webhook.body.enabled).toBe(true);
    expect(webhook.body.failingSince).toBeUndefined();
    await stack.api.delete(`/webhooks/${id}`);
  }, 120_000);

  it('sends a signed webhook.test on request', async () => {
    const { id, secret } = await subscribe({ name: 'Test event', url: `${stack.webhookReceiver.url}/test-event` });
    const queued = await stack.api.post(`/webhooks/${id}/test`);
    expect(queued.status, queued.text).toBe(202);
    const delivery = await eventually(
      async () => stack.webhookReceiver.deliveries.find((candidate) => candidate.webhookId === queued.body.deliveryId),
      { timeoutMs: 20_000, what: 'the test event' },
    );
    expect(verify(secret, delivery).type).toBe('webhook.test');
    await stack.api.delete(`/webhooks/${id}`);
  }, 60_000);

  it('refuses URLs aimed at private ranges, metadata or other schemes with a problem naming body.url', async () => {
    const refused = [
      'https://10.0.0.5/hook',
      'https://172.16.3.4/hook',
      'https://192.168.1.10/hook',
      'https://169.254.169.254/latest/meta-data/',
      'http://169.254.169.254/metadata/instance',
      'https://100.100.100.200/latest/meta-data',
      'https://[fd00:ec2::254]/latest',
      'https://[fe80::1]/hook',
      'https://[::ffff:10.0.0.1]/hook',
      'https://[::ffff:169.254.169.254]/hook',
      'https://[64:ff9b::a9fe:a9fe]/hook',
      'https://0.0.0.0/hook',
      'https://0xa9fea9fe/hook',
      'https://user:password@127.0.0.1/hook',
      'ftp://127.0.0.1/hook',
      'file:///etc/passwd',
      'not a url',
      `http://10.0.0.5:${stack.webhookReceiver.port}/hook`,
    ];
    for (const url of refused) {
      const response = await stack.api.post('/webhooks', { name: 'SSRF', url, events: ['run.failed'] });
      expectProblem(response, 400);
      expect(problemPaths(response), url).toEqual(['body.url']);
    }
    const { id, etag } = await subscribe({ name: 'To be moved' });
    const moved = await stack.api.patch(`/webhooks/${id}`, { url: 'https://169.254.169.254/' }, { 'if-match': etag });
    expectProblem(moved, 400);
    expect(problemPaths(moved)).toEqual(['body.url']);
    await stack.api.delete(`/webhooks/${id}`);
  });

  it('honours If-Match, shows the secret only when made or rotated, and writes audit lines', async () => {
    const { id, secret, etag } = await subscribe({
      name: 'Lifecycle',
      filters: { destinationTypes: ['campaign-monitor'] },
      thresholds: { rejectedShare: 0.2 },
    });
    const stale = await stack.api.patch(`/webhooks/${id}`, { enabled: false }, { 'if-match': '"stale"' });
    expectProblem(stale, 412);
    const patched = await stack.api.patch(
      `/webhooks/${id}`,
      { enabled: false, events: ['run.failed', 'volume.changed'] },
      { 'if-match': etag },
    );
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body).toMatchObject({
      enabled: false,
      events: ['run.failed', 'volume.changed'],
      thresholds: { rejectedShare: 0.2, slowFactor: 2 },
    });
    const rotated = await stack.api.post(`/webhooks/${id}/rotate-secret`);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(secret);
    for (const path of ['/webhooks', `/webhooks/${id}`, `/webhooks/${id}/deliveries`, '/audit?top=200']) {
      const response = await stack.api.get(path);
      expect(response.status).toBe(200);
      expect(response.text).not.toContain(secret.slice(6));
      expect(response.text).not.toContain(rotated.body.secret.slice(6));
    }
    const audit = await stack.api.get('/audit?top=200');
    const actions = audit.body.items.filter((entry: any) => entry.target.id === id).map((entry: any) => entry.action);
    expect(actions).toEqual(expect.arrayContaining(['webhook.created', 'webhook.updated', 'webhook.secretRotated']));
    const removed = await stack.api.delete(`/webhooks/${id}`, { 'if-match': patched.headers.get('etag')! });
    expectProblem(removed, 412);
    expect((await stack.api.delete(`/webhooks/${id}`)).status).toBe(204);
    expect((await stack.api.get(`/webhooks/${id}`)).status).toBe(404);
    expect(stack.logs.join('\n')).not.toContain(secret.slice(6));
  });
});
