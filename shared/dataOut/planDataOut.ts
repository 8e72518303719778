// Plans a data-out run (or a segment export to storage): which entities, which columns (the
// mapping applied), full or incremental, and the chunks that write the folder. Each entity's
// partitions are cut into byte ranges at record boundaries, one output partition per range,
// sized so a large entity spreads over many parallel writers and no partition passes 256 MB.
import { lakeContainer, sendQueueMessage } from '../storage/clients.js';
import { QUEUES } from '../storage/names.js';
import type { ExportRecord } from '../exports/exportDefinition.js';
import { ANNOTATIONS, annotation, type CdmLocalEntity } from '../lake/cdmModel.js';
import { findEntity, listSegments, partitionBlobs, readModelVersioned, recordBoundaries, type LakeSegment } from '../lake/lakeReader.js';
import { DestinationError } from '../destinations/destinationError.js';
import {
  azureBlob,
  destinationContainer,
  endpointFor,
  probeContainer,
  toDestinationError,
  type AzureBlobDetails,
  type AzureBlobSettings,
} from '../destinations/azureBlob.js';
import {
  finalizeIfComplete,
  finishRunEarly,
  recordPlannedChunks,
  updateRun,
  type ChunkMessage,
  type ChunkRange,
  type DestinationAccess,
  type PlannedSegment,
  type RunRecord,
} from '../runs/worker.js';
import {
  bucketsFor,
  copyChunkId,
  exportFolderOf,
  folderNameOf,
  mergeChunkId,
  PUBLISH_CHUNK_ID,
  resolveColumns,
  signatureOf,
  withKeyColumn,
  type DataOutPlan,
  type PlannedEntity,
} from './dataOutPlan.js';
import { readFullResyncRequest, readSnapshotPointer, savePlan } from './workFiles.js';
import { toLog, type LogInput } from './stepContext.js';

const MB = 1024 * 1024;
/** Input bytes per output partition: at most 128 MB of lake CSV (the output is no larger), at least 4 MB. */
const MAX_RANGE_BYTES = 128 * MB;
const MIN_RANGE_BYTES = 4 * MB;
/** About this many partitions per entity, so several hosts' writers all have work to the end. */
const TARGET_RANGES = 32;

interface Source {
  entity: CdmLocalEntity;
  segment?: LakeSegment;
}

