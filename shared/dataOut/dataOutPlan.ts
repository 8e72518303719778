// What a data-out run writes, decided once by the planner and read by every chunk: the output
// entities with their columns (the mapping applied), the mode, the folder names, and the step
// each chunk id stands for. Everything here is pure, so it is table-tested without storage.
import { createHash } from 'node:crypto';
import type { CdmDataType } from '../lake/cdmModel.js';
import type { FieldError } from '../errors.js';

/** Column of incremental partitions saying what happened to the row. */
export const OPERATION_COLUMN = '_operation';
export type RowOperation = 'insert' | 'update' | 'delete';

export interface OutputColumn {
  /** Column name in the output (the mapping's key, or the attribute's own name). */
  name: string;
  /** Source attribute and its position in the lake's CSV rows. */
  source: string;
  sourceIndex: number;
  dataType: CdmDataType;
}

export interface PlannedEntity {
  /** Output entity name = the lake entity's name (a segment's id for segment exports). */
  name: string;
  description?: string;
  /** Set for segment exports: the segment's display name and type. */
  segment?: { name: string; type: string };
  columns: OutputColumn[];
  /** Index in `columns` of the primary key (incremental runs and snapshots). */
  keyColumn: number;
  /** What the snapshot of this entity was made with: a change of columns or key forces a full run. */
  signature: string;
  /** Rows the lake says the entity has, when it says so. */
  rows: number | null;
}

export interface DataOutPlan {
  exportId: string;
  exportName: string;
  runId: string;
  runCreatedAt: string;
  /** What this run writes: every row, or only the changes since `base`. */
  mode: 'full' | 'incremental';
  /** Why an incremental export runs full this time (first run, full resync, columns changed). */
  fullReason: string | null;
  /** The export is incremental: keep a snapshot of row hashes for the next run. */
  keepSnapshot: boolean;
  includeHeader: boolean;
  /** Key-hash buckets of snapshots and change partitions (a power of two). */
  buckets: number;
  /** The snapshot an incremental run compares with. */
  base: { runId: string; buckets: number } | null;
  /** ETag of the full-resync request this run answers (removed when the run succeeds). */
  resyncEtag: string | null;
  /** Where the folder goes: account URL (for partition locations), container, folder paths. */
  accountUrl: string;
  container: string;
  /** `{folder}/{exportName}` inside the container, without a trailing slash. */
  exportFolder: string;
  /** `{runTimestamp}-{run}`: this run's CDM folder under exportFolder. */
  folderName: string;
  source: { generation: string | null; modifiedTime: string };
  entities: PlannedEntity[];
}

export interface SourceEntity {
  name: string;
  attributes: { name: string; dataType: CdmDataType }[];
}

/**
 * Applies the export's mapping (output column → source attribute) to each entity. An attribute is
 * named plainly (`Email`: every selected entity that has it) or qualified (`Contact.Email`: that
 * entity only). An entity no mapping entry applies to is written with all its attributes, under
 * their own names. Errors name the mapping entry at fault.
 */
export function resolveColumns(
  entities: SourceEntity[],
  mapping: Record<string, string>,
): { columns: Map<string, OutputColumn[]>; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const columns = new Map<string, OutputColumn[]>(entities.map((entity) => [entity.name, []]));
  const names = new Set(entities.map((entity) => entity.name));
  for (const [column, reference] of Object.entries(mapping)) {
    const dot = reference.indexOf('.');
    const qualifier = dot > 0 ? reference.slice(0, dot) : undefined;
    const targets = qualifier !== undefined && names.has(qualifier) ? entities.filter((entity) => entity.name === qualifier) : entities;
    const attribute = qualifier !== undefined && names.has(qualifier) ? reference.slice(dot + 1) : reference;
    let applied = 0;
    for (const entity of targets) {
      const sourceIndex = entity.attributes.findIndex((candidate) => candidate.name === attribute);
      if (sourceIndex < 0) continue;
      columns.get(entity.name)!.push({ name: column, source: attribute, sourceIndex, dataType: entity.attributes[sourceIndex]!.dataType });
      applied++;
    }
    if (applied === 0) {
      errors.push({
        path: `body.mapping.${column}`,
        message: `attribute '${reference}' is not in ${targets.map((entity) => `'${entity.name}'`).join(' or ')}`,
      });
    }
  }
  for (const entity of entities) {
    if (columns.get(entity.name)!.length > 0) continue;
    columns.set(
      entity.name,
      entity.attributes.map((attribute, sourceIndex) => ({
        name: attribute.name,
        source: attribute.name,
        sourceIndex,
        dataType: attribute.dataType,
      })),
    );
  }
  return { columns, errors };
}

/**
 * The primary-key column of an entity: the attribute named in `keys` or the entity's first. When
 * the mapping left it out, it is added first under its own name: change rows need it.
 */
