// Reads the platform's CDM lake: model.json, the segments and entities it lists, and byte ranges
// of CSV partitions as records. Everything streams; a partition is never held in memory.
import type { Readable } from 'node:stream';
import type { ContainerClient } from '@azure/storage-blob';
import {
  ANNOTATIONS,
  annotation,
  cdmModelSchema,
  DEFAULT_CSV_FORMAT,
  type CdmLocalEntity,
  type CdmModel,
  type CsvFormatSettings,
  type SegmentType,
} from './cdmModel.js';
import { isPreconditionFailed } from '../storage/preconditionFailed.js';
import { splitCsvRecord } from './csvRecord.js';

export const MODEL_BLOB = 'model.json';

/** The lake is missing, unreadable or its model.json is invalid. */
export class LakeError extends Error {
  override name = 'LakeError';
}

/** A partition changed (or vanished) since its ETag was taken: the snapshot is gone. */
export class PartitionChangedError extends LakeError {
  override name = 'PartitionChangedError';
  constructor(readonly blobName: string) {
    super(`Lake partition ${blobName} changed or was removed while it was being read.`);
  }
}

export interface LakeSegment {
  /** The segment entity's name (stable across lake generations). */
  id: string;
  name: string;
  type: SegmentType;
  memberCount: number;
  entity: CdmLocalEntity;
}

/** A data entity as model.json has it, plus its row count when the producer annotated it. */
export type LakeEntity = CdmLocalEntity & { rowCount?: number };

export interface PartitionBlob {
  blobName: string;
  size: number;
  etag: string;
  /** The partition's CSV settings (Outflow's defaults when model.json gives none). */
  format: CsvFormatSettings;
}

export interface ReadRecordsOptions {
  /** Fail with PartitionChangedError if the blob's ETag is no longer this one. */
  ifMatch?: string;
  /** Field delimiter (default ","). */
  delimiter?: string;
  /** The partition has a header row: skip it when reading from offset 0. */
  columnHeaders?: boolean;
  abortSignal?: AbortSignal;
}

export interface LakeRecord {
  /** Byte offset in the blob where this record starts; reading from it resumes at this record. */
  offset: number;
  values: string[];
}

/** Which model.json was read: a run's provenance (the lake snapshot it exported). */
export interface ModelVersion {
  etag: string;
  lastModified: string;
}

/** Reads and validates model.json. */
export async function readModel(containerClient: ContainerClient): Promise<CdmModel> {
  return (await readModelVersioned(containerClient)).model;
}