export async function planDataOut(run: RunRecord, record: ExportRecord, access: DestinationAccess, logInput?: LogInput): Promise<void> {
  const log = toLog(logInput);
  const fail = (reason: string) => finishRunEarly(run, 'failed', reason);
  const parsedDetails = azureBlob.exportDetails.safeParse(record.details);
  if (!parsedDetails.success)
    return fail(`The export's details are not valid for ${azureBlob.displayName}: ${parsedDetails.error.issues[0]?.message}`);
  const details: AzureBlobDetails = parsedDetails.data;
  const settings = access.call.settings as AzureBlobSettings;

  const lake = lakeContainer();
  const { model, version: lakeVersion } = await readModelVersioned(lake);
  const sources: Source[] = [];
  if (record.kind === 'dataOut') {
    if (record.entities.length === 0) return fail('The export names no entity; choose at least one (GET /api/entities lists them).');
    for (const name of record.entities) {
      const entity = findEntity(model, name);
      if (!entity) return fail(`Entity '${name}' is not in the lake (GET /api/entities lists them).`);
      sources.push({ entity });
    }
  } else {
    if (record.segments.length === 0) return fail('The export names no segment.');
    const segments = listSegments(model);
    for (const id of record.segments) {
      const segment = segments.find((candidate) => candidate.id === id);
      if (!segment) return fail(`Segment '${id}' no longer exists in the lake.`);
      sources.push({ entity: segment.entity, segment });
    }
  }

  const incremental = details.mode === 'incremental';
  const resolved = resolveColumns(
    sources.map((source) => source.entity),
    record.mapping,
  );
  const problems = resolved.errors.map((error) => `${error.path}: ${error.message}`);
  const entities: PlannedEntity[] = [];
  for (const { entity, segment } of sources) {
    let columns = resolved.columns.get(entity.name)!;
    let keyColumn = Math.max(
      0,
      columns.findIndex((column) => column.sourceIndex === 0),
    );
    if (incremental) {
      const keyed = withKeyColumn(entity, columns, details.keys?.[entity.name]);
      if ('error' in keyed) {
        problems.push(`${keyed.error.path}: ${keyed.error.message}`);
        continue;
      }
      ({ columns, keyColumn } = keyed);
    }
    const rows = segment ? segment.memberCount : Number(annotation(entity, ANNOTATIONS.rowCount) ?? NaN);
    entities.push({
      name: entity.name,
      ...(segment
        ? { description: `Segment '${segment.name}' (${segment.type})`, segment: { name: segment.name, type: segment.type } }
        : entity.description
          ? { description: entity.description }
          : {}),
      columns,
      keyColumn,
      signature: signatureOf(columns, keyColumn),
      rows: Number.isFinite(rows) ? rows : null,
    });
  }
  if (problems.length > 0) return fail(`The export's mapping does not fit the lake: ${problems.join('; ')}`);
  const totalRows = entities.reduce((sum, entity) => sum + (entity.rows ?? 0), 0);
  const limit = Number(access.connection.limits?.maxMembersPerExport);
  if (Number.isFinite(limit) && limit > 0 && totalRows > limit) {
    return finishRunEarly(
      run,
      'skipped',
      `The export has ${totalRows.toLocaleString('en-US')} rows; this connection takes at most ${limit.toLocaleString('en-US')} per export. Nothing was written.`,
    );
  }

  // The folder's container must answer before any chunk is queued: a wrong secret fails the run now.
  try {
    const container = destinationContainer(access.call);
    try {
      await probeContainer(container, settings.folder);
    } catch (error) {
      // Locally (the app's own Azurite) a missing container is made; elsewhere it is the user's to create.
      if (!(error instanceof DestinationError && error.options.code === 'ContainerNotFound' && endpointFor(settings).local)) throw error;
      await container.createIfNotExists();
    }
  } catch (error) {
    const mapped = toDestinationError(error, 'opening the destination container');
    if (mapped.retryable) throw mapped;
    return fail(`${azureBlob.displayName} refused the export's folder (${mapped.category}): ${mapped.message}`);
  }

  // Incremental exports compare with the snapshot of their last published run, unless asked not to.
  const sourceBytes = new Map<string, number>();
  const blobsOf = new Map<string, Awaited<ReturnType<typeof partitionBlobs>>>();
  for (const { entity } of sources) {
    const blobs = await partitionBlobs(lake, entity);
    blobsOf.set(entity.name, blobs);
    sourceBytes.set(
      entity.name,
      blobs.reduce((sum, blob) => sum + blob.size, 0),
    );
  }
  const largest = Math.max(0, ...sourceBytes.values());
  let mode: DataOutPlan['mode'] = 'full';
  let fullReason: string | null = null;
  let base: DataOutPlan['base'] = null;
  let resyncEtag: string | null = null;
  let buckets = 1;
  if (incremental) {
    const [pointer, resync] = await Promise.all([readSnapshotPointer(record.id), readFullResyncRequest(record.id)]);
    resyncEtag = resync?.etag ?? null;
    const changed = pointer ? entities.filter((entity) => pointer.value.entities[entity.name]?.signature !== entity.signature) : [];
    if (resync) fullReason = 'a full resync was requested';
    else if (!pointer) fullReason = 'first run: there is no earlier snapshot to compare with';
    else if (changed.length > 0)
      fullReason = `the columns or key of ${changed.map((entity) => entity.name).join(', ')} changed since the last run`;
    else {
      mode = 'incremental';
      base = { runId: pointer.value.runId, buckets: pointer.value.buckets };
    }
    buckets = bucketsFor(largest, base?.buckets ?? 1);
  }

  const plan: DataOutPlan = {
    exportId: record.id,
    exportName: record.name,
    runId: run.id,
    runCreatedAt: run.createdAt,
    mode,
    fullReason,
    keepSnapshot: incremental,
    includeHeader: details.includeHeader,
    buckets,
    base,
    resyncEtag,
    accountUrl: endpointFor(settings).accountUrl,
    container: settings.container,
    exportFolder: exportFolderOf(settings.folder, record.name, record.id),
    folderName: folderNameOf(run.id, run.createdAt),
    source: { generation: annotation(model, ANNOTATIONS.generation) ?? null, modifiedTime: model.modifiedTime },
    entities,
  };

  const chunks: ChunkRange[] = [];
  for (const [index, { entity }] of sources.entries()) {
    const bytes = sourceBytes.get(entity.name)!;
    const targetBytes = Math.min(MAX_RANGE_BYTES, Math.max(MIN_RANGE_BYTES, Math.ceil(bytes / TARGET_RANGES)));
    let part = 0;
    for (const blob of blobsOf.get(entity.name)!) {
      if (blob.size === 0) continue;
      const cuts = await recordBoundaries(lake, blob.blobName, blob.size, targetBytes, { ifMatch: blob.etag });
      for (let cut = 0; cut + 1 < cuts.length; cut++) {
        chunks.push({
          chunkId: copyChunkId(index, part++),
          step: 'copy',
          segmentId: entity.name,
          container: 'lake',
          blobName: blob.blobName,
          blobEtag: blob.etag,
          start: cuts[cut]!,
          end: cuts[cut + 1]!,
          delimiter: blob.format.delimiter ?? ',',
          columnHeaders: blob.format.columnHeaders ?? false,
        });
      }
    }
    if (mode === 'incremental') {
      for (let bucket = 0; bucket < buckets; bucket++) chunks.push(stepChunk(mergeChunkId(index, bucket), 'merge', entity.name));
    }
  }
  chunks.push(stepChunk(PUBLISH_CHUNK_ID, 'publish', ''));
  const copies = chunks.filter((chunk) => chunk.container === 'lake').length;

  await savePlan(plan);
  const plannedSegments: PlannedSegment[] = sources.flatMap(({ entity, segment }) =>
    segment
      ? [
          {
            segmentId: segment.id,
            segmentName: segment.name,
            type: segment.type,
            entity: entity.name,
            attributes: entity.attributes.map((attribute) => attribute.name),
            memberCount: segment.memberCount,
          },
        ]
      : [],
  );
  await updateRun(run.exportId, run.id, (current) => ({
    ...current,
    provenance: { lake: lakeVersion, refreshId: current.provenance?.refreshId ?? null },
    segments: plannedSegments,
    preparedDetails: { ...details, dataOut: { mode, folder: `${plan.exportFolder}/${plan.folderName}` } },
    chunksTotal: chunks.length,
  }));
  await recordPlannedChunks(run.id, chunks);
  // Merge and publish chunks are queued too: they wait for their inputs by re-queueing themselves.
  for (const chunk of chunks)
    await sendQueueMessage(QUEUES.exportChunks, { exportId: run.exportId, runId: run.id, chunkId: chunk.chunkId } satisfies ChunkMessage);

  const plannedAt = new Date().toISOString();
  const what = `${entities.length === 1 ? entities[0]!.name : `${entities.length} entities`}: ${copies} partition${copies === 1 ? '' : 's'} to write${mode === 'incremental' ? `, compared in ${buckets} bucket${buckets === 1 ? '' : 's'} with run ${base!.runId}` : ''}`;
  await updateRun(run.exportId, run.id, (current) => ({
    ...current,
    planned: true,
    counts: { ...current.counts, members: totalRows },
    tasks: current.tasks.map((task) =>
      task.name === 'plan'
        ? {
            ...task,
            status: 'succeeded',
            finishedAt: plannedAt,
            detail: `${mode === 'full' ? `Full run${fullReason ? ` (${fullReason})` : ''}` : 'Incremental run'} into ${plan.exportFolder}/${plan.folderName}/ — ${what}.`,
          }
        : task.name === 'send'
          ? { ...task, status: 'running', startedAt: task.startedAt ?? plannedAt }
          : task,
    ),
  }));
  log(`Planned data-out run ${run.id} (${mode}): ${totalRows} rows, ${chunks.length} chunks`);
  await finalizeIfComplete(run.exportId, run.id);
}

/** A merge or publish step: a ledger row with no source range of its own. */
function stepChunk(chunkId: string, step: 'merge' | 'publish', entity: string): ChunkRange {
  return {
    chunkId,
    step,
    segmentId: entity,
    container: 'work',
    blobName: '',
    blobEtag: '',
    start: 0,
    end: 0,
    delimiter: ',',
    columnHeaders: false,
  };
}
