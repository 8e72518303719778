// Streaming CSV writers for data-out runs. A partition goes through csv-stringify into
// `uploadStream` (blocks staged as they fill, committed at the end, so a crashed attempt leaves
// no partial blob); spill and snapshot files are many small per-bucket files, staged block by block.
// Rows are stringified in batches: one stream write per row costs more than the CSV itself.
import { PassThrough } from 'node:stream';
import type { BlockBlobClient } from '@azure/storage-blob';
import { stringify } from 'csv-stringify/sync';

/** RFC 4180: CRLF line ends, fields quoted when they hold a comma, quote or line break. */
const CSV_OPTIONS = { record_delimiter: 'windows' } as const;
const BATCH_ROWS = 256;
/** Block size and blocks in flight per partition upload: memory per writer ≈ 3 × 2 MiB. */
const BLOCK_BYTES = 2 * 1024 * 1024;
const UPLOAD_CONCURRENCY = 2;

export class CsvPartitionWriter {
  rows = 0;
  bytes = 0;
  private readonly stream: PassThrough;
  private readonly upload: Promise<unknown>;
  private batch: string[][] = [];
  private failure: Error | undefined;

  /** `blockBytes`: smaller for the many small change partitions written at once by merges. */
  constructor(blob: BlockBlobClient, options: { header?: string[]; abortSignal?: AbortSignal; blockBytes?: number }) {
    const blockBytes = options.blockBytes ?? BLOCK_BYTES;
    this.stream = new PassThrough({ highWaterMark: blockBytes });
    this.upload = blob.uploadStream(this.stream, blockBytes, UPLOAD_CONCURRENCY, {
      blobHTTPHeaders: { blobContentType: 'text/csv; charset=utf-8' },
      abortSignal: options.abortSignal,
      onProgress: ({ loadedBytes }) => (this.bytes = loadedBytes),
    });
    // Handled at once: a failed upload must release a writer waiting for 'drain'.
    this.upload.catch((error: unknown) => {
      this.failure ??= error as Error;
      this.stream.destroy(error as Error);
    });
    if (options.header) this.batch.push(options.header);
  }

  /** Buffers one row; a promise only when the caller must wait for the upload (back-pressure). */
  write(values: string[]): Promise<void> | undefined {
    if (this.failure !== undefined) throw this.failure;
    this.rows++;
    this.batch.push(values);
    if (this.batch.length < BATCH_ROWS || this.flush()) return undefined;
    return new Promise((resolve, reject) => {
      const done = () => {
        this.stream.off('drain', done).off('close', done);
        if (this.failure !== undefined) reject(this.failure);
        else resolve();
      };
      this.stream.on('drain', done).on('close', done);
    });
  }

  async finish(): Promise<void> {
    this.flush();
    this.stream.end();
    await this.upload;
  }

  /** Stops without committing: nothing of this attempt becomes visible. */
  abort(): void {
    const reason = new Error('The partition write was abandoned.');
    this.failure ??= reason;
    // Destroyed with an error, uploadStream rejects instead of committing what it has.
    this.stream.destroy(reason);
    this.upload.catch(() => undefined);
  }

  private flush(): boolean {
    if (this.batch.length === 0) return true;
    const text = stringify(this.batch, CSV_OPTIONS);
    this.batch = [];
    return this.stream.write(Buffer.from(text, 'utf8'));
  }
}

/**
 * A CSV file written as staged blocks; nothing exists until commit (and nothing at all when
 * empty). Two blocks may be in flight (shared by the files of one BucketFiles), so reading the
 * next rows overlaps the uploads while memory stays bounded.
 */
export class BlockCsvFile {
  rows = 0;
  private batch: string[][] = [];
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly blockIds: string[] = [];
  private readonly own = new Set<Promise<void>>();
  private failure: Error | undefined;

  constructor(
    readonly blob: BlockBlobClient,
    private readonly blockBytes: number,
    private readonly inFlight = new Set<Promise<void>>(),
  ) {}

  /** Buffers one row; a promise only when two blocks are already on their way. */
  add(values: string[]): Promise<void> | undefined {
    if (this.failure !== undefined) throw this.failure;
    this.rows++;
    this.batch.push(values);
    if (this.batch.length < BATCH_ROWS) return undefined;
    this.stringifyBatch();
    if (this.pendingBytes < this.blockBytes) return undefined;
    this.stage();
    return this.inFlight.size >= 2 ? Promise.race(this.inFlight) : undefined;
  }

  async commit(): Promise<void> {
    this.stringifyBatch();
    if (this.pendingBytes > 0) this.stage();
    await Promise.all(this.own);
    if (this.failure !== undefined) throw this.failure;
    if (this.blockIds.length === 0) return;
    await this.blob.commitBlockList(this.blockIds, { blobHTTPHeaders: { blobContentType: 'text/csv; charset=utf-8' } });
  }

  private stringifyBatch(): void {
    if (this.batch.length === 0) return;
    const buffer = Buffer.from(stringify(this.batch, CSV_OPTIONS), 'utf8');
    this.batch = [];
    this.pending.push(buffer);
    this.pendingBytes += buffer.length;
  }

  private stage(): void {
    const body = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    // Block ids of one blob must have equal length; the list is committed in this order whatever
    // order the uploads end in, and a retried attempt restages the same ids.
    const id = Buffer.from(`block-${String(this.blockIds.length).padStart(6, '0')}`).toString('base64');
    this.blockIds.push(id);
    const upload: Promise<void> = this.blob.stageBlock(id, body, body.length).then(
      () => {
        this.inFlight.delete(upload);
        this.own.delete(upload);
      },
      (error: unknown) => {
        this.inFlight.delete(upload);
        this.own.delete(upload);
        this.failure ??= error as Error;
      },
    );
    this.inFlight.add(upload);
    this.own.add(upload);
  }
}

/** One BlockCsvFile per key bucket, created on first use, sharing a memory budget and two uploads in flight. */
export class BucketFiles {
  private readonly files = new Map<number, BlockCsvFile>();
  private readonly blockBytes: number;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    buckets: number,
    private readonly blobFor: (bucket: number) => BlockBlobClient,
    // Larger blocks mean fewer calls (16 buckets: 512 KB blocks); 8 MB per writer at most.
    budgetBytes = 8 * 1024 * 1024,
  ) {
    this.blockBytes = Math.max(64 * 1024, Math.min(1024 * 1024, Math.floor(budgetBytes / buckets)));
  }

  add(bucket: number, values: string[]): Promise<void> | undefined {
    let file = this.files.get(bucket);
    if (!file) this.files.set(bucket, (file = new BlockCsvFile(this.blobFor(bucket), this.blockBytes, this.inFlight)));
    return file.add(values);
  }

  async commit(): Promise<void> {
    await Promise.all([...this.files.values()].map((file) => file.commit()));
  }
}
