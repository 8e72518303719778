// Writes a whole new lake generation: every partition under a fresh prefix, then model.json (so a
// reader sees either the old lake or the new one, never half of one), then removes generations
// older than the one just replaced (that one stays for runs still reading it).
import { randomBytes } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import { PassThrough } from 'node:stream';
import { stringify } from 'csv-stringify/sync';
import { ANNOTATIONS, DEFAULT_CSV_FORMAT, type CdmLocalEntity, type CdmModelInput, type SegmentType } from '../../shared/lake/cdmModel.js';
import { lakeSources, type EntityDefinition, type LakeKind, type SegmentDefinition } from './generateProfiles.js';
import { MODEL_BLOB } from '../../shared/lake/lakeReader.js';

export const DEFAULT_ROWS_PER_PARTITION = 250_000;

export interface SeedLakeOptions {
  containerClient: ContainerClient;
  /** Profiles (b2c) or contacts (b2b); b2b adds one account per ten contacts. */
  profiles: number;
  kind: LakeKind;
  seed: number;
  /** Share of invalid emails (empty or without @). Default 0. */
  invalidEmailRate?: number;
  /** Share of valid emails with upper case or surrounding spaces. Default 0.02. */
  messyEmailRate?: number;
  rowsPerPartition?: number;
  /** Block size of the streamed uploads (bytes). Default 4 MiB. */
  blockSize?: number;
  /** Blocks in flight per partition upload. Default 2. */
  uploadConcurrency?: number;
  onProgress?: (progress: SeedProgress) => void;
}

export interface SeedProgress {
  /** Rows written over all entities (segment rows included). */
  rows: number;
  /** Generated profiles/contacts/accounts so far, and in total. */
  generated: number;
  toGenerate: number;
  elapsedMs: number;
}

export interface SeededPartition {
  name: string;
  blobName: string;
  rows: number;
  bytes: number;
}

export interface SeededEntity {
  name: string;
  rows: number;
  bytes: number;
  partitions: SeededPartition[];
  segment?: { name: string; type: SegmentType };
}

export interface SeedLakeResult {
  generation: string;
  kind: LakeKind;
  seed: number;
  profiles: number;
  rows: number;
  bytes: number;
  elapsedMs: number;
  entities: SeededEntity[];
  /** Generations removed after the new model.json was written. */
  removedGenerations: string[];
}

const GENERATION_PREFIX = /^g\d{8}T\d{9}Z(-[0-9a-f]+)?\/$/;

