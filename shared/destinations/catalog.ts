// The destinations catalog, built from each adapter's own declarations.
import { z } from 'zod';
import { destinations } from './registry.js';
import type { DestinationAdapter } from './destination.js';
import { connectionLimits } from '../connections/connection.js';

export interface CatalogField {
  name: string;
  type: string;
  required: boolean;
  secret: boolean;
  description?: string;
}

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
  };
}

export function destinationCatalog() {
  return destinations.map(catalogEntry);
}
