// Starts the real local stack for an integration test: in-memory Azurite, the Key Vault
// emulator, simulators and the Functions host as a child process. Keeps the host's log lines.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startStack, type RunningStack, type StackOptions } from '../../local/stack.js';
import { signDevToken } from '../../shared/auth/devToken.js';
import type { Role } from '../../shared/auth/principal.js';
import { ApiClient } from './apiClient.js';

export interface TestStack extends RunningStack {
  logs: string[];
  api: ApiClient;
  tokenFor(role: Role | Role[], sub?: string): Promise<string>;
}

export async function startTestStack(options: Partial<StackOptions> = {}): Promise<TestStack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'outflow-stack-'));
  const logs: string[] = [];
  const signingKey = randomBytes(32).toString('base64url');
  const stack = await startStack({
    dataDir,
    seedProfiles: 2_000,
    seedKind: 'b2c',
    hostOutput: (line) => {
      logs.push(line);
      if (process.env.OUTFLOW_TEST_VERBOSE) console.log(line);
    },
    authSigningKey: signingKey,
    ...options,
  });
  const tokenFor = (role: Role | Role[], sub = 'tester') =>
    signDevToken({ key: signingKey, role, sub, name: `Test ${sub}`, issuer: 'outflow-local', audience: 'outflow-api' });
  const api = new ApiClient(stack.apiUrl, await tokenFor('admin', 'alice'));
  const stop = stack.stop;
  return Object.assign(stack, {
    logs,
    api,
    tokenFor,
    stop: async () => {
      await stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  });
}