/** Reads and validates model.json, with the ETag and last-modified time of the version read. */
export async function readModelVersioned(containerClient: ContainerClient): Promise<{ model: CdmModel; version: ModelVersion }> {
  let buffer: Buffer;
  let version: ModelVersion;
  try {
    const response = await containerClient.getBlobClient(MODEL_BLOB).download();
    const parts: Buffer[] = [];
    for await (const part of response.readableStreamBody as AsyncIterable<Buffer>) parts.push(Buffer.from(part));
    buffer = Buffer.concat(parts);
    version = { etag: response.etag ?? '', lastModified: response.lastModified?.toISOString() ?? '' };
  } catch (error) {
    const status = (error as { statusCode?: number }).statusCode;
    if (status === 404) {
      throw new LakeError(
        `The lake has no ${MODEL_BLOB} in container '${containerClient.containerName}' (seed one locally with npm run -s seed).`,
      );
    }
    throw new LakeError(`The lake's ${MODEL_BLOB} could not be read: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(stripBom(buffer.toString('utf8')));
  } catch (error) {
    throw new LakeError(`The lake's ${MODEL_BLOB} is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = cdmModelSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 5)
      .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
      .join('; ');
    throw new LakeError(`The lake's ${MODEL_BLOB} is invalid: ${issues}`);
  }
  return { model: parsed.data, version };
}

function localEntities(model: CdmModel): CdmLocalEntity[] {
  return model.entities;
}

/** Segment entities (those carrying a segment name annotation), in model order. */
export function listSegments(model: CdmModel): LakeSegment[] {
  return localEntities(model).flatMap((entity) => {
    const name = annotation(entity, ANNOTATIONS.segmentName);
    if (name === undefined) return [];
    return [
      {
        id: entity.name,
        name,
        type: annotation(entity, ANNOTATIONS.segmentType) as SegmentType,
        memberCount: Number(annotation(entity, ANNOTATIONS.memberCount)),
        entity,
      },
    ];
  });
}

/** Data entities (profiles, contacts, accounts, …); segments only when asked for. */
export function listEntities(model: CdmModel, options: { includeSegments?: boolean } = {}): LakeEntity[] {
  return localEntities(model)
    .filter((entity) => options.includeSegments || annotation(entity, ANNOTATIONS.segmentName) === undefined)
    .map((entity) => {
      const rows = annotation(entity, ANNOTATIONS.rowCount);
      return rows !== undefined && /^\d+$/.test(rows) ? { ...entity, rowCount: Number(rows) } : entity;
    });
}

export function findEntity(model: CdmModel, name: string): CdmLocalEntity | undefined {
  return localEntities(model).find((entity) => entity.name === name);
}

/**
 * The blob name a partition location points at inside this container. Only the path counts, so
 * a lake keeps working when the storage endpoint (scheme, host, port) changes.
 */
export function partitionBlobName(containerClient: ContainerClient, location: string): string {
  const container = containerClient.containerName;
  // A relative location is already a path inside the container.
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) return decodeURIComponent(location.replace(/^\/+/, ''));
  const segments = new URL(location).pathname.split('/').filter((segment) => segment !== '');
  // Path style (Azurite: /account/container/blob) or host style (Azure: /container/blob).
  const ownPath = new URL(containerClient.url).pathname.split('/').filter((segment) => segment !== '');
  let start = -1;
  if (ownPath.length > 0 && ownPath.every((segment, i) => segments[i] === segment)) start = ownPath.length;
  else if (segments[0] === container) start = 1;
  else if (segments[1] === container) start = 2;
  if (start < 0 || start >= segments.length) {
    throw new LakeError(`Partition location ${location} is not inside container '${container}'.`);
  }
  return segments.slice(start).map(decodeURIComponent).join('/');
}

/** The entity's partitions with their current size and ETag (take the ETag once per run). */
export async function partitionBlobs(containerClient: ContainerClient, entity: CdmLocalEntity): Promise<PartitionBlob[]> {
  return Promise.all(
    entity.partitions.map(async (partition) => {
      const blobName = partitionBlobName(containerClient, partition.location);
      try {
        const properties = await containerClient.getBlobClient(blobName).getProperties();
        return {
          blobName,
          size: properties.contentLength ?? 0,
          etag: properties.etag ?? '',
          format: partition.fileFormatSettings ?? DEFAULT_CSV_FORMAT,
        };
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode === 404) {
          throw new LakeError(`Partition ${partition.name} of entity ${entity.name} is missing (${blobName}).`);
        }
        throw error;
      }
    }),
  );
}

const QUOTE = 0x22;
const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/**
 * Exact record starts cutting a partition into ranges of about targetBytes: [0, …, size]
 * ([0] for an empty blob). RFC 4180 fields may hold newlines inside quotes, so a newline ends a
 * record only at even quote parity; one streamed pass tracks the parity with native byte search.
 */
