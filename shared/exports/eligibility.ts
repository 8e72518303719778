// Which segments a destination accepts (the seeds' rule) and the member-limit warning.
import type { DestinationAdapter } from '../destinations/destination.js';
import type { ConnectionLimits } from '../connections/connection.js';
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

export function eligibilityOf(segment: SegmentSummary, destination: DestinationAdapter, limits?: ConnectionLimits): Eligibility {
  if (!destination.eligibleSegmentTypes.includes(segment.type)) {
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
