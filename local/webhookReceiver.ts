// A local webhook subscriber for `npm start` and the tests: it keeps every delivery it receives
// (headers webhook-id/-timestamp/-signature and the body), verifies the signature with the
// Standard Webhooks library when told the secret, and can be told to answer 500 N times.
//   POST /<any path>            a delivery → 204 (or 500 while failures are asked for)
//   GET  /_receiver/deliveries  what arrived: [{path, webhookId, timestamp, signature, body, verified, answered, receivedAt}]
//   POST /_receiver/faults      {"failNext": 3} → the next 3 deliveries are answered 500
//   POST /_receiver/secret      {"secret": "whsec_…"} → signatures are verified from now on
//   POST /_receiver/reset       forget deliveries, faults and the secret
import { Webhook } from 'standardwebhooks';
import { readJsonBody, startSimulatorServer } from './simulators/simulatorKit.js';

export interface ReceivedDelivery {
  path: string;
  webhookId: string | null;
  timestamp: string | null;
  signature: string | null;
  /** The body as received (the exact text that was signed). */
  body: string;
  /** true/false once a secret is known; null without one. */
  verified: boolean | null;
  answered: number;
  receivedAt: string;
}

export interface WebhookReceiver {
  url: string;
  port: number;
  deliveries: ReceivedDelivery[];
  failNext(count: number): void;
  setSecret(secret: string | undefined): void;
  reset(): void;
  stop(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;
const MAX_KEPT = 1_000;

export async function startWebhookReceiver(options: { port?: number } = {}): Promise<WebhookReceiver> {
  const deliveries: ReceivedDelivery[] = [];
  let failures = 0;
  let secret: string | undefined;
  const answer = (response: import('node:http').ServerResponse, status: number, body?: unknown) => {
    response.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
    response.end(body === undefined ? undefined : JSON.stringify(body));
  };
  const server = await startSimulatorServer({
    port: options.port,
    answerInternalError: (response) => answer(response, 500, { error: 'receiver failed' }),
    handle: async (request, response) => {
      const path = (request.url ?? '/').split('?')[0]!;
      const method = request.method ?? 'GET';
      if (path.startsWith('/_receiver/')) {
        const body = (await readJsonBody(request, {
          maxBytes: 64 * 1024,
          tooLarge: () => new Error('too large'),
          malformed: () => new Error('not JSON'),
        }).catch(() => undefined)) as Record<string, unknown> | undefined;
        if (method === 'GET' && path === '/_receiver/deliveries') return answer(response, 200, { deliveries });
        if (method === 'POST' && path === '/_receiver/faults') {
          failures = Math.max(0, Number(body?.failNext ?? 0) || 0);
          return answer(response, 200, { failNext: failures });
        }
        if (method === 'POST' && path === '/_receiver/secret') {
          secret = typeof body?.secret === 'string' ? body.secret : undefined;
          return answer(response, 200, { verifying: secret !== undefined });
        }
        if (method === 'POST' && path === '/_receiver/reset') {
          deliveries.length = 0;
          failures = 0;
          secret = undefined;
          return answer(response, 200, { reset: true });
        }
        return answer(response, 404, { error: 'unknown control call' });
      }
      if (method !== 'POST') return answer(response, 405, { error: 'deliveries are POSTs' });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of request) {
        size += (chunk as Buffer).length;
        if (size > MAX_BODY_BYTES) return answer(response, 413, { error: 'too large' });
        chunks.push(chunk as Buffer);
      }
      const body = Buffer.concat(chunks).toString('utf8');
      const header = (name: string) => (request.headers[name] as string | undefined) ?? null;
      let verified: boolean | null = null;
      if (secret) {
        try {
          new Webhook(secret).verify(body, {
            'webhook-id': header('webhook-id') ?? '',
            'webhook-timestamp': header('webhook-timestamp') ?? '',
            'webhook-signature': header('webhook-signature') ?? '',
          });
          verified = true;
        } catch {
          verified = false;
        }
      }
      const status = failures > 0 ? 500 : 204;
      if (failures > 0) failures--;
      deliveries.push({
        path,
        webhookId: header('webhook-id'),
        timestamp: header('webhook-timestamp'),
        signature: header('webhook-signature'),
        body,
        verified,
        answered: status,
        receivedAt: new Date().toISOString(),
      });
      if (deliveries.length > MAX_KEPT) deliveries.shift();
      return status === 500 ? answer(response, 500, { error: 'failing on purpose (POST /_receiver/faults)' }) : answer(response, 204);
    },
  });
  return {
    url: server.url,
    port: server.port,
    deliveries,
    failNext: (count) => (failures = count),
    setSecret: (value) => (secret = value),
    reset: () => {
      deliveries.length = 0;
      failures = 0;
      secret = undefined;
    },
    stop: server.stop,
  };
}
