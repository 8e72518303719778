// The Key Vault emulator driven by the real SecretClient (and the app's SecretStore over it), so
// the emulator is held to what the SDK actually sends and expects.
import { request } from 'node:https';
import { randomUUID } from 'node:crypto';
import { SecretClient } from '@azure/keyvault-secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKeyVaultEmulator, type KeyVaultEmulator } from '../../local/keyVaultEmulator.js';
import { createKeyVaultSecretStore, SecretStoreError, staticTokenCredential, type SecretStore } from '../../shared/secretStore.js';

const certPath = process.env.OUTFLOW_TEST_CERT_PATH!;
const keyPath = process.env.OUTFLOW_TEST_KEY_PATH!;
const token = `test-${randomUUID()}`;
// Every value written in this file, so the log test can look for all of them.
const writtenValues: string[] = [];
const secretValue = (label: string): string => {
  const value = `${label}-value-${randomUUID()}`;
  writtenValues.push(value);
  return value;
};
const uniqueName = (label: string): string => `${label}-${randomUUID().slice(0, 8)}`;

let emulator: KeyVaultEmulator;
let client: SecretClient;
let store: SecretStore;
const logLines: string[] = [];

// No retries: a 503 or 401 should surface at once rather than after the SDK's backoff.
const clientOptions = { disableChallengeResourceVerification: true, retryOptions: { maxRetries: 0 } };

async function restError(promise: Promise<unknown>): Promise<{ name: string; statusCode?: number; code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { name: string; statusCode?: number; code?: string };
  }
  throw new Error('expected the call to fail');
}

