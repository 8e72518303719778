// Delivery attempts over real Azurite and the Key Vault emulator, against a receiver on
// 127.0.0.1: the schedule of retries within 24 h, turning a webhook off after a day of failures
// (with an audit line), the connection pinned to the checked address (DNS rebinding), no
// redirects followed, and only a short excerpt of an answer kept.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { listAudit } from '../../shared/audit/auditLog.js';
import { secretStoreFromSettings } from '../../shared/secretStore.js';
import { deliverWebhook, failedForADay, nextDelaySeconds, retryDelaysSeconds } from '../../shared/webhooks/deliverWebhook.js';
import { newSigningSecret } from '../../shared/webhooks/manageWebhooks.js';
import { createDelivery } from '../../shared/webhooks/raiseEvents.js';
import { RESPONSE_EXCERPT_CHARACTERS, sendSigned } from '../../shared/webhooks/sendSigned.js';
import { DEFAULT_THRESHOLDS } from '../../shared/webhooks/webhook.js';
import { findDelivery, getWebhook, insertWebhook } from '../../shared/webhooks/webhookStore.js';
import { useLocalServices } from '../support/localServices.js';

useLocalServices({
  keyVault: true,
  env: { WEBHOOK_ALLOW_LOOPBACK: 'true', WEBHOOK_RETRY_DELAYS_SECONDS: '5,300,1800,7200,18000,36000' },
});
let server: Server;
let receiverUrl: string;
const received: { url: string; headers: IncomingMessage['headers']; body: string }[] = [];
let answer: (url: string) => { status: number; body?: string; headers?: Record<string, string> } = () => ({ status: 204 });

beforeAll(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ url: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      const { status, body, headers } = answer(request.url ?? '');
      response.writeHead(status, headers);
      response.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
});

async function webhookWithDelivery(changes: { failingSince?: string | null; url?: string } = {}) {
  const id = randomUUID();
  const secret = newSigningSecret();
  await secretStoreFromSettings().set(`webhook-${id}`, secret);
  const now = new Date().toISOString();
  await insertWebhook({
    id,
    name: 'Unit',
    url: changes.url ?? `${receiverUrl}/hook`,
    events: ['run.failed'],
    filters: { exportIds: [], connectionIds: [], destinationTypes: [] },
    thresholds: { ...DEFAULT_THRESHOLDS },
    enabled: true,
    disabledReason: null,
    failingSince: changes.failingSince ?? null,
    secretName: `webhook-${id}`,
    createdBy: { id: 'alice', name: 'Alice' },
    createdAt: now,
    updatedAt: now,
    etag: '',
  });
  const deliveryId = `msg_${randomUUID().replace(/-/g, '')}`;
  await createDelivery(
    id,
    deliveryId,
    'run.failed',
    JSON.stringify({ type: 'run.failed', timestamp: now, data: { run: { id: 'r' } } }),
    new Date(),
  );
  return { id, secret, deliveryId };
}

describe('the retry schedule', () => {
  it('waits the configured delays, repeats the last, and gives up 24 h after the first attempt', () => {
    const delays = retryDelaysSeconds('5,300,1800,7200,18000,36000');
    const first = new Date('2026-12-01T00:00:00Z');
    let now = first;
    const waits: number[] = [];
    for (let attempts = 1; ; attempts++) {
      const wait = nextDelaySeconds(attempts, first, now, delays);
      if (wait === undefined) break;
      waits.push(wait);
      now = new Date(now.getTime() + wait * 1000);
    }
    expect(waits).toEqual([5, 300, 1800, 7200, 18000, 36000]);
    expect(now.getTime() - first.getTime()).toBeLessThanOrEqual(24 * 3600_000);
    expect(retryDelaysSeconds('nonsense')).toEqual([5, 300, 1800, 7200, 18000, 36000]);
    expect(failedForADay('2026-12-01T00:00:00Z', new Date('2026-12-01T23:59:00Z'))).toBe(false);
    expect(failedForADay('2026-12-01T00:00:00Z', new Date('2026-12-02T00:00:00Z'))).toBe(true);
    expect(failedForADay(null, new Date())).toBe(false);
  });
});