export async function recordBoundaries(
  containerClient: ContainerClient,
  blobName: string,
  size: number,
  targetBytes: number,
  options: { ifMatch?: string; abortSignal?: AbortSignal } = {},
): Promise<number[]> {
  if (!(targetBytes > 0)) throw new RangeError(`targetBytes must be positive, got ${targetBytes}`);
  const boundaries = [0];
  if (size <= 0) return boundaries;
  if (size <= targetBytes) return [0, size];
  const body = await download(containerClient, blobName, 0, size, options);
  let inQuotes = false;
  let chunkStart = 0;
  let nextTarget = targetBytes;
  for await (const chunk of body) {
    const bytes = chunk as Buffer;
    let i = 0;
    while (i < bytes.length) {
      const quote = bytes.indexOf(QUOTE, i);
      if (inQuotes) {
        if (quote < 0) break;
        inQuotes = false;
        i = quote + 1;
        continue;
      }
      // Outside quotes up to `end`: every newline here ends a record.
      const end = quote < 0 ? bytes.length : quote;
      let from = Math.max(i, nextTarget - 1 - chunkStart);
      while (from < end) {
        const newline = bytes.indexOf(NEWLINE, from);
        if (newline < 0 || newline >= end) break;
        const boundary = chunkStart + newline + 1;
        if (boundary < size) boundaries.push(boundary);
        nextTarget = boundary + targetBytes;
        from = Math.max(newline + 1, nextTarget - 1 - chunkStart);
      }
      if (quote < 0) break;
      inQuotes = true;
      i = quote + 1;
    }
    chunkStart += bytes.length;
  }
  if (chunkStart !== size) throw new PartitionChangedError(blobName);
  boundaries.push(size);
  return boundaries;
}

/**
 * Records of the byte range [start, end) of a partition; start must be a record start (0, a
 * boundary, or a record's offset). Streams only that range.
 */
export async function* readRecords(
  containerClient: ContainerClient,
  blobName: string,
  start: number,
  end: number,
  options: ReadRecordsOptions = {},
): AsyncGenerator<LakeRecord> {
  for await (const records of readRecordBatches(containerClient, blobName, start, end, options)) yield* records;
}

/**
 * readRecords by the downloaded piece: the records complete in each piece of the stream, in
 * order. A reader that takes them a piece at a time saves an await per record.
 *
 * A record without any quote character can only hold plain fields (RFC 4180), so it is split on
 * the delimiter directly; a record with a quote goes through splitCsvRecord. On generated lakes
 * this reads several times faster than csv-parse, whose per-byte loop otherwise dominated a run's CPU.
 */
export async function* readRecordBatches(
  containerClient: ContainerClient,
  blobName: string,
  start: number,
  end: number,
  options: ReadRecordsOptions = {},
): AsyncGenerator<LakeRecord[]> {
  const delimiter = options.delimiter ?? ',';
  const check = new RecordCheck(blobName, options.columnHeaders === true && start === 0);
  for await (const { buf, base, bounds } of recordPieces(containerClient, blobName, start, end, options)) {
    const records: LakeRecord[] = [];
    for (let index = 0; index < bounds.length; index += 3) {
      const offset = base + bounds[index]!;
      const first = contentStart(buf, bounds[index]!, offset);
      const stop = contentEnd(buf, bounds[index]!, bounds[index + 1]!);
      if (stop <= first) continue; // an empty line, skipped as csv-parse does
      const text = buf.toString('utf8', first, stop);
      const values = bounds[index + 2] ? check.split(text, delimiter, offset) : text.split(delimiter);
      if (check.keep(values.length, offset)) records.push({ offset, values });
    }
    if (records.length > 0) yield records;
  }
}

/**
 * The records of [start, end) as readRecordBatches gives them, but with only the fields at
 * `columns` decoded: a record's values hold those at their indexes and leave the others out. The
 * same checks (field counts, quoting) fail the same way. A sender needs a few of a row's fields: the others are never made into strings, and
 * each field it keeps is a string of its own, not a slice that holds on to the whole row's text.
 */
