// Which segments a destination accepts (the seeds' rule) and the member-limit warning.
import type { DestinationAdapter } from '../destinations/destination.js';
import type { ConnectionLimits } from '../connections/connectionLimits.js';
import type { SegmentSummary } from '../lake/segmentCatalog.js';

export function ineligibleSegmentMessage(segmentName: string): string {
  return `The following segment isn't eligible for this export destination: '${segmentName}'. Choose only segments of type ContactProfile and try again.`;
}

export interface Eligibility {
  eligible: boolean;
  reason?: string;
  warning?: string;
}

/** Members one export may send: the destination's cap, or the connection's when lower. */
export function maxMembersFor(destination: DestinationAdapter, limits: ConnectionLimits | undefined): number {
  const own = limits?.maxMembersPerExport;
  return own !== undefined && own > 0 ? Math.min(own, destination.limits.maxMembersPerExport) : destination.limits.maxMembersPerExport;
}

/** Segment types an export with these details accepts (all the destination's when none are given). */
export function segmentTypesFor(
  destination: DestinationAdapter,
  details?: Record<string, unknown>,
): DestinationAdapter['eligibleSegmentTypes'] {
  return details && destination.eligibleSegmentTypesFor ? destination.eligibleSegmentTypesFor(details) : destination.eligibleSegmentTypes;
}

/** Data-matching fields of an export with these details. */
export function dataMatchingFor(destination: DestinationAdapter, details?: Record<string, unknown>): DestinationAdapter['dataMatching'] {
  return details && destination.dataMatchingFor ? destination.dataMatchingFor(details) : destination.dataMatching;
}

export function eligibilityOf(
  segment: SegmentSummary,
  destination: DestinationAdapter,
  limits?: ConnectionLimits,
  details?: Record<string, unknown>,
): Eligibility {
  if (!segmentTypesFor(destination, details).includes(segment.type)) {
    return { eligible: false, reason: ineligibleSegmentMessage(segment.name) };
  }
  const limit = maxMembersFor(destination, limits);
  if (segment.memberCount > limit) {
    const who = limit < destination.limits.maxMembersPerExport ? 'this connection' : destination.displayName;
    return {
      eligible: true,
      warning: `The segment '${segment.name}' has ${segment.memberCount.toLocaleString('en-US')} members; ${who} takes at most ${limit.toLocaleString('en-US')} per export, so a run would be skipped.`,
    };
  }
  return { eligible: true };
}
