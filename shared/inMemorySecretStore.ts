// A SecretStore fake for unit tests. It checks names like Key Vault does, so a test catches a
// name the real vault would refuse.
import { assertSecretName, type SecretStore } from './secretStore.js';

export class InMemorySecretStore implements SecretStore {
  private readonly values = new Map<string, string>();

  async set(name: string, value: string): Promise<void> {
    assertSecretName('set', name);
    this.values.set(name, value);
  }

  async get(name: string): Promise<string | undefined> {
    assertSecretName('get', name);
    return this.values.get(name);
  }

  async delete(name: string): Promise<void> {
    assertSecretName('delete', name);
    this.values.delete(name);
  }

  /** Names currently held, sorted: for assertions that secrets were written or cleaned up. */
  names(): string[] {
    return [...this.values.keys()].sort();
  }
}
