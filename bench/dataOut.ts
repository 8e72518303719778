// Times data-out exports end to end through the real local stack (the Functions host as a child
// process, Azurite for the lake, the queues, the tables and the destination container):
//   node dist/bench/dataOut.js --profiles 1000000 [--change-rate 0.01]
// 1. a full export of UnifiedCustomerProfile; 2. an incremental export's first (full) run, which
// also keeps the row-hash snapshot; 3. after changing a share of the lake's rows (updates, plus a
// fifth as many deletes and inserts), its incremental run. Prints wall time, MB/s (lake CSV read
// and CSV written), rows/s and the host's peak RSS after each, as JSON.
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { startStack } from '../local/stack.js';
import { WORKER_ARGUMENTS_SETTING } from '../local/host/workerArguments.js';
import { DEV_ACCOUNT } from '../local/azurite.js';
import { adminApi } from './benchApi.js';
import { partitionBlobs, readModel } from '../shared/lake/lakeReader.js';
import { changeLakeEntity } from './lakeChanges.js';
import { listChunks, type ChunkState } from '../shared/runs/runLedger.js';
import { stepOf } from '../shared/dataOut/dataOutPlan.js';

const { values } = parseArgs({
  options: {
    profiles: { type: 'string', default: '1000000' },
    'change-rate': { type: 'string', default: '0.01' },
    // The host instances' V8 old space (MB) in place of the default cap (local/host/workerArguments.ts): a lower one shows what memory the work needs, not what the GC lets grow.
    'host-heap-mb': { type: 'string' },
  },
});
const profiles = Number(values.profiles);
const changeRate = Number(values['change-rate']);
const ENTITY = 'UnifiedCustomerProfile';
const MB = 1024 * 1024;

/** VmHWM: the process's peak resident set size so far; VmRSS: now. */
function memoryMb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Math.round(Number(match[1]) / 1024) : NaN;
}

async function bytesUnder(container: ContainerClient, prefix: string): Promise<number> {
  let bytes = 0;
  for await (const blob of container.listBlobsFlat({ prefix })) bytes += blob.properties.contentLength ?? 0;
  return bytes;
}

/** When each step kind of a run started and ended, in seconds after the run was requested. */
function timeline(chunks: ChunkState[], requestedAt: number): Record<string, { from: number; to: number; chunks: number }> {
  const steps: Record<string, { from: number; to: number; chunks: number }> = {};
  for (const chunk of chunks) {
    const kind = stepOf(chunk.chunkId)?.kind ?? 'other';
    const from = (Date.parse(chunk.startedAt) - requestedAt) / 1000;
    const to = (Date.parse(chunk.finishedAt) - requestedAt) / 1000;
    const step = (steps[kind] ??= { from, to, chunks: 0 });
    step.from = Math.min(step.from, from);
    step.to = Math.max(step.to, to);
    step.chunks++;
  }
  return steps;
}

