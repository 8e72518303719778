// Small helpers for Table Storage entities: JSON columns and ETag-guarded writes mapped to
// domain errors, so stores stay short and every update honours If-Match the same way.
import { RestError, type TableClient, type TableEntity, type TableEntityResult } from '@azure/data-tables';
import { Conflict, NotFound, PayloadTooLarge, PreconditionFailed } from '../errors.js';
import { isPreconditionFailed } from './preconditionFailed.js';

export function toJson(value: unknown): string {
  return JSON.stringify(value ?? null);
}

export function fromJson<T>(value: unknown, fallback: T): T {
  if (typeof value !== 'string' || value === '') return fallback;
  return JSON.parse(value) as T;
}

export function isStatus(error: unknown, ...statuses: number[]): boolean {
  return error instanceof RestError && statuses.includes(error.statusCode ?? 0);
}

/** Table Storage refuses a column over 64 KiB or a row over 1 MiB; that is the caller's input being too big. */
function tooLargeToStore(error: unknown, what: string): PayloadTooLarge | undefined {
  if (!isStatus(error, 400, 413)) return undefined;
  const code =
    (error as RestError & { details?: { odataError?: { code?: string } } }).details?.odataError?.code ?? (error as RestError).code ?? '';
  const text = `${code} ${(error as Error).message}`;
  if (!/PropertyValueTooLarge|EntityTooLarge|RequestBodyTooLarge/.test(text)) return undefined;
  return new PayloadTooLarge(
    `The ${what.toLowerCase()} is too large to store: a single field may hold at most 32,768 characters. Shorten the longest values and retry.`,
  );
}

export async function getEntity<T extends object>(
  client: TableClient,
  partitionKey: string,
  rowKey: string,
): Promise<TableEntityResult<T> | undefined> {
  try {
    return await client.getEntity<T>(partitionKey, rowKey);
  } catch (error) {
    if (isStatus(error, 404)) return undefined;
    throw error;
  }
}

/** Inserts; a row that exists already is a Conflict. */
export async function insertEntity<T extends object>(client: TableClient, entity: TableEntity<T>, what: string): Promise<string> {
  try {
    const result = await client.createEntity(entity);
    return result.etag!;
  } catch (error) {
    if (isStatus(error, 409)) throw new Conflict(`${what} '${entity.rowKey}' exists already.`);
    throw tooLargeToStore(error, what) ?? error;
  }
}

/** Replaces the row only if its ETag still matches (optimistic concurrency). */
export async function replaceEntity<T extends object>(
  client: TableClient,
  entity: TableEntity<T>,
  etag: string,
  what: string,
): Promise<string> {
  try {
    const result = await client.updateEntity(entity, 'Replace', { etag });
    return result.etag!;
  } catch (error) {
    if (isPreconditionFailed(error))
      throw new PreconditionFailed(`${what} '${entity.rowKey}' was changed by someone else; read it again and retry with its new ETag.`);
    if (isStatus(error, 404)) throw new NotFound(`${what} '${entity.rowKey}' does not exist.`);
    throw tooLargeToStore(error, what) ?? error;
  }
}

/** Deletes the row only if its ETag still matches. */
export async function deleteEntityIfMatch(
  client: TableClient,
  partitionKey: string,
  rowKey: string,
  etag: string,
  what: string,
): Promise<void> {
  try {
    await client.deleteEntity(partitionKey, rowKey, { etag });
  } catch (error) {
    if (isPreconditionFailed(error))
      throw new PreconditionFailed(`${what} '${rowKey}' was changed by someone else; read it again and retry with its new ETag.`);
    if (isStatus(error, 404)) throw new NotFound(`${what} '${rowKey}' does not exist.`);
    throw error;
  }
}

/** Lists a whole partition (or a filtered query) into memory; only for small partitions. */
export async function listEntities<T extends object>(client: TableClient, filter?: string): Promise<TableEntityResult<T>[]> {
  const rows: TableEntityResult<T>[] = [];
  for await (const row of client.listEntities<T>({ queryOptions: filter ? { filter } : undefined })) rows.push(row);
  return rows;
}