function plainRequest(
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${emulator.url}${path}`, { method: 'GET', headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  emulator = await startKeyVaultEmulator({ certPath, keyPath, port: 0, token, log: (line) => logLines.push(line) });
  client = new SecretClient(emulator.url, staticTokenCredential(token), clientOptions);
  store = createKeyVaultSecretStore(emulator.url, staticTokenCredential(token), clientOptions);
});

afterAll(async () => {
  await emulator?.stop();
});

describe('Key Vault emulator with the real SecretClient', () => {
  it('sets a secret and gets the latest version and a specific one', async () => {
    const name = uniqueName('conn');
    const first = secretValue('first');
    const second = secretValue('second');
    const v1 = await client.setSecret(name, first, { contentType: 'text/plain', tags: { owner: 'tests' } });
    expect(v1.value).toBe(first);
    expect(v1.properties.version).toMatch(/^[0-9a-f]{32}$/);
    expect(v1.properties.id).toBe(`${emulator.url}/secrets/${name}/${v1.properties.version}`);
    expect(v1.properties.vaultUrl).toBe(emulator.url);
    expect(v1.properties.enabled).toBe(true);
    expect(v1.properties.createdOn).toBeInstanceOf(Date);
    expect(v1.properties.recoveryLevel).toBe('Recoverable+Purgeable');
    expect(v1.properties.contentType).toBe('text/plain');
    expect(v1.properties.tags).toEqual({ owner: 'tests' });

    const v2 = await client.setSecret(name, second);
    expect(v2.properties.version).not.toBe(v1.properties.version);

    expect((await client.getSecret(name)).value).toBe(second);
    expect((await client.getSecret(name, { version: v1.properties.version! })).value).toBe(first);
    const missingVersion = await restError(client.getSecret(name, { version: '0'.repeat(32) }));
    expect(missingVersion).toMatchObject({ name: 'RestError', statusCode: 404, code: 'SecretNotFound' });
  });

  it('lists secrets in pages and lists the versions of one', async () => {
    const names = [uniqueName('list'), uniqueName('list'), uniqueName('list')];
    for (const name of names) await client.setSecret(name, secretValue('list'));
    await client.setSecret(names[0]!, secretValue('list-again'));

    const pages: string[][] = [];
    for await (const page of client.listPropertiesOfSecrets().byPage({ maxPageSize: 2 })) {
      pages.push(page.map((p) => p.name));
      for (const p of page) expect(p.id).toBe(`${emulator.url}/secrets/${p.name}`);
    }
    expect(pages.length).toBeGreaterThan(1);
    expect(pages.every((p) => p.length <= 2)).toBe(true);
    expect(pages.flat()).toEqual(expect.arrayContaining(names));

    const listed: string[] = [];
    for await (const properties of client.listPropertiesOfSecrets()) listed.push(properties.name);
    expect(listed).toEqual(expect.arrayContaining(names));
    expect(new Set(listed).size).toBe(listed.length);

    const versions: string[] = [];
    for await (const properties of client.listPropertiesOfSecretVersions(names[0]!)) {
      expect(properties.name).toBe(names[0]);
      versions.push(properties.version!);
    }
    expect(versions).toHaveLength(2);
    expect(new Set(versions).size).toBe(2);
  });

  it('updates properties, and refuses to get a disabled version', async () => {
    const name = uniqueName('update');
    const set = await client.setSecret(name, secretValue('update'));
    const updated = await client.updateSecretProperties(name, set.properties.version!, { enabled: false, tags: { a: 'b' } });
    expect(updated.enabled).toBe(false);
    expect(updated.tags).toEqual({ a: 'b' });
    expect(await restError(client.getSecret(name))).toMatchObject({ statusCode: 403, code: 'Forbidden' });
  });

  it('deletes (soft), blocks reuse of the name until purged, then purges', async () => {
    const name = uniqueName('delete');
    await client.setSecret(name, secretValue('delete'));
    const poller = await client.beginDeleteSecret(name);
    const deletedSecret = await poller.pollUntilDone();
    expect(deletedSecret.name).toBe(name);
    expect(deletedSecret.recoveryId).toBe(`${emulator.url}/deletedsecrets/${name}`);
    expect(deletedSecret.deletedOn).toBeInstanceOf(Date);
    expect(deletedSecret.scheduledPurgeDate!.getTime()).toBeGreaterThan(Date.now());
    expect(deletedSecret.value).toBeUndefined();

    expect(await restError(client.getSecret(name))).toMatchObject({ name: 'RestError', statusCode: 404, code: 'SecretNotFound' });
    expect((await client.getDeletedSecret(name)).name).toBe(name);
    expect(await restError(client.setSecret(name, secretValue('reuse')))).toMatchObject({ statusCode: 409, code: 'Conflict' });

    await client.purgeDeletedSecret(name);
    expect(await restError(client.getDeletedSecret(name))).toMatchObject({ statusCode: 404, code: 'SecretNotFound' });
    const again = secretValue('after-purge');
    await client.setSecret(name, again);
    expect((await client.getSecret(name)).value).toBe(again);
  });

  it('answers an invalid name with 400 BadParameter', async () => {
    expect(await restError(client.setSecret('not_valid', secretValue('invalid')))).toMatchObject({ statusCode: 400, code: 'BadParameter' });
    expect(await restError(client.getSecret('x'.repeat(128)))).toMatchObject({ statusCode: 400, code: 'BadParameter' });
  });
});

describe('Key Vault emulator authentication', () => {
  it('challenges a request without a token', async () => {
    const res = await plainRequest('/secrets?api-version=2025-07-01');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(
      'Bearer authorization="https://login.microsoftonline.com/common", resource="https://vault.azure.net"',
    );
  });

  it('rejects a wrong token, over plain HTTPS and through SecretClient', async () => {
    const res = await plainRequest('/secrets?api-version=2025-07-01', { authorization: 'Bearer wrong' });
    expect(res.status).toBe(401);
    const right = await plainRequest('/secrets?api-version=2025-07-01', { authorization: `Bearer ${token}` });
    expect(right.status).toBe(200);

    const wrongClient = new SecretClient(emulator.url, staticTokenCredential(`${token}-wrong`), clientOptions);
    expect(await restError(wrongClient.getSecret('anything'))).toMatchObject({ name: 'RestError', statusCode: 401 });
  });
});

describe('SecretStore over the emulator', () => {
  it('sets, gets, deletes, and tolerates missing secrets', async () => {
    const name = uniqueName('store');
    const value = secretValue('store');
    await store.set(name, value);
    expect(await store.get(name)).toBe(value);
    await store.delete(name);
    expect(await store.get(name)).toBeUndefined();
    await store.delete(name); // already deleted
    await store.delete(uniqueName('never-existed'));
    expect(await store.get(uniqueName('never-existed'))).toBeUndefined();
  });

  it('refuses an invalid name before calling the vault', async () => {
    const before = logLines.length;
    await expect(store.set('no spaces', secretValue('bad-name'))).rejects.toMatchObject({ name: 'SecretStoreError', code: 'BadParameter' });
    expect(logLines.length).toBe(before);
  });

  it('reports a conflict on a deleted name without the value', async () => {
    const name = uniqueName('conflict');
    await store.set(name, secretValue('conflict'));
    await store.delete(name);
    const value = secretValue('conflict-again');
    const error = await restError(store.set(name, value));
    expect(error).toBeInstanceOf(SecretStoreError);
    expect(error).toMatchObject({ statusCode: 409, code: 'Conflict', retriable: false, operation: 'set', secretName: name });
    expect(JSON.stringify(error) + String(error) + (error as Error).stack).not.toContain(value);
  });
});

describe('Key Vault emulator faults', () => {
  it('answers 503 while unavailable, and recovers', async () => {
    const name = uniqueName('outage');
    const value = secretValue('outage');
    await store.set(name, value);
    emulator.setAvailable(false);
    try {
      expect(await restError(client.getSecret(name))).toMatchObject({ name: 'RestError', statusCode: 503 });
      const error = await restError(store.get(name));
      expect(error).toMatchObject({ name: 'SecretStoreError', statusCode: 503, retriable: true });
      expect((await plainRequest('/secrets?api-version=2025-07-01')).status).toBe(503);
    } finally {
      emulator.setAvailable(true);
    }
    expect(await store.get(name)).toBe(value);
  });
});

describe('Key Vault emulator log', () => {
  it('logs method, path and status, and never a secret value', async () => {
    const name = uniqueName('logged');
    const value = secretValue('logged');
    const before = logLines.length;
    await client.setSecret(name, value);
    await client.getSecret(name);
    const lines = logLines.slice(before);
    expect(lines).toContain(`PUT /secrets/${name} 200`);
    expect(lines).toContain(`GET /secrets/${name}/ 200`);

    // Across everything this file did: sets, gets, updates, deletes, conflicts, faults.
    expect(logLines.length).toBeGreaterThan(20);
    for (const line of logLines) {
      expect(line).toMatch(/^(GET|PUT|PATCH|DELETE|POST) \/\S* \d{3}$/);
      for (const written of writtenValues) expect(line).not.toContain(written);
    }
  });
});
