// The one test for "someone wrote it first": a conditional write (If-Match, If-None-Match) that
// storage refused with 412, seen either as the stores' PreconditionFailed or as the SDK's error
// (tables and blobs both answer 412 Precondition Failed; see
// https://learn.microsoft.com/rest/api/storageservices/specifying-conditional-headers-for-blob-service-operations).
import { PreconditionFailed } from '../errors.js';

export function isPreconditionFailed(error: unknown): boolean {
  if (error instanceof PreconditionFailed) return true;
  // Table and blob SDK errors (RestError) carry statusCode; instanceof would depend on which copy
  // of @azure/core-rest-pipeline threw it.
  return (error as { statusCode?: unknown } | undefined)?.statusCode === 412;
}