describe('delivery attempts', () => {
  it('records a failed attempt with the next try, then success with the same webhook-id and a fresh signature', async () => {
    const { id, secret, deliveryId } = await webhookWithDelivery();
    answer = () => ({ status: 503, body: 'x'.repeat(10_000) });
    const first = await deliverWebhook({ webhookId: id, deliveryId });
    expect(first.result).toBe('retrying');
    expect(first.delivery).toMatchObject({ status: 'retrying', attempts: 1, responseStatus: 503 });
    expect(first.delivery!.responseExcerpt!.length).toBe(RESPONSE_EXCERPT_CHARACTERS);
    expect(Date.parse(first.delivery!.nextAttemptAt!) - Date.parse(first.delivery!.lastAttemptAt!)).toBe(5_000);
    expect((await getWebhook(id)).failingSince).not.toBeNull();
    // A copy of the message arriving early does not send again.
    expect((await deliverWebhook({ webhookId: id, deliveryId })).result).toBe('skipped');
    answer = () => ({ status: 200, body: 'ok' });
    const later = new Date(Date.now() + 6_000);
    const second = await deliverWebhook({ webhookId: id, deliveryId }, later);
    expect(second.delivery).toMatchObject({
      status: 'succeeded',
      attempts: 2,
      responseStatus: 200,
      responseExcerpt: 'ok',
      nextAttemptAt: null,
    });
    expect((await getWebhook(id)).failingSince).toBeNull();
    const attempts = received.filter((request) => request.headers['webhook-id'] === deliveryId);
    expect(attempts).toHaveLength(2);
    for (const attempt of attempts) new Webhook(secret).verify(attempt.body, attempt.headers as Record<string, string>);
    expect(attempts[0]!.headers['webhook-timestamp']).not.toBe(attempts[1]!.headers['webhook-timestamp']);
  });

  it('turns a webhook off after a day of failed deliveries, with an audit line', async () => {
    const failingSince = new Date(Date.now() - 25 * 3600_000).toISOString();
    const { id, deliveryId } = await webhookWithDelivery({ failingSince });
    answer = () => ({ status: 500 });
    const outcome = await deliverWebhook({ webhookId: id, deliveryId });
    expect(outcome.delivery).toMatchObject({ status: 'retrying', attempts: 1, responseStatus: 500 });
    const webhook = await getWebhook(id);
    expect(webhook.enabled).toBe(false);
    expect(webhook.disabledReason).toContain('a day without one success');
    const audit = await listAudit({ top: 1000 });
    expect(audit.find((entry) => entry.target.id === id)).toMatchObject({
      action: 'webhook.disabled',
      actor: { id: 'outflow-webhooks' },
      details: { failingSince },
    });
    // The retry already queued finds the webhook off and stops.
    const again = await deliverWebhook({ webhookId: id, deliveryId }, new Date(Date.now() + 10_000));
    expect(again.result).toBe('abandoned');
    expect((await findDelivery(id, deliveryId))!.error).toContain('turned off');
  });

  it('does not follow redirects (a 3xx is a failed attempt)', async () => {
    const { id, deliveryId } = await webhookWithDelivery();
    answer = () => ({ status: 302, headers: { location: 'http://169.254.169.254/latest/meta-data/' } });
    const before = received.length;
    const outcome = await deliverWebhook({ webhookId: id, deliveryId });
    expect(outcome.delivery).toMatchObject({ status: 'retrying', responseStatus: 302 });
    expect(received.length).toBe(before + 1);
  });
});

describe('the send-time check', () => {
  const message = (url: string) => ({
    url,
    secret: newSigningSecret(),
    messageId: 'msg_pin',
    payload: '{"type":"webhook.test"}',
    timestamp: new Date(),
  });

  it('connects to the address it checked, whatever the name resolves to later', async () => {
    let lookups = 0;
    // First answer loopback (allowed locally), then a private address: a rebinding attempt.
    const rebinding = async () =>
      lookups++ === 0 ? [{ address: '127.0.0.1', family: 4 as const }] : [{ address: '10.0.0.9', family: 4 as const }];
    answer = () => ({ status: 204 });
    const port = new URL(receiverUrl).port;
    const outcome = await sendSigned(message(`http://rebind.attacker.example:${port}/pinned`), { allowLoopback: true, resolve: rebinding });
    expect(outcome).toMatchObject({ ok: true, status: 204 });
    expect(lookups).toBe(1);
    expect(received.at(-1)!.url).toBe('/pinned');
    expect(received.at(-1)!.headers.host).toBe(`rebind.attacker.example:${port}`);
  });

  it('does not send when the name now resolves to a refused address', async () => {
    const before = received.length;
    const outcome = await sendSigned(message(`http://rebind.attacker.example:${new URL(receiverUrl).port}/x`), {
      allowLoopback: true,
      resolve: async () => [{ address: '169.254.169.254', family: 4 }],
    });
    expect(outcome).toMatchObject({ ok: false, status: null });
    expect(outcome.error).toMatch(/not sent: .*169\.254\.169\.254/);
    const refusedLoopback = await sendSigned(message(`${receiverUrl}/x`), { allowLoopback: false });
    expect(refusedLoopback.error).toMatch(/not sent: .*loopback/);
    expect(received.length).toBe(before);
  });
});
