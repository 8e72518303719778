// Key Vault out of reach is waited out, within a bound; other errors are not. The deferral itself
// (a message queued again) is exercised over the real stack by the fault matrix's "Key Vault
// unavailable as the run starts" row, which `npm test` runs in its ci profile.
import { describe, expect, it } from 'vitest';
import { deferWhileSecretsUnavailable, SECRETS_OUTAGE_LIMIT_MS, secretsOutageNote } from '../../shared/runs/secretsOutage.js';
import { SecretStoreError } from '../../shared/secretStore.js';

const unreachable = new SecretStoreError('get', 'connection-abc', 'Key Vault did not answer.', 503);
const now = Date.parse('2026-11-23T12:00:00Z');

describe('waiting out a Key Vault outage', () => {
  it('does not defer errors that waiting cannot fix', async () => {
    const refused = new SecretStoreError('get', 'connection-abc', 'Forbidden.', 403, 'Forbidden');
    expect(refused.retriable).toBe(false);
    expect(await deferWhileSecretsUnavailable('export-chunks', {}, refused, now)).toBe(false);
    expect(await deferWhileSecretsUnavailable('export-chunks', {}, new Error('Lake partition changed'), now)).toBe(false);
  });

  it('stops waiting once the outage has lasted its limit, so the work fails with the reason', async () => {
    expect(unreachable.retriable).toBe(true);
    const message = { exportId: 'e', runId: 'r', chunkId: 'c', secretsUnavailableSince: now - SECRETS_OUTAGE_LIMIT_MS };
    expect(await deferWhileSecretsUnavailable('export-chunks', message, unreachable, now)).toBe(false);
  });

  it('says how long Key Vault has been out of reach and how long it will be waited for', () => {
    expect(secretsOutageNote({ secretsUnavailableSince: now - 42_000 }, now)).toBe(
      'Key Vault cannot be reached (for 42 s); trying again in 15 s, for up to 15 minutes.',
    );
    expect(secretsOutageNote({}, now)).toBe('Key Vault cannot be reached; trying again in 15 s, for up to 15 minutes.');
  });
});
