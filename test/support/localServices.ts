// The storage (and, when asked, Key Vault) behind a test file that calls the domain in-process:
// in-memory Azurite and the Key Vault emulator started once for the file, the app's settings
// pointed at them, and everything put back after the file. The whole stack with the Functions
// host is startTestStack (testStack.ts).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../local/azurite.js';
import { startKeyVaultEmulator, type KeyVaultEmulator } from '../../local/keyVaultEmulator.js';

export interface LocalServices {
  /** Set once the file's beforeAll has run. */
  azurite: RunningAzurite;
  /** Set once the file's beforeAll has run, when asked for (`keyVault: true`). */
  keyVault: KeyVaultEmulator;
}

export interface LocalServicesOptions {
  /** Starts the Key Vault emulator too, and sets KEY_VAULT_URL and KEY_VAULT_LOCAL_TOKEN. */
  keyVault?: boolean;
  /** Further settings for the file, put back after it like the others. */
  env?: Record<string, string>;
  /** Leaves AzureWebJobsStorage alone: the file hands the connection string to clients itself. */
  keepStorageSetting?: boolean;
}

/**
 * Registers the file's beforeAll/afterAll for its local services and returns them (filled in by
 * the beforeAll; hooks the file registers after this call see them started).
 */
export function useLocalServices(options: LocalServicesOptions = {}): LocalServices {
  const services = {} as LocalServices;
  const saved = { ...process.env };
  const names: string[] = [];

  beforeAll(async () => {
    services.azurite = await startAzurite();
    const settings: Record<string, string> = {};
    if (!options.keepStorageSetting) settings.AzureWebJobsStorage = services.azurite.connectionString;
    if (options.keyVault) {
      const token = `test-${randomUUID()}`;
      services.keyVault = await startKeyVaultEmulator({
        certPath: process.env.OUTFLOW_TEST_CERT_PATH!,
        keyPath: process.env.OUTFLOW_TEST_KEY_PATH!,
        port: 0,
        token,
      });
      Object.assign(settings, { KEY_VAULT_URL: services.keyVault.url, KEY_VAULT_LOCAL_TOKEN: token });
    }
    Object.assign(settings, options.env);
    names.push(...Object.keys(settings));
    Object.assign(process.env, settings);
  });

  afterAll(async () => {
    for (const name of names) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
    await services.keyVault?.stop();
    await services.azurite?.stop();
  });

  return services;
}