export async function seedLake(options: SeedLakeOptions): Promise<SeedLakeResult> {
  const { containerClient, kind, seed } = options;
  const profiles = options.profiles;
  if (!Number.isSafeInteger(profiles) || profiles < 1) throw new RangeError(`profiles must be a positive integer, got ${profiles}`);
  const rowsPerPartition = options.rowsPerPartition ?? DEFAULT_ROWS_PER_PARTITION;
  if (!Number.isSafeInteger(rowsPerPartition) || rowsPerPartition < 1)
    throw new RangeError(`rowsPerPartition must be a positive integer, got ${rowsPerPartition}`);
  const started = Date.now();
  const previous = await currentGeneration(containerClient);
  const generation = newGenerationName();
  const sources = lakeSources(kind, profiles, {
    seed,
    invalidEmailRate: options.invalidEmailRate,
    messyEmailRate: options.messyEmailRate,
  });
  const upload: UploadSettings = {
    containerClient,
    generation,
    rowsPerPartition,
    blockSize: options.blockSize ?? 2 * 1024 * 1024,
    concurrency: options.uploadConcurrency ?? 2,
  };

  const toGenerate = sources.reduce((sum, source) => sum + source.count, 0);
  let generated = 0;
  let rows = 0;
  let lastReport = started;
  const written: { definition: EntityDefinition; segment?: SegmentDefinition; writer: EntityWriter }[] = [];
  for (const source of sources) {
    const entityWriter = new EntityWriter(upload, source.entity.name);
    const segmentWriters = source.segments.map((segment) => new EntityWriter(upload, segment.entityName));
    written.push({ definition: source.entity, writer: entityWriter });
    source.segments.forEach((segment, i) => written.push({ definition: source.entity, segment, writer: segmentWriters[i]! }));
    try {
      for (let index = 0; index < source.count; index++) {
        const { values, memberOf } = source.row(index);
        let waits: Promise<unknown>[] | undefined;
        const wait = entityWriter.write(values);
        if (wait) waits = [wait];
        rows++;
        for (let s = 0; s < segmentWriters.length; s++) {
          if ((memberOf & (1 << s)) === 0) continue;
          const segmentWait = segmentWriters[s]!.write(values);
          if (segmentWait) (waits ??= []).push(segmentWait);
          rows++;
        }
        if (waits) await Promise.all(waits);
        if ((index & 0x1fff) === 0x1fff) {
          // Let uploads, timers and progress run even when no stream pushes back.
          await new Promise((resolve) => setImmediate(resolve));
          const now = Date.now();
          if (options.onProgress && now - lastReport >= 500) {
            lastReport = now;
            options.onProgress({ rows, generated: generated + index + 1, toGenerate, elapsedMs: now - started });
          }
        }
      }
      generated += source.count;
      await Promise.all([entityWriter.close(), ...segmentWriters.map((writer) => writer.close())]);
    } catch (error) {
      await Promise.allSettled([entityWriter, ...segmentWriters].map((writer) => writer.abort()));
      // No model.json points at the half-written generation; remove it now rather than next time.
      await removeGeneration(containerClient, generation).catch(() => undefined);
      throw error;
    }
  }
  options.onProgress?.({ rows, generated, toGenerate, elapsedMs: Date.now() - started });

  const refreshTime = new Date().toISOString();
  const entities: SeededEntity[] = written.map(({ definition, segment, writer }) => ({
    name: segment?.entityName ?? definition.name,
    rows: writer.rows,
    bytes: writer.bytes,
    partitions: writer.partitions,
    ...(segment ? { segment: { name: segment.name, type: segment.type } } : {}),
  }));
  // Segments last, "All customers" first among them: the order people expect to read them in.
  const ordered = [...written].sort((a, b) => Number(!!a.segment) - Number(!!b.segment));
  const model: CdmModelInput = {
    name: 'OutflowLake',
    description: `Generated ${kind} lake (seed ${seed}, ${profiles} ${kind === 'b2c' ? 'profiles' : 'contacts'}).`,
    version: '1.0',
    culture: 'en-US',
    modifiedTime: refreshTime,
    annotations: [
      { name: ANNOTATIONS.environmentKind, value: kind },
      { name: ANNOTATIONS.generation, value: generation.slice(0, -1) },
      { name: 'outflow:seed', value: String(seed) },
    ],
    entities: ordered.map(({ definition, segment, writer }) => toCdmEntity(containerClient, definition, segment, writer, refreshTime)),
  };
  const text = JSON.stringify(model, null, 2);
  await containerClient.getBlockBlobClient(MODEL_BLOB).upload(text, Buffer.byteLength(text), {
    blobHTTPHeaders: { blobContentType: 'application/json; charset=utf-8' },
  });

  const removedGenerations = await removeOldGenerations(containerClient, [generation, previous]);
  const bytes = entities.reduce((sum, entity) => sum + entity.bytes, 0);
  return {
    generation: generation.slice(0, -1),
    kind,
    seed,
    profiles,
    rows,
    bytes,
    elapsedMs: Date.now() - started,
    entities: [...entities].sort((a, b) => Number(!!a.segment) - Number(!!b.segment)),
    removedGenerations,
  };
}

