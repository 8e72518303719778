// One signed POST of one event, as the Standard Webhooks specification describes: headers
// webhook-id, webhook-timestamp (Unix seconds) and webhook-signature (`v1,<base64 HMAC-SHA256 of
// "id.timestamp.body">`), signed by the specification's own library (standardwebhooks).
// https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
// The target is checked right before sending and the socket connects to the very address that
// was checked (a pinned lookup), so a name that changes its answer (DNS rebinding) cannot reach a
// private address. Redirects are not followed. Only a short excerpt of the answer is kept.
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { safeTarget, type TargetPolicy } from './webhookUrl.js';
import { UnsafeTarget, type ResolvedAddress } from './targetAddress.js';

export const RESPONSE_EXCERPT_CHARACTERS = 256;
const TIMEOUT_MS = 15_000;

export interface SendOutcome {
  ok: boolean;
  status: number | null;
  excerpt: string | null;
  /** Why there was no 2xx answer (refused target, network error, timeout); never a secret. */
  error: string | null;
}

export interface SignedMessage {
  url: string;
  secret: string;
  messageId: string;
  payload: string;
  timestamp: Date;
}

/** The headers of one attempt (exported for the receiver and tests). */
export function signedHeaders(message: Omit<SignedMessage, 'url'>): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': 'Outflow-Webhooks/1',
    'webhook-id': message.messageId,
    'webhook-timestamp': String(Math.floor(message.timestamp.getTime() / 1000)),
    'webhook-signature': new Webhook(message.secret).sign(message.messageId, message.timestamp, message.payload),
  };
}

/** A lookup that answers only the checked address, whatever the name would resolve to now. */
function pinnedLookup(address: ResolvedAddress): LookupFunction {
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address: address.address, family: address.family }]);
    else callback(null, address.address, address.family);
  }) as unknown as LookupFunction;
}

export async function sendSigned(message: SignedMessage, policy: TargetPolicy): Promise<SendOutcome> {
  let target: Awaited<ReturnType<typeof safeTarget>>;
  try {
    target = await safeTarget(message.url, policy);
  } catch (error) {
    if (error instanceof UnsafeTarget) return { ok: false, status: null, excerpt: null, error: `not sent: ${error.message}` };
    throw error;
  }
  const { url, address } = target;
  const body = Buffer.from(message.payload);
  const options: RequestOptions & { servername?: string } = {
    method: 'POST',
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port || (url.protocol === 'https:' ? 443 : 80),
    path: `${url.pathname}${url.search}`,
    headers: { ...signedHeaders(message), 'content-length': String(body.length) },
    lookup: pinnedLookup(address),
    signal: AbortSignal.timeout(TIMEOUT_MS),
    agent: false,
  };
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  try {
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const request = send(options, resolve);
      request.on('error', reject);
      request.end(body);
    });
    const excerpt = await readExcerpt(response);
    const status = response.statusCode ?? 0;
    const ok = status >= 200 && status < 300;
    return { ok, status, excerpt, error: ok ? null : `answered ${status}` };
  } catch (error) {
    const { code, name, message: text } = error as Error & { code?: string };
    const reason =
      name === 'TimeoutError' || name === 'AbortError' ? `no answer within ${TIMEOUT_MS / 1000} s` : `${code ?? name}: ${text}`;
    return { ok: false, status: null, excerpt: null, error: reason.slice(0, 300) };
  }
}

/** The first characters of the answer; the rest is not read. */
async function readExcerpt(response: IncomingMessage): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  const limit = RESPONSE_EXCERPT_CHARACTERS * 4;
  try {
    for await (const chunk of response) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size >= limit) break;
    }
  } catch {
    // A body cut off is fine: only its start is kept.
  } finally {
    response.destroy();
  }
  const text = Buffer.concat(chunks).toString('utf8').slice(0, RESPONSE_EXCERPT_CHARACTERS);
  return text === '' ? null : text;
}