export async function* readFieldBatches(
  containerClient: ContainerClient,
  blobName: string,
  start: number,
  end: number,
  columns: readonly number[],
  options: ReadRecordsOptions = {},
): AsyncGenerator<LakeRecord[]> {
  const delimiter = options.delimiter ?? ',';
  const separator = delimiter.charCodeAt(0);
  if (delimiter.length !== 1 || separator >= 0x80) {
    // Not a one-byte delimiter: whole records.
    yield* readRecordBatches(containerClient, blobName, start, end, options);
    return;
  }
  const width = columns.reduce((widest, column) => Math.max(widest, column + 1), 0);
  const wanted = new Uint8Array(width);
  for (const column of columns) if (column >= 0) wanted[column] = 1;
  const check = new RecordCheck(blobName, options.columnHeaders === true && start === 0);
  for await (const { buf, base, bounds } of recordPieces(containerClient, blobName, start, end, options)) {
    const text = buf.toString('latin1');
    const records: LakeRecord[] = [];
    for (let index = 0; index < bounds.length; index += 3) {
      const offset = base + bounds[index]!;
      const first = contentStart(buf, bounds[index]!, offset);
      const stop = contentEnd(buf, bounds[index]!, bounds[index + 1]!);
      if (stop <= first) continue;
      let values = new Array<string>(width);
      let count = walkRecord(buf, text, first, stop, delimiter, bounds[index + 2] === 1, wanted, values);
      if (count < 0) {
        // Broken quoting: split whole, for splitCsvRecord's own error.
        values = check.split(buf.toString('utf8', first, stop), delimiter, offset);
        count = values.length;
      }
      if (check.keep(count, offset)) records.push({ offset, values });
    }
    if (records.length > 0) yield records;
  }
}

/** One column of a range's records: each record's byte offset and that field's value. */
export interface ColumnBatch {
  offsets: number[];
  values: string[];
}

/**
 * One column of the records of [start, end), as readRecords would give it (values[column]), in
 * batches per downloaded piece; the same checks (field counts, quoting) fail the same way. Only
 * that field is decoded (walkRecord finds the delimiters by string search): a planner's pass over
 * a segment costs a fraction of reading every field.
 */
export async function* readColumn(
  containerClient: ContainerClient,
  blobName: string,
  start: number,
  end: number,
  column: number,
  options: ReadRecordsOptions = {},
): AsyncGenerator<ColumnBatch> {
  const delimiter = options.delimiter ?? ',';
  const separator = delimiter.charCodeAt(0);
  if (delimiter.length !== 1 || separator >= 0x80) {
    // Not a one-byte delimiter: take the column from whole records.
    for await (const records of readRecordBatches(containerClient, blobName, start, end, options))
      yield { offsets: records.map((record) => record.offset), values: records.map((record) => record.values[column] ?? '') };
    return;
  }
  const wanted = new Uint8Array(column + 1);
  wanted[column] = 1;
  const check = new RecordCheck(blobName, options.columnHeaders === true && start === 0);
  for await (const { buf, base, bounds } of recordPieces(containerClient, blobName, start, end, options)) {
    const text = buf.toString('latin1');
    const batch: ColumnBatch = { offsets: [], values: [] };
    for (let index = 0; index < bounds.length; index += 3) {
      const offset = base + bounds[index]!;
      const first = contentStart(buf, bounds[index]!, offset);
      const stop = contentEnd(buf, bounds[index]!, bounds[index + 1]!);
      if (stop <= first) continue;
      const values = new Array<string>(column + 1);
      let count = walkRecord(buf, text, first, stop, delimiter, bounds[index + 2] === 1, wanted, values);
      let value = values[column] ?? '';
      if (count < 0) {
        const split = check.split(buf.toString('utf8', first, stop), delimiter, offset);
        count = split.length;
        value = split[column] ?? '';
      }
      if (check.keep(count, offset)) {
        batch.offsets.push(offset);
        batch.values.push(value);
      }
    }
    if (batch.offsets.length > 0) yield batch;
  }
}

/** A downloaded piece and the records that end in it: [from, to, quoted] per record, line ending included; base is buf[0]'s offset in the blob. */
interface RecordPiece {
  buf: Buffer;
  base: number;
  bounds: number[];
}

