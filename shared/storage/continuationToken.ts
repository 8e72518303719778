// Continuation tokens of Table Storage pages, as the @azure/data-tables SDK makes them (base64 of
// {"nextPartitionKey", "nextRowKey"}). Callers hand them back to us, so they are checked before the
// SDK decodes them: a token the SDK cannot read would otherwise fail deep inside it.
import { z } from 'zod';

// Keys Table Storage accepts: no / \ # ? and no control characters.
const TABLE_KEY = /^[^/\\#?\u0000-\u001f\u007f-\u009f]{1,1024}$/;

export function isTableContinuationToken(token: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(token)) return false;
  const bytes = Buffer.from(token, 'base64');
  if (bytes.toString('base64').replace(/=+$/, '') !== token.replace(/=+$/, '')) return false;
  try {
    // The SDK reads the bytes one char per byte, so the same here.
    const decoded = JSON.parse(bytes.toString('latin1')) as { nextPartitionKey?: unknown; nextRowKey?: unknown };
    if (typeof decoded !== 'object' || decoded === null || Array.isArray(decoded)) return false;
    if (Object.keys(decoded).some((key) => key !== 'nextPartitionKey' && key !== 'nextRowKey')) return false;
    if (typeof decoded.nextPartitionKey !== 'string' || !TABLE_KEY.test(decoded.nextPartitionKey)) return false;
    return decoded.nextRowKey === undefined || (typeof decoded.nextRowKey === 'string' && TABLE_KEY.test(decoded.nextRowKey));
  } catch {
    return false;
  }
}

/** The `continuationToken` query value of a page read from Table Storage. */
export const tableContinuationToken = z
  .string()
  .max(4096)
  // A '+' pasted into a URL unencoded arrives as a space.
  .transform((token) => token.replace(/ /g, '+'))
  .refine(isTableContinuationToken, 'pass the continuationToken of the previous page unchanged (or leave it out for the first page)');
