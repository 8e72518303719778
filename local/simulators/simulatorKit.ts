// The plumbing every local vendor simulator shares: a seeded PRNG, injected faults, token buckets,
// a size-capped JSON body reader, the `/_simulator/faults` and `/_simulator/reset` control calls,
// request counters and an HTTP server on 127.0.0.1. What a vendor says (paths, auth, answers,
// error bodies) stays in its own simulator file.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Faults {
  /** Share of vendor calls answered 500 before any processing (0..1). */
  serverErrorRate?: number;
  /** After every `every` vendor calls, the next `length` calls are answered 429. */
  tooManyRequestsBursts?: { every: number; length: number };
  /** Delay before each vendor call is handled; `latencyJitterMs` adds 0..jitter from the PRNG. */
  latencyMs?: number;
  latencyJitterMs?: number;
  /** Share of vendor calls whose socket is destroyed without an answer (0..1). */
  connectionResetRate?: number;
  /** Seed of the PRNG behind every random fault; setting faults restarts the sequence. */
  seed?: number;
}

/** The counters every simulator keeps, whatever else it counts. */
export interface RequestCounters {
  requests: number;
  /** Requests per "METHOD /path" with IDs replaced by placeholders. */
  byRoute: Record<string, number>;
  unauthorized: number;
  tooManyRequests: number;
  serverErrors: number;
  connectionResets: number;
}

export function emptyRequestCounters(): RequestCounters {
  return { requests: 0, byRoute: {}, unauthorized: 0, tooManyRequests: 0, serverErrors: 0, connectionResets: 0 };
}

export function countRoute(counters: RequestCounters, routeKey: string): void {
  counters.byRoute[routeKey] = (counters.byRoute[routeKey] ?? 0) + 1;
}

export type InjectedFault = 'connectionReset' | 'serverError' | 'tooManyRequests';

/** The current faults and the PRNG behind them; setting faults restarts the sequence so a run replays. */
export class FaultInjector<F extends Faults = Faults> {
  private current: F = {} as F;
  private nextRandom = seededRandom(1);
  private faultedCalls = 0;

  constructor(initial: F = {} as F) {
    this.set(initial);
  }

  get faults(): F {
    return this.current;
  }

  set(next: F): void {
    this.current = { ...next };
    this.nextRandom = seededRandom(next.seed ?? 1);
    this.faultedCalls = 0;
  }

  /** The next number of the seeded sequence (vendor-specific faults draw from it too). */
  random(): number {
    return this.nextRandom();
  }

  /**
   * Waits the injected latency, then decides this vendor call's fault, if any, and counts it. A
   * connection reset destroys the socket here; the caller answers 500 and 429 in its vendor's words.
   */
  async inject(request: IncomingMessage, counters: RequestCounters): Promise<InjectedFault | undefined> {
    const faults = this.current;
    // This call's place in the sequence is taken before the delay: read after it, concurrent calls
    // would all see the count as it stands when their delays end, and a burst could land on none.
    const call = ++this.faultedCalls;
    const delay = (faults.latencyMs ?? 0) + (faults.latencyJitterMs ? this.random() * faults.latencyJitterMs : 0);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    if (faults.connectionResetRate && this.random() < faults.connectionResetRate) {
      counters.connectionResets += 1;
      request.socket.destroy();
      return 'connectionReset';
    }
    if (faults.serverErrorRate && this.random() < faults.serverErrorRate) {
      counters.serverErrors += 1;
      return 'serverError';
    }
    const bursts = faults.tooManyRequestsBursts;
    if (bursts && bursts.every > 0 && bursts.length > 0 && (call - 1) % (bursts.every + bursts.length) >= bursts.every) {
      counters.tooManyRequests += 1;
      return 'tooManyRequests';
    }
    return undefined;
  }
}

export interface RateLimit {
  requestsPerSecond: number;
  burst: number;
}

export type TokenTake = { taken: true; tokens: number } | { taken: false; tokens: number; waitSeconds: number };

/** One token bucket per key (API key, project endpoint, …), all at the same rate. */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; updatedAt: number }>();

  constructor(readonly rate: RateLimit) {}

  /** Refills the key's bucket up to `now` and takes a token; without one, says how long until there is one. */
  take(key: string, now = Date.now()): TokenTake {
    const rate = this.rate;
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { tokens: rate.burst, updatedAt: now };
      this.buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(rate.burst, bucket.tokens + ((now - bucket.updatedAt) / 1000) * rate.requestsPerSecond);
    bucket.updatedAt = now;
    if (bucket.tokens < 1) return { taken: false, tokens: bucket.tokens, waitSeconds: (1 - bucket.tokens) / rate.requestsPerSecond };
    bucket.tokens -= 1;
    return { taken: true, tokens: bucket.tokens };
  }

  clear(): void {
    this.buckets.clear();
  }
}

/** A Retry-After value: whole seconds, at least 1, rounded up so a client never comes back early. */
export function retryAfterSeconds(waitSeconds: number): string {
  return String(Math.max(1, Math.ceil(waitSeconds)));
}

/**
 * Reads a JSON body of at most `maxBytes` (undefined when empty). Over the cap it rejects with
 * `tooLarge()` and drops the connection; a body that is not JSON rejects with `malformed()`, so
 * each simulator refuses both in its vendor's words.
 */
export async function readJsonBody(
  request: IncomingMessage,
  limits: { maxBytes: number; tooLarge: () => Error; malformed: () => Error },
): Promise<unknown> {
  const text = await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limits.maxBytes) {
        reject(limits.tooLarge());
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw limits.malformed();
  }
}

/** Accepted deliveries per key summed up, and the keys delivered more than once (the first 100). */
export function deliverySummary(deliveries: Map<string, number>): { deliveries: number; duplicates: number; duplicateKeys: string[] } {
  let total = 0;
  const duplicateKeys: string[] = [];
  for (const [key, count] of deliveries) {
    total += count;
    if (count > 1) duplicateKeys.push(key);
  }
  return { deliveries: total, duplicates: duplicateKeys.length, duplicateKeys: duplicateKeys.slice(0, 100) };
}

/** Answers the control calls every simulator has: GET/POST `/_simulator/faults` and POST `/_simulator/reset`. */
export function faultAndResetControl<F extends Faults>(
  method: string,
  path: string,
  body: unknown,
  injector: FaultInjector<F>,
  reset: () => void,
): [number, unknown] | undefined {
  if (method === 'POST' && path === '/_simulator/faults') {
    injector.set((body ?? {}) as F);
    return [200, { faults: injector.faults }];
  }
  if (method === 'GET' && path === '/_simulator/faults') return [200, { faults: injector.faults }];
  if (method === 'POST' && path === '/_simulator/reset') {
    reset();
    return [200, { reset: true }];
  }
  return undefined;
}

export interface SimulatorServer {
  /** e.g. http://127.0.0.1:4010 */
  url: string;
  port: number;
  /** Destroys open sockets (keep-alive clients would hold the server open) and closes the server. */
  stop: () => Promise<void>;
}

/**
 * Serves `handle` on 127.0.0.1 (port 0: a free one). A request whose handler throws is answered by
 * `answerInternalError` when nothing was sent yet, and cut off otherwise.
 */
export async function startSimulatorServer(options: {
  port?: number;
  handle(request: IncomingMessage, response: ServerResponse): Promise<void>;
  answerInternalError(response: ServerResponse): void;
}): Promise<SimulatorServer> {
  const sockets = new Set<Socket>();
  const server = createServer((request, response) => {
    options.handle(request, response).catch(() => {
      if (!response.headersSent) options.answerInternalError(response);
      else response.destroy();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
