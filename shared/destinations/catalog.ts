// The destinations catalog, built from each adapter's own declarations.
import { z } from 'zod';
import { destinations } from './registry.js';
import { capabilitiesOf, type DestinationAdapter } from './destination.js';
import { connectionLimits } from '../connections/connection.js';

export interface CatalogField {
  name: string;
  type: string;
  required: boolean;
  secret: boolean;
  description?: string;
}

const catalogField = z.object({
  name: z.string(),
  type: z.string(),
  required: z.boolean(),
  secret: z.boolean(),
  description: z.string().optional(),
});

/** One catalog entry, for the OpenAPI document (entries may carry more than this). */
export const catalogEntrySchema = z.looseObject({
  type: z.string(),
  displayName: z.string(),
  connectionFields: z.array(catalogField),
  exportDetails: z.array(catalogField),
  dataMatching: z.array(z.object({ name: z.string(), label: z.string(), required: z.boolean(), description: z.string().optional() })),
  batchSize: z.number().int(),
  limits: z.looseObject({
    maxMembersPerExport: z.number(),
    requestsPerSecond: z.number(),
    burst: z.number(),
    maxConcurrentRequests: z.number().optional(),
  }),
  connectionLimits: z.array(catalogField),
  eligibleSegmentTypes: z.array(z.enum(['Profile', 'Contact', 'Account'])),
  exportKinds: z.array(z.enum(['segment', 'dataOut'])),
  capabilities: z.object({
    changes: z
      .boolean()
      .meta({ description: "A segment export may use delivery.mode 'changes' (only joined or changed members are sent)." }),
    removals: z.boolean().meta({ description: 'A segment export may use delivery.removals (members who left are removed from the list).' }),
  }),
});

function fieldsOf(schema: z.ZodType, secret: boolean): CatalogField[] {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as {
    properties?: Record<string, { type?: string; description?: string; enum?: unknown[] }>;
    required?: string[];
  };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    type: property.enum ? 'enum' : (property.type ?? 'string'),
    required: (json.required ?? []).includes(name),
    secret,
    ...(property.description ? { description: property.description } : {}),
  }));
}

export function catalogEntry(destination: DestinationAdapter) {
  return {
    type: destination.type,
    displayName: destination.displayName,
    connectionFields: [...fieldsOf(destination.connectionSettings, false), ...fieldsOf(destination.connectionSecrets, true)],
    exportDetails: fieldsOf(destination.exportDetails, false),
    dataMatching: destination.dataMatching,
    batchSize: destination.batchSize,
    limits: destination.limits,
    /** What a connection's `limits` may lower (never raise) for one account. */
    connectionLimits: fieldsOf(connectionLimits, false),
    eligibleSegmentTypes: destination.eligibleSegmentTypes,
    exportKinds: destination.exportKinds,
    capabilities: capabilitiesOf(destination),
  };
}

export function destinationCatalog() {
  return destinations.map(catalogEntry);
}
