// Lake seeding benchmark: seeds N profiles into a fresh in-memory Azurite and reports wall time,
// throughput and this process's peak memory (Azurite runs in its own process and is not counted).
//   node dist/bench/seedLake.js --profiles 1000000 [--kind b2c|b2b] [--rows-per-partition N]
import { parseArgs } from 'node:util';
import { cpus } from 'node:os';
import { BlobServiceClient } from '@azure/storage-blob';
import { startAzurite } from '../local/azurite.js';
import { seedLake } from '../local/demoData/seedLake.js';
import type { LakeKind } from '../local/demoData/generateProfiles.js';

const { values } = parseArgs({
  options: {
    profiles: { type: 'string', default: '100000' },
    kind: { type: 'string', default: 'b2c' },
    seed: { type: 'string', default: '1' },
    'rows-per-partition': { type: 'string' },
  },
});
const profiles = Number(values.profiles);
const kind = values.kind as LakeKind;
if (!Number.isSafeInteger(profiles) || profiles < 1 || (kind !== 'b2c' && kind !== 'b2b')) {
  console.error('usage: node dist/bench/seedLake.js --profiles N [--kind b2c|b2b] [--seed S] [--rows-per-partition N]');
  process.exit(1);
}

const azurite = await startAzurite();
let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
try {
  const containerClient = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('lake');
  await containerClient.createIfNotExists();
  const started = performance.now();
  const result = await seedLake({
    containerClient,
    profiles,
    kind,
    seed: Number(values.seed),
    rowsPerPartition: values['rows-per-partition'] ? Number(values['rows-per-partition']) : undefined,
  });
  const seconds = (performance.now() - started) / 1000;
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);
  const report = {
    kind,
    profiles,
    rows: result.rows,
    bytes: result.bytes,
    partitions: result.entities.reduce((sum, entity) => sum + entity.partitions.length, 0),
    wallSeconds: Number(seconds.toFixed(2)),
    rowsPerSecond: Math.round(result.rows / seconds),
    profilesPerSecond: Math.round(profiles / seconds),
    peakRssMiB: Number(mib(peakRss)),
    maxRssMiB: Number(mib(process.resourceUsage().maxRSS * 1024)),
    node: process.version,
    cores: cpus().length,
  };
  console.log(
    `${kind} ${profiles.toLocaleString('en-US')} profiles: ${result.rows.toLocaleString('en-US')} rows, ${mib(result.bytes)} MiB in ${report.partitions} partitions, ` +
      `${report.wallSeconds} s, ${report.rowsPerSecond.toLocaleString('en-US')} rows/s (${report.profilesPerSecond.toLocaleString('en-US')} profiles/s), ` +
      `peak RSS ${report.peakRssMiB} MiB (sampled), maxRSS ${report.maxRssMiB} MiB`,
  );
  for (const entity of result.entities) {
    console.log(
      `  ${entity.name.padEnd(30)} ${String(entity.rows).padStart(9)} rows ${mib(entity.bytes).padStart(5)} MiB ${entity.partitions.length} partition(s)`,
    );
  }
  console.log(JSON.stringify(report));
} finally {
  clearInterval(sampler);
  await azurite.stop();
}