/**
 * The records of [start, end) found by the same quote-parity byte scan as recordBoundaries
 * (native byte search for newlines and quotes), a downloaded piece at a time. A record cut by
 * a piece's end is carried to the next.
 */
async function* recordPieces(
  containerClient: ContainerClient,
  blobName: string,
  start: number,
  end: number,
  options: ReadRecordsOptions,
): AsyncGenerator<RecordPiece> {
  if (end <= start) return;
  const body = await download(containerClient, blobName, start, end - start, options);
  // The record cut by the last piece's end (its bytes so far) and its offset; the offset of the
  // current piece; the quote state and whether the open record has quotes.
  let carry: Buffer | undefined;
  let carryBase = start;
  let base = start;
  let inQuotes = false;
  let quoted = false;
  try {
    for await (const chunk of body) {
      const buf = chunk as Buffer;
      let i = 0;
      let recordStart = 0;
      let nextQuote = buf.indexOf(QUOTE, i);
      const bounds: number[] = [];
      while (i < buf.length) {
        if (inQuotes) {
          if (nextQuote < 0) break;
          inQuotes = false;
          i = nextQuote + 1;
          nextQuote = buf.indexOf(QUOTE, i);
          continue;
        }
        const newline = buf.indexOf(NEWLINE, i);
        if (newline >= 0 && (nextQuote < 0 || newline < nextQuote)) {
          if (carry) {
            // The carried record ends here: only its bytes are joined, never the whole piece.
            const joined = Buffer.concat([carry, buf.subarray(0, newline + 1)]);
            carry = undefined;
            yield { buf: joined, base: carryBase, bounds: [0, joined.length, quoted ? 1 : 0] };
          } else bounds.push(recordStart, newline + 1, quoted ? 1 : 0);
          recordStart = i = newline + 1;
          quoted = false;
          continue;
        }
        if (nextQuote < 0) break;
        quoted = inQuotes = true;
        i = nextQuote + 1;
        nextQuote = buf.indexOf(QUOTE, i);
      }
      if (bounds.length > 0) yield { buf, base, bounds };
      // The unfinished record waits for the next piece.
      if (carry) carry = Buffer.concat([carry, buf]);
      else if (recordStart < buf.length) {
        // A copy of the few bytes, so the piece can be released.
        carry = Buffer.from(buf.subarray(recordStart));
        carryBase = base + recordStart;
      }
      base += buf.length;
    }
    if (carry) {
      if (inQuotes) throw new LakeError(`Unclosed quote in the CSV record at byte ${carryBase} of ${blobName}.`);
      yield { buf: carry, base: carryBase, bounds: [0, carry.length, quoted ? 1 : 0] };
    }
  } catch (error) {
    throw wrapDownloadError(error, blobName);
  } finally {
    body.destroy();
  }
}

/**
 * The fields of the record buf[first, stop), read as splitCsvRecord reads them (RFC 4180: a field
 * wholly in quotes, a doubled quote standing for one) with only the fields marked in `wanted`
 * decoded, as UTF-8, into `values`. Delimiters and quotes are found by string search in `text`,
 * the piece as Latin-1, whose character indexes are its byte offsets (a one-byte delimiter and
 * the quote never occur inside a multi-byte UTF-8 character). `quoted`: whether the record holds
 * a quote at all. Answers the field count, or -1 where the quoting is broken (the caller splits
 * the record's text then, for splitCsvRecord's error and its position).
 */
