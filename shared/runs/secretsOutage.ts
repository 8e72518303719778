// Key Vault out of reach is an outage to wait out, not a reason to fail a run: the work is put
// back on its queue for later, outside the queue's own five attempts (spent in about a minute,
// the SecretClient's retries included), until the outage has lasted longer than any run should wait.
import { sendQueueMessage } from '../storage/clients.js';
import { SecretStoreError } from '../secretStore.js';

/** How long a run waits for Key Vault to answer again before its work fails with the reason. */
export const SECRETS_OUTAGE_LIMIT_MS = 15 * 60_000;
/** How often waiting work asks Key Vault again. */
export const SECRETS_RETRY_SECONDS = 15;

export interface WaitsForSecrets {
  /** When this piece of work first found Key Vault out of reach (epoch ms); absent while it answers. */
  secretsUnavailableSince?: number;
}

/**
 * When `error` says Key Vault could not be reached, queues `message` again for a later try and
 * returns true; false when the error is another one, or the outage has lasted too long.
 */
export async function deferWhileSecretsUnavailable(
  queueName: string,
  message: WaitsForSecrets,
  error: unknown,
  now = Date.now(),
): Promise<boolean> {
  if (!(error instanceof SecretStoreError) || !error.retriable) return false;
  const since = message.secretsUnavailableSince ?? now;
  if (now - since >= SECRETS_OUTAGE_LIMIT_MS) return false;
  await sendQueueMessage(queueName, { ...message, secretsUnavailableSince: since }, { visibilityTimeoutSeconds: SECRETS_RETRY_SECONDS });
  return true;
}

export function secretsOutageNote(message: WaitsForSecrets, now = Date.now()): string {
  const seconds = Math.round((now - (message.secretsUnavailableSince ?? now)) / 1000);
  return `Key Vault cannot be reached${seconds ? ` (for ${seconds} s)` : ''}; trying again in ${SECRETS_RETRY_SECONDS} s, for up to ${SECRETS_OUTAGE_LIMIT_MS / 60_000} minutes.`;
}
