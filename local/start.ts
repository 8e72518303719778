// `npm start`: the whole product on this machine — Azurite, Key Vault emulator, destination
// simulators, a demo lake, and the Functions host on :7071. Ctrl-C stops everything it started.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { signDevToken } from '../shared/auth/devToken.js';
import { SETTINGS } from '../shared/settings.js';
import { readLocalSettings, writeLocalSettings } from '../scripts/localSettings.js';
import { PROJECT_DIR, startStack, type RunningStack } from './stack.js';
import { startBanner } from './startBanner.js';

const HOST_PORT = 7071;

async function main(): Promise<void> {
  const localSettings = readLocalSettings(PROJECT_DIR);
  // A signing key of this machine's own, kept in the git-ignored local.settings.json.
  if (!localSettings.Values.AUTH_DEV_SIGNING_KEY) {
    localSettings.Values.AUTH_DEV_SIGNING_KEY = randomBytes(32).toString('base64url');
    writeLocalSettings(localSettings, PROJECT_DIR);
  }
  const signingKey = process.env.AUTH_DEV_SIGNING_KEY || localSettings.Values.AUTH_DEV_SIGNING_KEY;
  // The console link's one-time code (shared/console/localSignIn.ts): new at every start, traded once.
  const consoleSignInCode = randomBytes(24).toString('base64url');

  console.log('Starting Outflow locally: Azurite, Key Vault emulator, destination simulators, Functions host…');
  let stack: RunningStack | undefined;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping everything…`);
    await stack?.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  stack = await startStack({
    dataDir: join(PROJECT_DIR, '.outflow'),
    persistent: true,
    hostPort: HOST_PORT,
    azuritePorts: { blob: 10000, queue: 10001, table: 10002 },
    keyVaultPort: 8443,
    simulatorPorts: {
      CAMPAIGN_MONITOR_API_URL: 4010,
      ITERABLE_API_URL: 4011,
      DOTDIGITAL_API_URL: 4012,
      MAILCHIMP_API_URL: 4013,
      LINKEDIN_API_URL: 4014,
    },
    webhookReceiverPort: 4020,
    seedProfiles: 10_000,
    seedKind: 'b2c',
    invalidEmailRate: 0.002,
    authSigningKey: signingKey,
    settings: { CONSOLE_SIGN_IN_CODE: consoleSignInCode },
    hostOutput: 'inherit',
  });
  if (stopping) return;

  const token = await signDevToken({
    key: signingKey,
    role: 'admin',
    sub: 'alice',
    name: 'Alice (local admin)',
    issuer: process.env.AUTH_ISSUER || localSettings.Values.AUTH_ISSUER || SETTINGS.AUTH_ISSUER.default,
    audience: process.env.AUTH_AUDIENCE || localSettings.Values.AUTH_AUDIENCE || SETTINGS.AUTH_AUDIENCE.default,
  });
  console.log(
    startBanner({
      apiUrl: stack.apiUrl,
      consoleSignInCode,
      hostInstances: hostInstancesLine(),
      keyVaultUrl: stack.keyVault.url,
      simulators: stack.simulators,
      webhookReceiverUrl: stack.webhookReceiver.url,
      token,
    }),
  );
}

/** OUTFLOW_HOST_INSTANCES (environment, else local.settings.json) as the host reads it. */
function hostInstancesLine(): string {
  const count = Number(process.env.OUTFLOW_HOST_INSTANCES || readLocalSettings(PROJECT_DIR).Values.OUTFLOW_HOST_INSTANCES || 1);
  return count > 1
    ? `${count} instances on the same storage behind :${HOST_PORT} (OUTFLOW_HOST_INSTANCES)`
    : `1 instance (OUTFLOW_HOST_INSTANCES=N npm start for N)`;
}

main().catch((error: Error) => {
  console.error(`npm start failed: ${error.message}`);
  process.exit(1);
});