function walkRecord(
  buf: Buffer,
  text: string,
  first: number,
  stop: number,
  delimiter: string,
  quoted: boolean,
  wanted: Uint8Array,
  values: string[],
): number {
  let count = 0;
  let at = first;
  let nextQuote = quoted ? text.indexOf('"', first) : -1;
  for (;;) {
    const keep = count < wanted.length && wanted[count] === 1;
    if (quoted && at < stop && text.charCodeAt(at) === QUOTE) {
      let from = at + 1;
      let doubled = false;
      let close: number;
      for (;;) {
        const quote = text.indexOf('"', from);
        if (quote < 0 || quote >= stop) return -1;
        if (quote + 1 < stop && text.charCodeAt(quote + 1) === QUOTE) {
          doubled = true;
          from = quote + 2;
          continue;
        }
        close = quote;
        break;
      }
      if (keep) {
        const value = buf.toString('utf8', at + 1, close);
        values[count] = doubled ? value.replaceAll('""', '"') : value;
      }
      count++;
      at = close + 1;
      if (at === stop) return count;
      if (text[at] !== delimiter) return -1;
      at++;
      nextQuote = text.indexOf('"', at);
      continue;
    }
    let next = text.indexOf(delimiter, at);
    if (next < 0 || next > stop) next = stop;
    // A quote inside a field that does not start with one.
    if (nextQuote >= 0 && nextQuote < next) return -1;
    if (keep) values[count] = buf.toString('utf8', at, next);
    count++;
    if (next >= stop) return count;
    at = next + 1;
    if (nextQuote >= 0 && nextQuote < at) nextQuote = text.indexOf('"', at);
  }
}

/** Where a record's content starts in buf: after the BOM at the blob's start. */
function contentStart(buf: Buffer, from: number, offset: number): number {
  return offset === 0 && buf[from] === 0xef && buf[from + 1] === 0xbb && buf[from + 2] === 0xbf ? from + 3 : from;
}

/** Where a record's content ends in buf: before its line ending (LF or CRLF). */
function contentEnd(buf: Buffer, from: number, to: number): number {
  let stop = to;
  if (stop > from && buf[stop - 1] === NEWLINE) stop--;
  if (stop > from && buf[stop - 1] === CARRIAGE_RETURN) stop--;
  return stop;
}

/** What every record of a range must pass: one field count throughout, valid quoting; the header row is read, checked and dropped. */
class RecordCheck {
  private fields: number | undefined;
  constructor(
    private readonly blobName: string,
    private skipHeader: boolean,
  ) {}

  split(text: string, delimiter: string, offset: number): string[] {
    try {
      return splitCsvRecord(text, delimiter);
    } catch (error) {
      throw new LakeError(`Malformed CSV in the record at byte ${offset} of ${this.blobName}: ${(error as Error).message}.`);
    }
  }

  /** Whether the record is one to give out (not the header); throws when its field count differs. */
  keep(count: number, offset: number): boolean {
    this.fields ??= count;
    if (count !== this.fields)
      throw new LakeError(`CSV record at byte ${offset} of ${this.blobName} has ${count} fields, expected ${this.fields}.`);
    if (!this.skipHeader) return true;
    this.skipHeader = false;
    return false;
  }
}

async function download(
  containerClient: ContainerClient,
  blobName: string,
  offset: number,
  count: number,
  options: { ifMatch?: string; abortSignal?: AbortSignal },
): Promise<Readable> {
  try {
    const response = await containerClient.getBlobClient(blobName).download(offset, count, {
      conditions: options.ifMatch ? { ifMatch: options.ifMatch } : undefined,
      abortSignal: options.abortSignal,
      // The SDK re-requests the rest of the range if the connection drops mid-stream.
      maxRetryRequests: 5,
    });
    if (!response.readableStreamBody) throw new LakeError(`Partition ${blobName} returned no body.`);
    // In Node the body is an IncomingMessage, i.e. a Readable.
    return response.readableStreamBody as Readable;
  } catch (error) {
    throw wrapDownloadError(error, blobName);
  }
}

function wrapDownloadError(error: unknown, blobName: string): unknown {
  const status = (error as { statusCode?: number }).statusCode;
  if (isPreconditionFailed(error) || status === 404) return new PartitionChangedError(blobName);
  return error;
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
