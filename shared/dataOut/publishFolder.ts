// The last step of a data-out run, once every partition is written: model.json (which makes the
// folder readable — readers take a folder only if it has one), then the snapshot pointer of an
// incremental export, then latest.json, moved with one conditional upload. Each write is
// idempotent, so a publish interrupted anywhere simply runs again.
import type { BlockBlobClient, ContainerClient } from '@azure/storage-blob';
import {
  ANNOTATIONS,
  DEFAULT_CSV_FORMAT,
  cdmModelSchema,
  type CdmAttribute,
  type CdmLocalEntity,
  type CdmModelInput,
} from '../lake/cdmModel.js';
import { MODEL_BLOB } from '../lake/lakeReader.js';
import { updateRun, ZERO_COUNTS, type ChunkState, type RunCounts } from '../runs/worker.js';
import { OPERATION_COLUMN, partitionPath, runFolderPath, stepOf, type DataOutPlan, type PlannedEntity } from './dataOutPlan.js';
import { cleanUpAfterPublish, clearFullResyncRequest, deleteSnapshotPointer, writeSnapshotPointer } from './workFiles.js';
import { StepFailed, type StepContext } from './stepContext.js';
import { isPreconditionFailed } from '../storage/preconditionFailed.js';

/** Annotations Outflow adds to the folders it writes (CDM annotation values are strings). */
export const OUTPUT_ANNOTATIONS = {
  exportId: 'outflow:exportId',
  exportName: 'outflow:exportName',
  runId: 'outflow:runId',
  /** full | incremental: an incremental folder holds only changes, with the operation column. */
  exportMode: 'outflow:exportMode',
  /** Incremental: the run whose folder these changes apply to. */
  baseRunId: 'outflow:baseRunId',
  sourceGeneration: 'outflow:sourceGeneration',
  sourceModifiedTime: 'outflow:sourceModifiedTime',
  /** Attribute level: the lake attribute the column was mapped from. */
  sourceAttribute: 'outflow:sourceAttribute',
  /** Entity level: the column rows are keyed by (incremental exports). */
  keyAttribute: 'outflow:keyAttribute',
  inserts: 'outflow:inserts',
  updates: 'outflow:updates',
  deletes: 'outflow:deletes',
} as const;

export const LATEST_BLOB = 'latest.json';

export interface LatestPointer {
  exportId: string;
  exportName: string;
  runId: string;
  mode: 'full' | 'incremental';
  /** The run's folder name and the URL of its model.json. */
  folder: string;
  model: string;
  runCreatedAt: string;
  publishedAt: string;
}

interface WrittenPartition {
  name: string;
  path: string;
  rows: number;
  operations?: { inserts: number; updates: number; deletes: number };
}