function toCdmEntity(
  containerClient: ContainerClient,
  definition: EntityDefinition,
  segment: SegmentDefinition | undefined,
  writer: EntityWriter,
  refreshTime: string,
): CdmLocalEntity {
  const annotations: { name: string; value: string }[] = [{ name: ANNOTATIONS.rowCount, value: String(writer.rows) }];
  if (segment) {
    annotations.unshift(
      { name: ANNOTATIONS.segmentName, value: segment.name },
      { name: ANNOTATIONS.segmentType, value: segment.type },
      { name: ANNOTATIONS.memberCount, value: String(writer.rows) },
      { name: ANNOTATIONS.sourceEntity, value: definition.name },
    );
  }
  return {
    $type: 'LocalEntity',
    name: segment?.entityName ?? definition.name,
    description: segment?.description ?? definition.description,
    annotations,
    attributes: definition.attributes.map((attribute) => ({ ...attribute })),
    partitions: writer.partitions.map((partition) => ({
      name: partition.name,
      location: containerClient.getBlockBlobClient(partition.blobName).url,
      refreshTime,
      fileFormatSettings: { ...DEFAULT_CSV_FORMAT },
      annotations: [{ name: ANNOTATIONS.rowCount, value: String(partition.rows) }],
    })),
  };
}

/** Sortable and unique: time to the millisecond plus a random tail, with the trailing slash. */
function newGenerationName(): string {
  return `g${new Date().toISOString().replace(/[-:.]/g, '')}-${randomBytes(3).toString('hex')}/`;
}

/** The prefix the current model.json points at, read leniently (any producer's model counts). */
async function currentGeneration(containerClient: ContainerClient): Promise<string | undefined> {
  let text: string;
  try {
    text = (await containerClient.getBlobClient(MODEL_BLOB).downloadToBuffer()).toString('utf8');
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw error;
  }
  try {
    const model = JSON.parse(text) as {
      annotations?: { name?: string; value?: string }[];
      entities?: { partitions?: { location?: string }[] }[];
    };
    const named = model.annotations?.find((item) => item.name === ANNOTATIONS.generation)?.value;
    if (named) return `${named}/`;
    const location = model.entities?.flatMap((entity) => entity.partitions ?? [])[0]?.location;
    if (!location) return undefined;
    const match = /\/(g\d{8}T\d{9}Z(?:-[0-9a-f]+)?)\//.exec(new URL(location, 'http://x/').pathname);
    return match ? `${match[1]}/` : undefined;
  } catch {
    return undefined;
  }
}

async function removeOldGenerations(containerClient: ContainerClient, keep: (string | undefined)[]): Promise<string[]> {
  const removed: string[] = [];
  for await (const item of containerClient.listBlobsByHierarchy('/')) {
    if (item.kind !== 'prefix' || !GENERATION_PREFIX.test(item.name) || keep.includes(item.name)) continue;
    await removeGeneration(containerClient, item.name);
    removed.push(item.name.slice(0, -1));
  }
  return removed;
}

async function removeGeneration(containerClient: ContainerClient, prefix: string): Promise<void> {
  const names: string[] = [];
  for await (const blob of containerClient.listBlobsFlat({ prefix })) names.push(blob.name);
  // Partitions are few (hundreds at most), so a small fixed fan-out is enough.
  for (let i = 0; i < names.length; i += 16) {
    await Promise.all(names.slice(i, i + 16).map((name) => containerClient.deleteBlob(name).catch(ignoreNotFound)));
  }
}

function ignoreNotFound(error: unknown): void {
  if ((error as { statusCode?: number }).statusCode !== 404) throw error;
}

interface UploadSettings {
  containerClient: ContainerClient;
  generation: string;
  rowsPerPartition: number;
  blockSize: number;
  concurrency: number;
}

interface OpenPartition {
  /** What uploadStream reads; receives CSV text a batch of rows at a time. */
  stream: PassThrough;
  rows: number;
  done: Promise<void>;
}

/** Rows stringified at a time: large enough to make per-call costs vanish, small enough to stay flat. */
const BATCH_ROWS = 64;
const CSV_OPTIONS = { record_delimiter: '\n' } as const;