export function withKeyColumn(
  entity: SourceEntity,
  columns: OutputColumn[],
  keyAttribute: string | undefined,
): { columns: OutputColumn[]; keyColumn: number } | { error: FieldError } {
  const attribute = keyAttribute ?? entity.attributes[0]!.name;
  const sourceIndex = entity.attributes.findIndex((candidate) => candidate.name === attribute);
  if (sourceIndex < 0)
    return { error: { path: `body.details.keys.${entity.name}`, message: `'${attribute}' is not an attribute of '${entity.name}'` } };
  const mapped = columns.findIndex((column) => column.sourceIndex === sourceIndex);
  if (mapped >= 0) return { columns, keyColumn: mapped };
  if (columns.some((column) => column.name === attribute)) {
    return {
      error: {
        path: `body.mapping.${attribute}`,
        message: `the key '${attribute}' of '${entity.name}' must be written under its own name, which another column uses`,
      },
    };
  }
  return {
    columns: [{ name: attribute, source: attribute, sourceIndex, dataType: entity.attributes[sourceIndex]!.dataType }, ...columns],
    keyColumn: 0,
  };
}

export function signatureOf(columns: OutputColumn[], keyColumn: number): string {
  return createHash('sha256')
    .update(JSON.stringify({ columns: columns.map((column) => [column.name, column.source]), key: keyColumn }))
    .digest('base64url')
    .slice(0, 22);
}

/** Row content hash for change detection: 96 bits, so a collision is not a practical concern. */
export function rowHash(values: string[]): string {
  return createHash('sha1').update(values.join('\u0000')).digest('base64url').slice(0, 16);
}

/** FNV-1a of the key: which bucket a key's snapshot entry and change rows live in. Never change it. */
export function bucketOf(key: string, buckets: number): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < key.length; index++) hash = Math.imul(hash ^ key.charCodeAt(index), 0x01000193);
  return (hash >>> 0) & (buckets - 1);
}

/**
 * Buckets for about 16 MB of rows each, a power of two up to 1,024: one merge holds one bucket's
 * keys (≈ 75,000), and a host runs at most 16 merges at once, so its memory stays flat however
 * large the entity is.
 */
export function bucketsFor(bytes: number, atLeast = 1): number {
  const wanted = Math.max(atLeast, Math.ceil(bytes / (16 * 1024 * 1024)));
  let buckets = 1;
  while (buckets < wanted && buckets < 1024) buckets *= 2;
  return buckets;
}

// The data-out writer's step kinds ('copy', 'merge', 'publish') are in each chunk's ledger row,
// where the run core reads them to hand the chunk to this worker; the id also names the entity
// and the part or bucket the step works on.
export type DataOutStep =
  { kind: 'copy'; entity: number; part: number } | { kind: 'merge'; entity: number; bucket: number } | { kind: 'publish' };

export const PUBLISH_CHUNK_ID = 'd-publish';

export function copyChunkId(entity: number, part: number): string {
  return `d-e${String(entity).padStart(3, '0')}-p${String(part).padStart(5, '0')}`;
}

export function mergeChunkId(entity: number, bucket: number): string {
  return `d-e${String(entity).padStart(3, '0')}-b${String(bucket).padStart(5, '0')}`;
}

export function stepOf(chunkId: string): DataOutStep | undefined {
  if (chunkId === PUBLISH_CHUNK_ID) return { kind: 'publish' };
  const match = /^d-e(\d{3})-([pb])(\d{5})$/.exec(chunkId);
  if (!match) return undefined;
  const entity = Number(match[1]);
  const number = Number(match[3]);
  return match[2] === 'p' ? { kind: 'copy', entity, part: number } : { kind: 'merge', entity, bucket: number };
}

/** `20260501T102030Z-1a2b3c4d`: sorts by time, unique per run, no characters data tools trip on. */
export function folderNameOf(runId: string, createdAt: string): string {
  const stamp = new Date(createdAt)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
  return `${stamp}-${runId.slice(-8)}`;
}

/** An export name as one path segment: characters blob paths and Spark dislike become "_". */
export function pathSegmentOf(name: string, fallback: string): string {
  const cleaned = name
    .replace(/[\\/?#%"*:<>|\u0000-\u001f\u007f]/g, '_')
    .trim()
    .replace(/\.+$/, '')
    .slice(0, 100);
  return cleaned === '' ? fallback : cleaned;
}

export function exportFolderOf(folder: string | undefined, exportName: string, exportId: string): string {
  return [folder ?? '', pathSegmentOf(exportName, exportId)].filter((part) => part !== '').join('/');
}

/** Paths inside the destination container. */
export function runFolderPath(plan: DataOutPlan): string {
  return `${plan.exportFolder}/${plan.folderName}`;
}

export function partitionPath(plan: DataOutPlan, step: DataOutStep & { kind: 'copy' | 'merge' }): string {
  const entity = plan.entities[step.entity]!;
  return step.kind === 'copy'
    ? `${runFolderPath(plan)}/${entity.name}/part-${String(step.part).padStart(5, '0')}.csv`
    : `${runFolderPath(plan)}/${entity.name}/changes-${String(step.bucket).padStart(5, '0')}.csv`;
}

/** Output columns of an entity's partitions in this run (incremental adds the operation first). */
export function headerOf(plan: DataOutPlan, entity: PlannedEntity): string[] {
  const names = entity.columns.map((column) => column.name);
  return plan.mode === 'incremental' ? [OPERATION_COLUMN, ...names] : names;
}