export async function publishFolder(context: StepContext, chunks: ChunkState[], track: (counts: RunCounts) => void): Promise<void> {
  const { plan } = context;
  const destination = await context.destination();
  const folder = runFolderPath(plan);
  const listing = new Map<string, Record<string, string>>();
  for await (const blob of destination.listBlobsFlat({ prefix: `${folder}/`, includeMetadata: true }))
    listing.set(blob.name, blob.metadata ?? {});

  const written: WrittenPartition[][] = plan.entities.map(() => []);
  for (const chunk of [...chunks].sort((a, b) => (a.chunkId < b.chunkId ? -1 : 1))) {
    const step = stepOf(chunk.chunkId);
    if (!step || step.kind === 'publish' || chunk.counts.sent === 0) continue;
    const path = partitionPath(plan, step);
    const metadata = listing.get(path);
    if (!metadata) throw new StepFailed(`Partition ${path} is missing although its chunk ${chunk.chunkId} finished; run the export again.`);
    written[step.entity]!.push({
      name: path.slice(path.lastIndexOf('/') + 1).replace(/\.csv$/, ''),
      path,
      rows: chunk.counts.sent,
      ...(step.kind === 'merge'
        ? {
            operations: {
              inserts: Number(metadata.inserts ?? 0),
              updates: Number(metadata.updates ?? 0),
              deletes: Number(metadata.deletes ?? 0),
            },
          }
        : {}),
    });
  }
  await context.checkpoint();

  const publishedAt = new Date().toISOString();
  const model = toModel(plan, written, publishedAt);
  const text = JSON.stringify(cdmModelSchema.parse(model) && model, null, 2);
  await destination
    .getBlockBlobClient(`${folder}/${MODEL_BLOB}`)
    .upload(text, Buffer.byteLength(text), { blobHTTPHeaders: { blobContentType: 'application/json; charset=utf-8' } });

  if (plan.keepSnapshot) {
    await writeSnapshotPointer(plan.exportId, {
      runId: plan.runId,
      buckets: plan.buckets,
      entities: Object.fromEntries(plan.entities.map((entity) => [entity.name, { signature: entity.signature }])),
    });
  } else {
    // A full export keeps no snapshot: should it turn incremental later, it starts with a full run.
    await deleteSnapshotPointer(plan.exportId);
  }
  if (plan.resyncEtag) await clearFullResyncRequest(plan.exportId, plan.resyncEtag);
  await moveLatest(destination, plan, {
    exportId: plan.exportId,
    exportName: plan.exportName,
    runId: plan.runId,
    mode: plan.mode,
    folder: plan.folderName,
    model: locationOf(plan, `${folder}/${MODEL_BLOB}`),
    runCreatedAt: plan.runCreatedAt,
    publishedAt,
  });

  const rows = written.flat().reduce((sum, partition) => sum + partition.rows, 0);
  await updateRun(plan.exportId, plan.runId, (run) => ({
    ...run,
    tasks: run.tasks.map((task) =>
      task.name === 'send'
        ? { ...task, detail: entityDetails(plan, written) }
        : task.name === 'finalize'
          ? { ...task, detail: `Published ${locationOf(plan, `${folder}/${MODEL_BLOB}`)}` }
          : task,
    ),
  }));
  await cleanUpAfterPublish(plan.exportId, plan.runId, plan.keepSnapshot).catch((error: Error) =>
    context.log(`Could not remove old work files: ${error.message}`),
  );
  // Rows count as delivered only now that the folder is readable.
  track({ ...ZERO_COUNTS, succeeded: rows });
}

function toModel(plan: DataOutPlan, written: WrittenPartition[][], refreshTime: string): CdmModelInput {
  const annotations = [
    { name: OUTPUT_ANNOTATIONS.exportId, value: plan.exportId },
    { name: OUTPUT_ANNOTATIONS.exportName, value: plan.exportName },
    { name: OUTPUT_ANNOTATIONS.runId, value: plan.runId },
    { name: OUTPUT_ANNOTATIONS.exportMode, value: plan.mode },
    ...(plan.base && plan.mode === 'incremental' ? [{ name: OUTPUT_ANNOTATIONS.baseRunId, value: plan.base.runId }] : []),
    ...(plan.source.generation ? [{ name: OUTPUT_ANNOTATIONS.sourceGeneration, value: plan.source.generation }] : []),
    { name: OUTPUT_ANNOTATIONS.sourceModifiedTime, value: plan.source.modifiedTime },
  ];
  return {
    name: plan.exportName.replace(/[^A-Za-z0-9_]/g, '') || 'OutflowExport',
    description: `Outflow ${plan.mode} export '${plan.exportName}', run ${plan.runId}.`,
    version: '1.0',
    culture: 'en-US',
    modifiedTime: refreshTime,
    annotations,
    entities: plan.entities.map((entity, index) => toEntity(plan, entity, written[index]!, refreshTime)),
  };
}

