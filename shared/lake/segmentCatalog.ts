// The lake's segments and entities as the API and the planner see them.
import { lakeContainer } from '../storage/clients.js';
import { NotFound, ServiceUnavailable } from '../errors.js';
import type { SegmentType } from '../destinations/destination.js';
import type { CdmModel } from './cdmModel.js';
import { listEntities as listModelEntities, listSegments as listModelSegments, readModel } from './lakeReader.js';

export interface SegmentSummary {
  id: string;
  name: string;
  type: SegmentType;
  memberCount: number;
  /** The segment entity's attribute names, in column order. */
  attributes: string[];
}

export interface EntitySummary {
  name: string;
  attributes: { name: string; dataType: string }[];
  partitions: number;
}

/** Reads model.json; a lake that is missing or unreadable is a 503 the caller can retry. */
export async function loadLakeModel(): Promise<CdmModel> {
  try {
    return await readModel(lakeContainer());
  } catch (error) {
    throw new ServiceUnavailable(`The lake could not be read: ${(error as Error).message}`);
  }
}

export function segmentsOf(model: CdmModel): SegmentSummary[] {
  return listModelSegments(model).map((segment) => ({
    id: segment.id,
    name: segment.name,
    type: segment.type as SegmentType,
    memberCount: segment.memberCount,
    attributes: segment.entity.attributes.map((attribute) => attribute.name),
  }));
}

export function entitiesOf(model: CdmModel): EntitySummary[] {
  return listModelEntities(model).map((entity) => ({
    name: entity.name,
    attributes: entity.attributes.map((attribute) => ({ name: attribute.name, dataType: attribute.dataType })),
    partitions: entity.partitions.length,
  }));
}

export async function listLakeSegments(): Promise<SegmentSummary[]> {
  return segmentsOf(await loadLakeModel());
}

export function findSegment(segments: SegmentSummary[], id: string): SegmentSummary {
  const segment = segments.find((candidate) => candidate.id === id);
  if (!segment) throw new NotFound(`Segment '${id}' does not exist in the lake. GET /api/segments lists the segments.`);
  return segment;
}
