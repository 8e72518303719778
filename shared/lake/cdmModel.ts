// The CDM folder metadata file (model.json) as the platform upstream writes it: entities with
// attributes and CSV partitions, plus Outflow's segment annotations. Unknown fields are kept
// (real producers add more), but what the reader relies on is validated.
import { z } from 'zod';

/** Annotation names on segment entities (values are strings, as CDM annotations always are). */
export const ANNOTATIONS = {
  /** Segment display name, e.g. "All customers". Its presence marks an entity as a segment. */
  segmentName: 'outflow:segmentName',
  /** Profile | Contact | Account: what one row of the segment is. */
  segmentType: 'outflow:segmentType',
  /** Number of members (= rows over all partitions), as a decimal string. */
  memberCount: 'outflow:memberCount',
  /** The entity whose attributes the segment's rows carry (UnifiedCustomerProfile, Contact, Account). */
  sourceEntity: 'outflow:sourceEntity',
  /** Rows in an entity or in one partition, as a decimal string. */
  rowCount: 'outflow:rowCount',
  /** Model level: b2c | b2b. */
  environmentKind: 'outflow:environmentKind',
  /** Model level: the blob prefix (without slash) holding this model's partitions. */
  generation: 'outflow:generation',
} as const;

export const SEGMENT_TYPES = ['Profile', 'Contact', 'Account'] as const;
export type SegmentType = (typeof SEGMENT_TYPES)[number];

/** model.json attribute data types (CDM "dataType" values). */
export const CDM_DATA_TYPES = [
  'unclassified',
  'string',
  'int64',
  'double',
  'dateTime',
  'dateTimeOffset',
  'decimal',
  'boolean',
  'guid',
  'json',
] as const;
export type CdmDataType = (typeof CDM_DATA_TYPES)[number];

const isoTime = z.string().refine((value) => !Number.isNaN(Date.parse(value)), 'must be an ISO 8601 date-time');

export const cdmAnnotationSchema = z.looseObject({
  name: z.string().min(1),
  value: z.string(),
});
export type CdmAnnotation = z.infer<typeof cdmAnnotationSchema>;

export const cdmAttributeSchema = z.looseObject({
  name: z.string().min(1),
  description: z.string().optional(),
  dataType: z.enum(CDM_DATA_TYPES),
  annotations: z.array(cdmAnnotationSchema).optional(),
});
export type CdmAttribute = z.infer<typeof cdmAttributeSchema>;

export const csvFormatSettingsSchema = z.looseObject({
  $type: z.literal('CsvFormatSettings'),
  columnHeaders: z.boolean().default(false),
  delimiter: z.string().length(1).default(','),
  quoteStyle: z.string().default('QuoteStyle.Csv'),
  csvStyle: z.string().default('CsvStyle.QuoteAlways'),
  encoding: z.string().optional(),
});
export type CsvFormatSettings = z.infer<typeof csvFormatSettingsSchema>;

export const cdmPartitionSchema = z.looseObject({
  name: z.string().min(1),
  description: z.string().optional(),
  /** Blob URL of the CSV file; readers use only its path inside the container. */
  location: z.string().min(1),
  refreshTime: isoTime.optional(),
  fileFormatSettings: csvFormatSettingsSchema.optional(),
  annotations: z.array(cdmAnnotationSchema).optional(),
});
export type CdmPartition = z.infer<typeof cdmPartitionSchema>;

export const cdmLocalEntitySchema = z.looseObject({
  $type: z.literal('LocalEntity'),
  name: z.string().min(1),
  description: z.string().optional(),
  annotations: z.array(cdmAnnotationSchema).optional(),
  attributes: z.array(cdmAttributeSchema).min(1),
  partitions: z.array(cdmPartitionSchema),
});
export type CdmLocalEntity = z.infer<typeof cdmLocalEntitySchema>;

/** Entities defined in another model: accepted so a real model.json validates, then dropped (Outflow never reads them). */
export const cdmReferenceEntitySchema = z.looseObject({
  $type: z.literal('ReferenceEntity'),
  name: z.string().min(1),
  description: z.string().optional(),
  source: z.string().optional(),
  modelId: z.string().optional(),
});

const cdmEntitiesSchema = z
  .array(z.discriminatedUnion('$type', [cdmLocalEntitySchema, cdmReferenceEntitySchema]))
  .superRefine((entities, ctx) => {
    const seen = new Set<string>();
    entities.forEach((entity, index) => {
      if (seen.has(entity.name)) ctx.addIssue({ code: 'custom', path: [index, 'name'], message: `duplicate entity name '${entity.name}'` });
      seen.add(entity.name);
      if (entity.$type !== 'LocalEntity' || annotation(entity, ANNOTATIONS.segmentName) === undefined) return;
      // A segment the planner cannot size or type is useless: reject it here, not mid-run.
      const type = annotation(entity, ANNOTATIONS.segmentType);
      if (!SEGMENT_TYPES.includes(type as SegmentType)) {
        ctx.addIssue({
          code: 'custom',
          path: [index, 'annotations'],
          message: `${ANNOTATIONS.segmentType} must be one of ${SEGMENT_TYPES.join(', ')}`,
        });
      }
      if (!/^\d+$/.test(annotation(entity, ANNOTATIONS.memberCount) ?? '')) {
        ctx.addIssue({
          code: 'custom',
          path: [index, 'annotations'],
          message: `${ANNOTATIONS.memberCount} must be a non-negative integer`,
        });
      }
    });
  })
  .transform((entities) => entities.filter((entity): entity is CdmLocalEntity => entity.$type === 'LocalEntity'));

export const cdmModelSchema = z.looseObject({
  name: z.string().min(1),
  description: z.string().optional(),
  version: z.literal('1.0'),
  culture: z.string().optional(),
  modifiedTime: isoTime,
  annotations: z.array(cdmAnnotationSchema).optional(),
  /** Local entities only, after validation. */
  entities: cdmEntitiesSchema,
  referenceModels: z.array(z.looseObject({ id: z.string(), location: z.string() })).optional(),
  relationships: z.array(z.looseObject({})).optional(),
});
export type CdmModel = z.infer<typeof cdmModelSchema>;
/** What model.json producers write (defaults may be left out). */
export type CdmModelInput = z.input<typeof cdmModelSchema>;

/** The value of a named annotation, if present. */
export function annotation(
  holder: { annotations?: readonly { name: string; value: string }[] | undefined },
  name: string,
): string | undefined {
  return holder.annotations?.find((item) => item.name === name)?.value;
}

/** The CSV settings Outflow writes and assumes when a partition carries none. */
export const DEFAULT_CSV_FORMAT: CsvFormatSettings = {
  $type: 'CsvFormatSettings',
  columnHeaders: false,
  delimiter: ',',
  quoteStyle: 'QuoteStyle.Csv',
  csvStyle: 'CsvStyle.QuoteAlways',
  encoding: 'UTF-8',
};