const dataDir = mkdtempSync(join(tmpdir(), 'outflow-bench-dataout-'));
const key = randomBytes(32).toString('base64url');
const setupStarted = Date.now();
const hostHeapMb = values['host-heap-mb'];
const stack = await startStack({
  dataDir,
  seedProfiles: profiles,
  seedKind: 'b2c',
  authSigningKey: key,
  hostOutput: () => {},
  settings: hostHeapMb ? { [WORKER_ARGUMENTS_SETTING]: `--max-old-space-size=${Number(hostHeapMb)}` } : {},
});
const setupSeconds = (Date.now() - setupStarted) / 1000;
// The ledger is read directly for the step timeline: point this process at the stack's storage.
process.env.AzureWebJobsStorage = stack.azurite.connectionString;
try {
  const call = await adminApi(stack.apiUrl, key);
  const service = BlobServiceClient.fromConnectionString(stack.azurite.connectionString);
  const lake = service.getContainerClient('lake');
  const exportsContainer = service.getContainerClient('exports');
  await exportsContainer.createIfNotExists();
  const connection = await call('POST', '/connections', {
    name: 'bench lake',
    type: 'azure-blob',
    settings: { accountUrl: `http://127.0.0.1:${stack.azurite.blobPort}/${DEV_ACCOUNT}`, container: 'exports', folder: 'bench' },
    privacyConsent: true,
  });

  const lakeBytes = async () => {
    const entity = (await readModel(lake)).entities.find((candidate) => candidate.name === ENTITY)!;
    return (await partitionBlobs(lake, entity)).reduce((sum, blob) => sum + blob.size, 0);
  };
  const run = async (label: string, exportId: string, exportName: string) => {
    const inputBytes = await lakeBytes();
    const rssBefore = memoryMb(stack.host.pid!, 'VmRSS');
    const started = Date.now();
    // The host's resident memory, sampled: when in the run it peaked.
    let peak = { mb: 0, atSeconds: 0 };
    const sampler = setInterval(() => {
      const mb = memoryMb(stack.host.pid!, 'VmRSS');
      if (mb > peak.mb) peak = { mb, atSeconds: (Date.now() - started) / 1000 };
    }, 100);
    const { runId } = await call('POST', `/exports/${exportId}/runs`);
    let view: any;
    for (;;) {
      view = await call('GET', `/exports/${exportId}/runs/${runId}`);
      if (['succeeded', 'partiallySucceeded', 'failed', 'skipped', 'cancelled'].includes(view.status)) break;
      if (Date.now() - started > 30 * 60_000) throw new Error('the run did not finish within 30 minutes');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const seconds = (Date.now() - started) / 1000;
    clearInterval(sampler);
    const latest = JSON.parse(
      (await exportsContainer.getBlobClient(`bench/${exportName}/latest.json`).downloadToBuffer()).toString('utf8'),
    );
    const outputBytes = await bytesUnder(exportsContainer, `bench/${exportName}/${latest.folder}/`);
    return {
      label,
      status: view.status,
      counts: view.counts,
      plan: view.tasks.find((task: { name: string }) => task.name === 'plan')?.detail,
      wallSeconds: seconds,
      rowsPerSecond: Math.round(view.counts.members / seconds),
      lakeMB: Math.round(inputBytes / MB),
      readMBPerSecond: Math.round((inputBytes / MB / seconds) * 10) / 10,
      writtenMB: Math.round((outputBytes / MB) * 10) / 10,
      writtenMBPerSecond: Math.round((outputBytes / MB / seconds) * 10) / 10,
      hostRssBeforeMb: rssBefore,
      hostPeakRssMb: memoryMb(stack.host.pid!, 'VmHWM'),
      hostRssSampledPeak: peak,
      stepsSecondsAfterRequest: timeline(await listChunks(runId), started),
    };
  };

  const results = [];
  const full = await call('POST', '/exports', { name: 'full', connectionId: connection.id, kind: 'dataOut', entities: [ENTITY] });
  results.push(await run('full export', full.id, 'full'));
  const incremental = await call('POST', '/exports', {
    name: 'incremental',
    connectionId: connection.id,
    kind: 'dataOut',
    entities: [ENTITY],
    details: { mode: 'incremental' },
  });
  results.push(await run('incremental export, first (full) run keeping the snapshot', incremental.id, 'incremental'));
  const changeStarted = Date.now();
  const changes = await changeLakeEntity({
    containerClient: lake,
    entity: ENTITY,
    updateRate: changeRate,
    deleteRate: changeRate / 5,
    inserts: Math.round((profiles * changeRate) / 5),
  });
  const changeSeconds = (Date.now() - changeStarted) / 1000;
  results.push({
    ...(await run('incremental run after the lake changed', incremental.id, 'incremental')),
    lakeChanges: { updated: changes.updated.size, deleted: changes.deleted.size, inserted: changes.inserted.size, seconds: changeSeconds },
  });
  console.log(
    JSON.stringify(
      {
        date: new Date().toISOString(),
        machine: `${cpus().length} cores, ${Math.round(totalmem() / 1024 ** 3)} GB, Node ${process.version}`,
        profiles,
        hostHeapMb: hostHeapMb ?? 'default',
        setupSeconds,
        results,
      },
      null,
      2,
    ),
  );
} finally {
  await stack.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
