// A per-caller request rate limit for the API: one token bucket per authenticated caller (the
// token's subject), in memory per host instance (so N instances allow up to N times the rate: a
// guard against one caller crowding out the others, not a quota). Generous on purpose: people
// and scripts working normally never meet it; one caller flooding the API gets 429 with
// Retry-After instead of slowing everyone else down. API_RATE_LIMIT sets it.
import type { HttpResponseInit } from '@azure/functions';
import { z } from 'zod';
import { setting } from '../settings.js';
import { problem } from './problem.js';

export interface CallerRateLimitOptions {
  /** Sustained requests per second per caller (the bucket's refill). */
  requestsPerSecond: number;
  /** Requests a caller may make at once after being idle (the bucket's size). */
  burst: number;
  /** Buckets kept at most; idle (full) ones are dropped first. */
  maxCallers: number;
}

export const DEFAULT_CALLER_RATE_LIMIT: CallerRateLimitOptions = { requestsPerSecond: 100, burst: 1_000, maxCallers: 10_000 };

const configuredLimit = z.object({ requestsPerSecond: z.number().positive(), burst: z.number().int().positive().optional() }).strict();

/** The API_RATE_LIMIT setting, e.g. {"requestsPerSecond":20,"burst":200} (burst defaults to 10 s worth); a bad value names the setting. */
export function callerRateLimitOptions(raw: string | undefined = setting('API_RATE_LIMIT')): CallerRateLimitOptions {
  if (raw === undefined) return DEFAULT_CALLER_RATE_LIMIT;
  let parsed: ReturnType<typeof configuredLimit.safeParse>;
  try {
    parsed = configuredLimit.safeParse(JSON.parse(raw));
  } catch {
    throw new Error(`API_RATE_LIMIT is not JSON; expected e.g. {"requestsPerSecond":100,"burst":1000}.`);
  }
  if (!parsed.success)
    throw new Error(
      `API_RATE_LIMIT is not valid: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || 'value'}: ${issue.message}`).join('; ')}.`,
    );
  const { requestsPerSecond, burst } = parsed.data;
  return { ...DEFAULT_CALLER_RATE_LIMIT, requestsPerSecond, burst: burst ?? Math.max(1, Math.ceil(requestsPerSecond * 10)) };
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export class CallerRateLimit {
  private readonly buckets = new Map<string, { tokens: number; updatedAt: number }>();

  constructor(
    readonly options: CallerRateLimitOptions = DEFAULT_CALLER_RATE_LIMIT,
    private readonly now: () => number = Date.now,
  ) {}

  /** Spends one request of `caller`'s budget, or says how long to wait for the next one. */
  take(caller: string): RateDecision {
    const now = this.now();
    const bucket = this.refilled(caller, now) ?? this.added(caller, now);
    if (bucket.tokens < 1) {
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.options.requestsPerSecond)) };
    }
    bucket.tokens -= 1;
    return { allowed: true };
  }

  get callers(): number {
    return this.buckets.size;
  }

  private refilled(caller: string, now: number) {
    const bucket = this.buckets.get(caller);
    if (!bucket) return undefined;
    bucket.tokens = Math.min(
      this.options.burst,
      bucket.tokens + (Math.max(0, now - bucket.updatedAt) / 1000) * this.options.requestsPerSecond,
    );
    bucket.updatedAt = now;
    return bucket;
  }

  private added(caller: string, now: number) {
    if (this.buckets.size >= this.options.maxCallers) this.forgetIdle(now);
    const bucket = { tokens: this.options.burst, updatedAt: now };
    this.buckets.set(caller, bucket);
    return bucket;
  }

  /** A full bucket holds no state worth keeping; if none is full, the longest-unused goes. */
  private forgetIdle(now: number): void {
    for (const [caller, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.updatedAt) / 1000) * this.options.requestsPerSecond >= this.options.burst)
        this.buckets.delete(caller);
    }
    while (this.buckets.size >= this.options.maxCallers) {
      let oldest: string | undefined;
      let oldestAt = Infinity;
      for (const [caller, bucket] of this.buckets) {
        if (bucket.updatedAt < oldestAt) [oldest, oldestAt] = [caller, bucket.updatedAt];
      }
      this.buckets.delete(oldest!);
    }
  }
}

export function tooManyRequests(retryAfterSeconds: number, options: CallerRateLimitOptions = DEFAULT_CALLER_RATE_LIMIT): HttpResponseInit {
  const response = problem(
    429,
    'Too many requests',
    `You sent more than ${options.requestsPerSecond} request${options.requestsPerSecond === 1 ? '' : 's'} per second for a while (bursts up to ${options.burst} are fine). Retry after ${retryAfterSeconds} s.`,
    { retryAfterSeconds },
    'https://outflow.dev/problems/too-many-requests',
  );
  response.headers = { ...(response.headers as Record<string, string>), 'retry-after': String(retryAfterSeconds) };
  return response;
}