/**
 * Streams one entity's rows as RFC 4180 CSV into consecutive partition blobs of at most N rows.
 * Rows go through csv-stringify in batches rather than one stream write per row: the per-row
 * stream machinery (and one small Buffer per row in the upload) cost more than the CSV itself.
 */
class EntityWriter {
  rows = 0;
  bytes = 0;
  readonly partitions: SeededPartition[] = [];
  private current: OpenPartition | undefined;
  private batch: string[][] = [];
  private readonly finishing: Promise<void>[] = [];
  private failure: Error | undefined;

  constructor(
    private readonly settings: UploadSettings,
    private readonly entityName: string,
  ) {}

  /** Buffers one row; returns a promise only when the caller has to wait (back-pressure). */
  write(values: string[]): Promise<void> | undefined {
    if (this.failure !== undefined) throw this.failure;
    if (!this.current) {
      // Two finishing uploads per entity at most, so memory stays bounded at any partition size.
      if (this.finishing.length >= 2) return this.finishing.shift()!.then(() => this.write(values));
      this.current = this.open();
    }
    const part = this.current;
    part.rows++;
    this.rows++;
    this.batch.push(values);
    if (part.rows >= this.settings.rowsPerPartition) {
      this.flush(part);
      this.finishCurrent();
      return undefined;
    }
    if (this.batch.length < BATCH_ROWS) return undefined;
    return this.flush(part) ? undefined : this.drained(part);
  }

  async close(): Promise<void> {
    if (this.current) {
      this.flush(this.current);
      this.finishCurrent();
    }
    await Promise.all(this.finishing.splice(0));
    if (this.failure !== undefined) throw this.failure;
  }

  async abort(): Promise<void> {
    this.current?.stream.destroy();
    this.current = undefined;
    this.batch = [];
    await Promise.allSettled(this.finishing.splice(0));
  }

  /** Writes the buffered rows; false when the upload is behind and the caller should wait. */
  private flush(part: OpenPartition): boolean {
    if (this.batch.length === 0) return true;
    const text = stringify(this.batch, CSV_OPTIONS);
    this.batch = [];
    return part.stream.write(Buffer.from(text, 'utf8'));
  }

  private drained(part: OpenPartition): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (error?: unknown) => {
        part.stream.off('drain', done).off('error', done).off('close', done);
        const failure = (error as Error | undefined) ?? this.failure;
        if (failure !== undefined) reject(failure);
        else resolve();
      };
      part.stream
        .on('drain', () => done())
        .on('error', done)
        .on('close', () => done());
    });
  }

  private open(): OpenPartition {
    const index = this.partitions.length;
    const name = `part-${String(index).padStart(5, '0')}`;
    const blobName = `${this.settings.generation}${this.entityName}/${name}.csv`;
    const record: SeededPartition = { name, blobName, rows: 0, bytes: 0 };
    this.partitions.push(record);
    const stream = new PassThrough({ highWaterMark: 1024 * 1024 });
    // A failed upload destroys the stream with its error (below); the failure is kept and thrown
    // by the next write or close, so the stream's own 'error' event must not crash the process.
    stream.on('error', () => undefined);
    const part: OpenPartition = { stream, rows: 0, done: Promise.resolve() };
    part.done = this.settings.containerClient
      .getBlockBlobClient(blobName)
      .uploadStream(stream, this.settings.blockSize, this.settings.concurrency, {
        blobHTTPHeaders: { blobContentType: 'text/csv; charset=utf-8' },
        onProgress: ({ loadedBytes }) => (record.bytes = loadedBytes),
      })
      .then(() => {
        record.rows = part.rows;
        this.bytes += record.bytes;
      });
    // Handled at once so a failed upload never goes unnoticed, and a writer waiting for 'drain'
    // is released by the stream's error instead of waiting forever.
    part.done.catch((error: unknown) => {
      this.failure ??= error as Error;
      stream.destroy(error as Error);
    });
    return part;
  }

  private finishCurrent(): void {
    const part = this.current!;
    this.current = undefined;
    part.stream.end();
    this.finishing.push(part.done);
  }
}
