// npm run -s seed -- --profiles N --kind b2c|b2b [--seed S] [--invalid-email-rate R]
// Replaces the lake of the running local stack with a newly generated one. Storage comes from
// AzureWebJobsStorage (environment first, then ./local.settings.json), the container from
// LAKE_CONTAINER.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { BlobServiceClient } from '@azure/storage-blob';
import { azuriteConnectionString } from '../local/azurite.js';
import { setting } from '../shared/settings.js';
import { LAKE_KINDS, type LakeKind } from '../local/demoData/generateProfiles.js';
import { seedLake, type SeedProgress } from '../local/demoData/seedLake.js';

const USAGE = `usage: npm run -s seed -- --profiles N --kind b2c|b2b [--seed S] [--invalid-email-rate R] [--rows-per-partition N]

  --profiles N             profiles (b2c) or contacts (b2b) to generate; b2b adds one account per ten contacts
  --kind b2c|b2b           individual consumers, or business contacts and accounts (default b2c)
  --seed S                 integer seed; the same seed gives the same data (default 1)
  --invalid-email-rate R   share of invalid emails, 0..1 (default 0)
  --rows-per-partition N   rows per CSV partition (default 250000)`;

class UsageError extends Error {}

interface Arguments {
  profiles: number;
  kind: LakeKind;
  seed: number;
  invalidEmailRate: number;
  rowsPerPartition?: number;
}

function parseArguments(argv: string[]): Arguments | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        profiles: { type: 'string' },
        kind: { type: 'string', default: 'b2c' },
        seed: { type: 'string', default: '1' },
        'invalid-email-rate': { type: 'string', default: '0' },
        'rows-per-partition': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return 'help';
  const integer = (name: string, text: string | undefined, min: number): number => {
    const value = Number(text?.replace(/[_,]/g, ''));
    if (text === undefined || text.trim() === '' || !Number.isSafeInteger(value) || value < min) {
      throw new UsageError(`--${name} must be an integer of at least ${min}${text === undefined ? '' : `, got '${text}'`}.`);
    }
    return value;
  };
  if (values.profiles === undefined) throw new UsageError('--profiles is required.');
  const kind = values.kind as LakeKind;
  if (!LAKE_KINDS.includes(kind)) throw new UsageError(`--kind must be b2c or b2b, got '${values.kind}'.`);
  const rate = Number(values['invalid-email-rate']);
  if (values['invalid-email-rate'].trim() === '' || !Number.isFinite(rate) || rate < 0 || rate > 1) {
    throw new UsageError(`--invalid-email-rate must be a number from 0 to 1, got '${values['invalid-email-rate']}'.`);
  }
  return {
    profiles: integer('profiles', values.profiles, 1),
    kind,
    seed: integer('seed', values.seed, 0),
    invalidEmailRate: rate,
    rowsPerPartition:
      values['rows-per-partition'] === undefined ? undefined : integer('rows-per-partition', values['rows-per-partition'], 1),
  };
}

/**
 * Puts ./local.settings.json Values into the environment where it has none, as the Functions
 * host does with app settings, so setting() sees them and the environment still wins.
 */
function loadLocalSettings(): void {
  let text: string;
  try {
    text = readFileSync('local.settings.json', 'utf8');
  } catch {
    return;
  }
  let values: Record<string, unknown>;
  try {
    values = (JSON.parse(text) as { Values?: Record<string, unknown> }).Values ?? {};
  } catch (error) {
    throw new UsageError(`local.settings.json is not valid JSON: ${(error as Error).message}`);
  }
  for (const [name, value] of Object.entries(values)) {
    if (typeof value === 'string' && process.env[name] === undefined) process.env[name] = value;
  }
}

function storageConnection(): string {
  const connection = setting('AzureWebJobsStorage');
  if (!connection) {
    throw new UsageError('No storage configured: set AzureWebJobsStorage in the environment or in local.settings.json (Values).');
  }
  // Azurite on its default ports, as the Functions tooling reads this shorthand.
  return connection.trim() === 'UseDevelopmentStorage=true' ? azuriteConnectionString(10000, 10001, 10002) : connection;
}

