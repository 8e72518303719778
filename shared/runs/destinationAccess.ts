// Resolves what a sender needs to call a destination: the adapter, settings, and the secrets from
// Key Vault, cached briefly so thousands of batches do not each read Key Vault.
import { z } from 'zod';
import { setting } from '../settings.js';
import { getConnection } from '../connections/connectionStore.js';
import { apiOriginFor, readSecrets } from '../connections/manageConnections.js';
import type { ConnectionRecord } from '../connections/connection.js';
import type { DestinationAdapter, DestinationCall } from '../destinations/destination.js';
import { destinationFor } from '../destinations/registry.js';
import { SecretStoreError } from '../secretStore.js';
import { rememberSecret } from '../observability/log.js';

const SECRET_TTL_MS = 60_000;
/** While Key Vault is unreachable, how often a sender asks it again. */
const STALE_SECRET_RETRY_MS = 10_000;
const secretCache = new Map<string, { value: Record<string, string>; expiresAt: number }>();

/** A connection's request rate, shared by every sender of every run (see segmentSender/rateBudget.ts). */
export interface RateLimit {
  requestsPerSecond: number;
  burst: number;
}

export interface DestinationAccess {
  connection: ConnectionRecord;
  destination: DestinationAdapter;
  call: DestinationCall;
  rateLimit: RateLimit;
}

async function secretsOf(connection: ConnectionRecord, fresh: boolean): Promise<Record<string, string>> {
  const cached = secretCache.get(connection.secretName);
  if (!fresh && cached && cached.expiresAt > Date.now()) return cached.value;
  let value: Record<string, string>;
  try {
    value = await readSecrets(connection);
  } catch (error) {
    // Key Vault unreachable for a while: the secrets last read are still the best guess, and a
    // rotated one shows as an auth error from the vendor, which asks again (fresh) before failing.
    if (!fresh && cached && error instanceof SecretStoreError && error.retriable) {
      // Kept a little longer, so the senders starting meanwhile do not each wait on Key Vault.
      cached.expiresAt = Date.now() + STALE_SECRET_RETRY_MS;
      return cached.value;
    }
    throw error;
  }
  // So a vendor error that echoes a credential is redacted from the logs.
  Object.values(value).forEach(rememberSecret);
  secretCache.set(connection.secretName, { value, expiresAt: Date.now() + SECRET_TTL_MS });
  return value;
}

const rateOverride = z.record(
  z.string(),
  z.object({
    requestsPerSecond: z.number().positive(),
    burst: z.number().int().positive().optional(),
    maxConcurrentRequests: z.number().int().positive().optional(),
  }),
);

function rateOverrides(): z.infer<typeof rateOverride> {
  const raw = setting('DESTINATION_RATE_LIMITS');
  if (!raw) return {};
  const parsed = rateOverride.safeParse(JSON.parse(raw));
  if (!parsed.success) throw new Error(`DESTINATION_RATE_LIMITS is not valid: ${parsed.error.message}`);
  return parsed.data;
}

/** Calls in flight at once per connection: the adapter's limit, or the operator's DESTINATION_RATE_LIMITS entry (a contract with more). */
export function destinationConcurrency(destination: DestinationAdapter): number | undefined {
  return rateOverrides()[destination.type]?.maxConcurrentRequests ?? destination.limits.maxConcurrentRequests;
}

/** The destination's rate: its adapter's default, or the operator's DESTINATION_RATE_LIMITS entry. */
export function destinationRateLimit(destination: DestinationAdapter): RateLimit {
  const own = rateOverrides()[destination.type];
  if (own) return { requestsPerSecond: own.requestsPerSecond, burst: own.burst ?? Math.max(1, Math.ceil(own.requestsPerSecond)) };
  return { requestsPerSecond: destination.limits.requestsPerSecond, burst: destination.limits.burst };
}

/** The destination's rate, lowered (never raised) by the connection's `limits.requestsPerSecond`. */
export function rateLimitFor(destination: DestinationAdapter, connection: ConnectionRecord): RateLimit {
  const base = destinationRateLimit(destination);
  const own = Number(connection.limits?.requestsPerSecond);
  if (!(Number.isFinite(own) && own > 0 && own < base.requestsPerSecond)) return base;
  return { requestsPerSecond: own, burst: Math.max(1, Math.min(base.burst, Math.ceil(own))) };
}

/** `fresh` re-reads the secrets (after an auth failure: the secret may have been rotated). */
export async function destinationAccess(
  connectionId: string,
  details: Record<string, unknown>,
  options: { fresh?: boolean; signal?: AbortSignal } = {},
): Promise<DestinationAccess> {
  const connection = await getConnection(connectionId);
  const destination = destinationFor(connection.type);
  return {
    connection,
    destination,
    rateLimit: rateLimitFor(destination, connection),
    call: {
      settings: connection.settings,
      secrets: await secretsOf(connection, options.fresh ?? false),
      details,
      apiOrigin: apiOriginFor(destination),
      signal: options.signal,
    },
  };
}