function toEntity(plan: DataOutPlan, entity: PlannedEntity, partitions: WrittenPartition[], refreshTime: string): CdmLocalEntity {
  const attributes: CdmAttribute[] = entity.columns.map((column) => ({
    name: column.name,
    dataType: column.dataType,
    annotations: [{ name: OUTPUT_ANNOTATIONS.sourceAttribute, value: column.source }],
  }));
  if (plan.mode === 'incremental')
    attributes.unshift({
      name: OPERATION_COLUMN,
      dataType: 'string',
      description: 'What happened to the row since the base run: insert, update or delete (a delete carries only the key).',
    });
  const totals = sumOperations(partitions);
  return {
    $type: 'LocalEntity',
    name: entity.name,
    ...(entity.description ? { description: entity.description } : {}),
    annotations: [
      { name: ANNOTATIONS.sourceEntity, value: entity.name },
      { name: ANNOTATIONS.rowCount, value: String(partitions.reduce((sum, partition) => sum + partition.rows, 0)) },
      ...(plan.keepSnapshot ? [{ name: OUTPUT_ANNOTATIONS.keyAttribute, value: entity.columns[entity.keyColumn]!.name }] : []),
      ...(entity.segment
        ? [
            { name: 'outflow:sourceSegmentName', value: entity.segment.name },
            { name: 'outflow:sourceSegmentType', value: entity.segment.type },
          ]
        : []),
      ...(plan.mode === 'incremental'
        ? [
            { name: OUTPUT_ANNOTATIONS.inserts, value: String(totals.inserts) },
            { name: OUTPUT_ANNOTATIONS.updates, value: String(totals.updates) },
            { name: OUTPUT_ANNOTATIONS.deletes, value: String(totals.deletes) },
          ]
        : []),
    ],
    attributes,
    partitions: partitions.map((partition) => ({
      name: partition.name,
      location: locationOf(plan, partition.path),
      refreshTime,
      fileFormatSettings: { ...DEFAULT_CSV_FORMAT, columnHeaders: plan.includeHeader },
      annotations: [{ name: ANNOTATIONS.rowCount, value: String(partition.rows) }],
    })),
  };
}

function sumOperations(partitions: WrittenPartition[]): { inserts: number; updates: number; deletes: number } {
  const totals = { inserts: 0, updates: 0, deletes: 0 };
  for (const partition of partitions) {
    totals.inserts += partition.operations?.inserts ?? 0;
    totals.updates += partition.operations?.updates ?? 0;
    totals.deletes += partition.operations?.deletes ?? 0;
  }
  return totals;
}

/** The blob's URL under the configured account URL (a dfs URL stays dfs for Data Lake readers). */
export function locationOf(plan: DataOutPlan, path: string): string {
  return `${plan.accountUrl}/${plan.container}/${path.split('/').map(encodeURIComponent).join('/')}`;
}

function entityDetails(plan: DataOutPlan, written: WrittenPartition[][]): string {
  const lines = plan.entities.map((entity, index) => {
    const partitions = written[index]!;
    const rows = partitions.reduce((sum, partition) => sum + partition.rows, 0);
    if (plan.mode === 'full')
      return `${entity.name}: ${rows.toLocaleString('en-US')} rows in ${partitions.length} partition${partitions.length === 1 ? '' : 's'}`;
    const totals = sumOperations(partitions);
    return `${entity.name}: ${totals.inserts.toLocaleString('en-US')} inserted, ${totals.updates.toLocaleString('en-US')} updated, ${totals.deletes.toLocaleString('en-US')} deleted`;
  });
  const mode = plan.mode === 'full' ? `full${plan.fullReason ? ` (${plan.fullReason})` : ''}` : `incremental since run ${plan.base?.runId}`;
  return `${mode}. ${lines.join('; ')}.`;
}

export async function readLatest(blob: BlockBlobClient): Promise<{ value: LatestPointer; etag: string } | undefined> {
  try {
    const response = await blob.download();
    const parts: Buffer[] = [];
    for await (const part of response.readableStreamBody!) parts.push(part as Buffer);
    return { value: JSON.parse(Buffer.concat(parts).toString('utf8')) as LatestPointer, etag: response.etag! };
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw error;
  }
}

/**
 * Points latest.json at this run's folder: one upload conditioned on the ETag read just before,
 * so two writers can never interleave; a folder never replaces a newer run's.
 */
async function moveLatest(destination: ContainerClient, plan: DataOutPlan, pointer: LatestPointer): Promise<void> {
  const blob = destination.getBlockBlobClient(`${plan.exportFolder}/${LATEST_BLOB}`);
  const text = JSON.stringify(pointer, null, 2);
  for (let attempt = 0; attempt < 10; attempt++) {
    const current = await readLatest(blob);
    if (current && (current.value.runId === pointer.runId || current.value.runCreatedAt > pointer.runCreatedAt)) return;
    try {
      await blob.upload(text, Buffer.byteLength(text), {
        blobHTTPHeaders: { blobContentType: 'application/json; charset=utf-8' },
        conditions: current ? { ifMatch: current.etag } : { ifNoneMatch: '*' },
      });
      return;
    } catch (error) {
      if (!isPreconditionFailed(error) && (error as { statusCode?: number }).statusCode !== 409) throw error;
    }
  }
  throw new Error('latest.json kept changing while this run tried to move it.');
}