function isUnreachable(error: unknown): boolean {
  const { code, statusCode } = error as { code?: string; statusCode?: number };
  return (
    statusCode === undefined &&
    (code === 'ECONNREFUSED' ||
      code === 'ENOTFOUND' ||
      code === 'ECONNRESET' ||
      code === 'ETIMEDOUT' ||
      code === 'REQUEST_SEND_ERROR' ||
      code === 'EHOSTUNREACH')
  );
}

const number = (value: number) => Math.round(value).toLocaleString('en-US');

async function main(): Promise<number> {
  let args: Arguments | 'help';
  let connection: string;
  let containerName: string;
  try {
    args = parseArguments(process.argv.slice(2));
    if (args === 'help') {
      console.log(USAGE);
      return 0;
    }
    loadLocalSettings();
    connection = storageConnection();
    containerName = setting('LAKE_CONTAINER')!;
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`seed: ${error.message}\n\n${USAGE}`);
      return 1;
    }
    throw error;
  }

  let service: BlobServiceClient;
  try {
    // Few, short retries: an unreachable emulator should fail in a second, not after a minute.
    service = BlobServiceClient.fromConnectionString(connection, {
      retryOptions: { maxTries: 3, retryDelayInMs: 200, maxRetryDelayInMs: 1000 },
    });
  } catch (error) {
    console.error(`seed: AzureWebJobsStorage is not a usable connection string: ${(error as Error).message}`);
    return 1;
  }
  const containerClient = service.getContainerClient(containerName);
  try {
    await containerClient.createIfNotExists();
  } catch (error) {
    const reason = isUnreachable(error)
      ? `storage is not reachable at ${service.url} (${(error as { code?: string }).code}). Is the local stack running (npm start)?`
      : `cannot use container '${containerName}' at ${service.url}: ${(error as Error).message.split('\n')[0]}`;
    console.error(`seed: ${reason}`);
    return 1;
  }

  const interactive = process.stderr.isTTY === true;
  const report = (progress: SeedProgress, final = false) => {
    const seconds = Math.max(progress.elapsedMs, 1) / 1000;
    const line = `seeding ${containerName}: ${number(progress.generated)}/${number(progress.toGenerate)} generated, ${number(progress.rows)} rows, ${number(progress.rows / seconds)} rows/s`;
    process.stderr.write(interactive ? `\r${line}${final ? '\n' : ''}` : `${line}\n`);
  };
  let last: SeedProgress | undefined;
  try {
    const result = await seedLake({
      containerClient,
      profiles: args.profiles,
      kind: args.kind,
      seed: args.seed,
      invalidEmailRate: args.invalidEmailRate,
      rowsPerPartition: args.rowsPerPartition,
      onProgress: (progress) => {
        last = progress;
        report(progress);
      },
    });
    if (last && interactive) report(last, true);
    const seconds = result.elapsedMs / 1000;
    console.log(
      `Seeded a ${result.kind} lake in container '${containerName}' (generation ${result.generation}, seed ${result.seed}): ` +
        `${number(result.rows)} rows, ${(result.bytes / 1024 / 1024).toFixed(1)} MiB in ${seconds.toFixed(1)} s (${number(result.rows / seconds)} rows/s).`,
    );
    for (const entity of result.entities) {
      const label = entity.segment ? `segment '${entity.segment.name}' (${entity.segment.type})` : 'entity';
      console.log(
        `  ${entity.name.padEnd(30)} ${number(entity.rows).padStart(11)} rows  ${String(entity.partitions.length).padStart(3)} partition(s)  ${label}`,
      );
    }
    if (result.removedGenerations.length > 0) console.log(`Removed old generation(s): ${result.removedGenerations.join(', ')}`);
    return 0;
  } catch (error) {
    if (interactive) process.stderr.write('\n');
    const reason = isUnreachable(error)
      ? `storage became unreachable at ${service.url} (${(error as { code?: string }).code})`
      : (error as Error).message.split('\n')[0];
    console.error(`seed: failed: ${reason}`);
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`seed: ${(error as Error).message}`);
    process.exit(1);
  },
);
