// Outflow's own files for data-out exports, in its working container: each run's plan, the
// snapshot of row hashes an incremental export compares with (and the pointer to the current
// one), the spill files of incremental runs, and a pending full-resync request.
//
//   dataout/{exportId}/snapshot.json                         current snapshot: {runId, buckets, entities}
//   dataout/{exportId}/full-resync.json                      a full run was asked for
//   dataout/{exportId}/runs/{runId}/plan.json                the run's DataOutPlan
//   dataout/{exportId}/runs/{runId}/snapshot/{entity}/b{n}/… key,hash rows of bucket n
//   dataout/{exportId}/runs/{runId}/spill/{entity}/b{n}/…    key,hash,offset,row… of bucket n (incremental)
import type { ContainerClient } from '@azure/storage-blob';
import pLimit from 'p-limit';
import { workContainer } from '../storage/clients.js';
import type { DataOutPlan } from './dataOutPlan.js';
import { isPreconditionFailed } from '../storage/preconditionFailed.js';

export interface SnapshotPointer {
  runId: string;
  buckets: number;
  /** Output entity name → the signature its snapshot was made with. */
  entities: Record<string, { signature: string }>;
}

const exportPrefix = (exportId: string) => `dataout/${exportId}/`;
export const runPrefix = (exportId: string, runId: string) => `${exportPrefix(exportId)}runs/${runId}/`;
const bucketPart = (entity: string, bucket: number) => `${encodeURIComponent(entity)}/b${String(bucket).padStart(5, '0')}/`;
export const snapshotPrefix = (exportId: string, runId: string, entity: string, bucket: number) =>
  `${runPrefix(exportId, runId)}snapshot/${bucketPart(entity, bucket)}`;
export const spillPrefix = (exportId: string, runId: string, entity: string, bucket: number) =>
  `${runPrefix(exportId, runId)}spill/${bucketPart(entity, bucket)}`;

async function readJson<T>(container: ContainerClient, name: string): Promise<{ value: T; etag: string } | undefined> {
  try {
    const response = await container.getBlobClient(name).download();
    const chunks: Buffer[] = [];
    for await (const chunk of response.readableStreamBody!) chunks.push(chunk as Buffer);
    return { value: JSON.parse(Buffer.concat(chunks).toString('utf8')) as T, etag: response.etag! };
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw error;
  }
}

async function writeJson(
  container: ContainerClient,
  name: string,
  value: unknown,
  conditions?: { ifMatch?: string; ifNoneMatch?: string },
): Promise<void> {
  const text = JSON.stringify(value, null, 2);
  await container
    .getBlockBlobClient(name)
    .upload(text, Buffer.byteLength(text), { blobHTTPHeaders: { blobContentType: 'application/json; charset=utf-8' }, conditions });
}

const ignoreMissing = (error: unknown) => {
  if (!isPreconditionFailed(error) && (error as { statusCode?: number }).statusCode !== 404) throw error;
};

export async function savePlan(plan: DataOutPlan): Promise<void> {
  await writeJson(await workContainer(), `${runPrefix(plan.exportId, plan.runId)}plan.json`, plan);
}

// Chunks of one run read the same plan many times; it never changes once the run is planned.
const plans = new Map<string, DataOutPlan>();

export async function loadPlan(exportId: string, runId: string): Promise<DataOutPlan | undefined> {
  const cached = plans.get(runId);
  if (cached) return cached;
  const plan = (await readJson<DataOutPlan>(await workContainer(), `${runPrefix(exportId, runId)}plan.json`))?.value;
  if (plan) {
    if (plans.size >= 64) plans.delete(plans.keys().next().value!);
    plans.set(runId, plan);
  }
  return plan;
}

export async function readSnapshotPointer(exportId: string): Promise<{ value: SnapshotPointer; etag: string } | undefined> {
  return readJson<SnapshotPointer>(await workContainer(), `${exportPrefix(exportId)}snapshot.json`);
}

/** Points the export at this run's snapshot; only the run that read `etag` may move it. */
export async function writeSnapshotPointer(exportId: string, pointer: SnapshotPointer): Promise<void> {
  const container = await workContainer();
  const current = await readJson<SnapshotPointer>(container, `${exportPrefix(exportId)}snapshot.json`);
  if (current?.value.runId === pointer.runId) return;
  await writeJson(container, `${exportPrefix(exportId)}snapshot.json`, pointer, current ? { ifMatch: current.etag } : { ifNoneMatch: '*' });
}

export async function deleteSnapshotPointer(exportId: string): Promise<void> {
  await (await workContainer()).deleteBlob(`${exportPrefix(exportId)}snapshot.json`).catch(ignoreMissing);
}

/** Asks that the export's next run writes everything (POST /exports/{id}/runs {fullResync: true}). */
export async function requestFullResync(exportId: string): Promise<{ etag: string }> {
  const text = JSON.stringify({ requestedAt: new Date().toISOString() });
  const response = await (
    await workContainer()
  )
    .getBlockBlobClient(`${exportPrefix(exportId)}full-resync.json`)
    .upload(text, Buffer.byteLength(text), { blobHTTPHeaders: { blobContentType: 'application/json' } });
  return { etag: response.etag! };
}

export async function readFullResyncRequest(exportId: string): Promise<{ etag: string } | undefined> {
  const found = await readJson<unknown>(await workContainer(), `${exportPrefix(exportId)}full-resync.json`);
  return found && { etag: found.etag };
}

/** Removes the request this run answered; a newer one (another ETag) stays for the next run. */
export async function clearFullResyncRequest(exportId: string, etag: string): Promise<void> {
  await (
    await workContainer()
  )
    .deleteBlob(`${exportPrefix(exportId)}full-resync.json`, { conditions: { ifMatch: etag } })
    .catch(ignoreMissing);
}

/** Blobs under a prefix, in name order (pieces are named in source order). */
export async function listBlobs(container: ContainerClient, prefix: string): Promise<{ name: string; size: number }[]> {
  const blobs: { name: string; size: number }[] = [];
  for await (const blob of container.listBlobsFlat({ prefix })) blobs.push({ name: blob.name, size: blob.properties.contentLength ?? 0 });
  return blobs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

async function listNames(container: ContainerClient, prefix: string): Promise<string[]> {
  return (await listBlobs(container, prefix)).map((blob) => blob.name);
}

export async function deleteBlobs(container: ContainerClient, names: string[]): Promise<void> {
  const limit = pLimit(16);
  await Promise.all(names.map((name) => limit(() => container.deleteBlob(name).catch(ignoreMissing))));
}

/**
 * After a run published: its spills go, and so does every other run's work of this export (the
 * snapshot it replaced, leftovers of failed runs). One run per export is active at a time.
 */
export async function cleanUpAfterPublish(exportId: string, runId: string, keepSnapshot: boolean): Promise<void> {
  const container = await workContainer();
  const own = runPrefix(exportId, runId);
  const names = (await listNames(container, `${exportPrefix(exportId)}runs/`)).filter(
    (name) => !name.startsWith(own) || name.startsWith(`${own}spill/`) || (!keepSnapshot && name.startsWith(`${own}snapshot/`)),
  );
  await deleteBlobs(container, names);
}

/** After a run that did not publish: its own work files go (the current snapshot stays). */
export async function cleanUpFailedRun(exportId: string, runId: string): Promise<void> {
  const container = await workContainer();
  const own = runPrefix(exportId, runId);
  await deleteBlobs(
    container,
    (await listNames(container, own)).filter((name) => !name.endsWith('/plan.json')),
  );
}
