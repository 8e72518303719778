// A use case of export setup: the lake's segments to choose from, with each one's eligibility for
// the chosen connection (the lake folder only reads the lake).
import type { Principal } from '../auth/principal.js';
import { getVisibleConnection } from '../connections/manageConnections.js';
import { destinationFor } from '../destinations/registry.js';
import { eligibilityOf } from './eligibility.js';
import { listLakeSegments } from '../lake/segmentCatalog.js';

/** The lake's segments, with eligibility and limit warnings when a connection is given. */
export async function listSegmentsFor(principal: Principal, connectionId: string | undefined) {
  const segments = await listLakeSegments();
  const plain = segments.map(({ id, name, type, memberCount }) => ({ id, name, type, memberCount }));
  if (!connectionId) return plain;
  const connection = await getVisibleConnection(principal, connectionId);
  const destination = destinationFor(connection.type);
  return segments.map((segment, index) => ({ ...plain[index]!, ...eligibilityOf(segment, destination, connection.limits) }));
}
