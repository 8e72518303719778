// Shared HTTP plumbing for adapters: origin override for local simulators, timeouts, and the
// mapping of transport-level failures onto DestinationError categories (one place, not per vendor).
import { DestinationError } from './destinationError.js';
import { setting } from '../settings.js';

export interface VendorResponse {
  status: number;
  headers: Headers;
  body: unknown;
}

/** Replaces scheme and host of a vendor URL with `origin` (paths stay the vendor's). */
export function withApiOrigin(vendorUrl: string, origin: string | undefined): string {
  if (!origin) return vendorUrl;
  const target = new URL(vendorUrl);
  const replacement = new URL(origin);
  target.protocol = replacement.protocol;
  target.host = replacement.host;
  return target.toString();
}

/** Milliseconds to wait from Retry-After (seconds or HTTP date) or X-RateLimit-Reset (seconds). */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const retryAfter = headers.get('retry-after');
  if (retryAfter) {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  const reset = headers.get('x-ratelimit-reset');
  if (reset) {
    const seconds = Number(reset);
    // Vendors send either seconds-until-reset or an epoch; an epoch is far larger than a minute.
    if (Number.isFinite(seconds)) return seconds > 1e9 ? Math.max(0, seconds * 1000 - now) : seconds * 1000;
  }
  return undefined;
}

/** The operator's VENDOR_TIMEOUT_SECONDS, which replaces every adapter's own call timeout. */
export function vendorTimeoutMs(): number | undefined {
  const raw = setting('VENDOR_TIMEOUT_SECONDS');
  if (raw === undefined) return undefined;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new Error(`VENDOR_TIMEOUT_SECONDS must be a number of seconds above 0, not '${raw}'.`);
  return seconds * 1000;
}

export interface VendorRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  json?: unknown;
  /** A JSON body the adapter already wrote as text (sent as it is, as application/json). */
  jsonText?: string;
  body?: string | Uint8Array;
  signal?: AbortSignal;
  timeoutMs?: number;
  /**
   * Statuses returned to the adapter instead of thrown, for vendors whose 403 or 429 means
   * something the generic mapping would get wrong (Mailchimp's bodiless 403 is a throttle).
   */
  passStatuses?: number[];
}

/**
 * Calls a vendor. 401/403 → auth, 429 → rateLimited (with the vendor's wait), 5xx →
 * vendorUnavailable, transport failures and timeouts → network. Other statuses are returned for
 * the adapter to read (vendors report per-record failures in 2xx and 400 answers alike).
 */
export async function callVendor(request: VendorRequest): Promise<VendorResponse> {
  const timeout = AbortSignal.timeout(vendorTimeoutMs() ?? request.timeoutMs ?? 60_000);
  const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
  const headers: Record<string, string> = { accept: 'application/json', ...request.headers };
  let body: string | Uint8Array | undefined = request.body;
  if (request.json !== undefined || request.jsonText !== undefined) {
    body = request.jsonText ?? JSON.stringify(request.json);
    headers['content-type'] = 'application/json';
  }
  let response: Response;
  try {
    response = await fetch(request.url, { method: request.method, headers, body, signal });
  } catch (error) {
    if (request.signal?.aborted) throw error;
    const reason = timeout.aborted
      ? 'timed out'
      : (error as Error).cause
        ? String(((error as Error).cause as Error).message ?? (error as Error).cause)
        : (error as Error).message;
    throw new DestinationError('network', `${request.method} ${new URL(request.url).pathname} failed: ${reason}`);
  }
  const text = await response.text().catch(() => '');
  let parsed: unknown = text;
  if (text && (response.headers.get('content-type') ?? '').includes('json')) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  const status = response.status;
  const path = new URL(request.url).pathname;
  if (request.passStatuses?.includes(status)) return { status, headers: response.headers, body: parsed };
  const vendorMessage = describeVendorBody(parsed);
  if (status === 401 || status === 403) {
    throw new DestinationError('auth', `The destination refused the credentials (${status}${vendorMessage ? `: ${vendorMessage}` : ''})`, {
      status,
    });
  }
  if (status === 429) {
    throw new DestinationError('rateLimited', `Rate limited on ${path}${vendorMessage ? `: ${vendorMessage}` : ''}`, {
      status,
      retryAfterMs: retryAfterMs(response.headers),
    });
  }
  if (status >= 500) {
    throw new DestinationError('vendorUnavailable', `${path} answered ${status}${vendorMessage ? `: ${vendorMessage}` : ''}`, {
      status,
      retryAfterMs: retryAfterMs(response.headers),
    });
  }
  return { status, headers: response.headers, body: parsed };
}

function describeVendorBody(body: unknown): string {
  if (!body) return '';
  if (typeof body === 'string') return body.slice(0, 200);
  const record = body as Record<string, unknown>;
  const message = record.Message ?? record.message ?? record.msg ?? record.detail ?? record.title;
  return typeof message === 'string' ? message.slice(0, 200) : '';
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts (a cancelled run stops polling at once). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
