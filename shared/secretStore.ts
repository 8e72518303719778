// The secret store port: connection credentials live in Key Vault, reached through the real
// SecretClient (locally against the emulator in local/keyVaultEmulator.ts). Errors carry the
// operation, secret name and status, never a value: the SDK's RestError holds the request body
// (the value, for a set), so it is not attached as a cause.
import { DefaultAzureCredential, type AccessToken, type TokenCredential } from '@azure/identity';
import { SecretClient, type SecretClientOptions } from '@azure/keyvault-secrets';
import { requiredSetting, setting } from './settings.js';

export interface SecretStore {
  set(name: string, value: string): Promise<void>;
  /** undefined when the secret does not exist (or is deleted). */
  get(name: string): Promise<string | undefined>;
  /** Soft-deletes the secret and waits until the deletion is done; a missing secret is fine. */
  delete(name: string): Promise<void>;
}

/** Key Vault secret names: 1-127 letters, digits and dashes. */
export const SECRET_NAME_PATTERN = /^[0-9a-zA-Z-]{1,127}$/;

export type SecretOperation = 'set' | 'get' | 'delete';

export class SecretStoreError extends Error {
  override readonly name = 'SecretStoreError';
  /** Worth retrying later: no answer, a timeout, throttling or a server-side failure. */
  readonly retriable: boolean;

  constructor(
    readonly operation: SecretOperation,
    readonly secretName: string,
    message: string,
    /** HTTP status from Key Vault, when there was an answer. */
    readonly statusCode?: number,
    /** Key Vault error code, e.g. Conflict, Forbidden, BadParameter. */
    readonly code?: string,
  ) {
    super(message);
    this.retriable = statusCode === undefined || statusCode === 408 || statusCode === 429 || statusCode >= 500;
  }
}

export function assertSecretName(operation: SecretOperation, name: string): void {
  if (!SECRET_NAME_PATTERN.test(name)) {
    throw new SecretStoreError(
      operation,
      name,
      `Cannot ${operation} secret: invalid name ${JSON.stringify(name)} (1-127 of 0-9, a-z, A-Z, -).`,
      undefined,
      'BadParameter',
    );
  }
}

/** A credential that always returns one token: for the local emulator, which accepts only that. */
export function staticTokenCredential(token: string): TokenCredential {
  return {
    async getToken(): Promise<AccessToken> {
      // Always an hour ahead, so the SDK's token cycler never tries to refresh it.
      return { token, expiresOnTimestamp: Date.now() + 3_600_000 };
    },
  };
}

interface ErrorLike {
  statusCode?: unknown;
  code?: unknown;
  message?: unknown;
}

function toStoreError(operation: SecretOperation, name: string, error: unknown, value?: string): SecretStoreError {
  const e = (typeof error === 'object' && error !== null ? error : {}) as ErrorLike;
  const statusCode = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const code = typeof e.code === 'string' ? e.code : undefined;
  let detail = typeof e.message === 'string' ? e.message : String(error);
  // Defence in depth: no service is expected to echo a value, but if one did it stays out.
  if (value) detail = detail.split(value).join('[redacted]');
  const status = statusCode !== undefined ? ` (${statusCode}${code ? ` ${code}` : ''})` : code ? ` (${code})` : '';
  return new SecretStoreError(operation, name, `Key Vault ${operation} of secret ${name} failed${status}: ${detail}`, statusCode, code);
}

const isNotFound = (error: unknown): boolean => typeof error === 'object' && error !== null && (error as ErrorLike).statusCode === 404;

/**
 * A SecretStore over Key Vault. Without a credential it uses DefaultAzureCredential (managed
 * identity in Azure). `options` go to SecretClient, e.g. `disableChallengeResourceVerification`
 * for a local emulator whose host is not *.vault.azure.net, or `retryOptions`.
 */
export function createKeyVaultSecretStore(vaultUrl: string, credential?: TokenCredential, options?: SecretClientOptions): SecretStore {
  const client = new SecretClient(vaultUrl, credential ?? new DefaultAzureCredential(), options);
  return {
    async set(name, value) {
      assertSecretName('set', name);
      try {
        await client.setSecret(name, value);
      } catch (error) {
        throw toStoreError('set', name, error, value);
      }
    },
    async get(name) {
      assertSecretName('get', name);
      try {
        const secret = await client.getSecret(name);
        return secret.value;
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw toStoreError('get', name, error);
      }
    },
    async delete(name) {
      assertSecretName('delete', name);
      try {
        const poller = await client.beginDeleteSecret(name);
        await poller.pollUntilDone();
      } catch (error) {
        // Missing, or already deleted: the outcome the caller wants.
        if (isNotFound(error)) return;
        throw toStoreError('delete', name, error);
      }
    },
  };
}

// One client per vault (and local token): SecretClient keeps connections and the challenge state.
const storesByVault = new Map<string, SecretStore>();

/**
 * The SecretStore the app uses: KEY_VAULT_URL, with the emulator's static token when
 * KEY_VAULT_LOCAL_TOKEN is set, otherwise DefaultAzureCredential (the user-assigned managed
 * identity from AZURE_CLIENT_ID when set).
 */
export function secretStoreFromSettings(): SecretStore {
  const vaultUrl = requiredSetting('KEY_VAULT_URL');
  const localToken = setting('KEY_VAULT_LOCAL_TOKEN');
  const key = `${vaultUrl}\n${localToken ?? ''}`;
  let store = storesByVault.get(key);
  if (!store) {
    if (localToken) {
      store = createKeyVaultSecretStore(vaultUrl, staticTokenCredential(localToken), {
        // The emulator answers from 127.0.0.1, not a *.vault.azure.net host.
        disableChallengeResourceVerification: true,
      });
    } else {
      const clientId = setting('AZURE_CLIENT_ID');
      store = createKeyVaultSecretStore(vaultUrl, new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : undefined));
    }
    storesByVault.set(key, store);
  }
  return store;
}
