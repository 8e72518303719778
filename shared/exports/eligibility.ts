// Which segments a destination accepts (the seeds' rule) and the member-limit warning.
import type { DestinationAdapter } from '../destinations/destination.js';
import type { SegmentSummary } from '../lake/segmentCatalog.js';

export function ineligibleSegmentMessage(segmentName: string): string {
  return `The following segment isn't eligible for this export destination: '${segmentName}'. Choose only segments of type ContactProfile and try again.`;
}

export interface Eligibility {
  eligible: boolean;
  reason?: string;
  warning?: string;
}

export function eligibilityOf(segment: SegmentSummary, destination: DestinationAdapter): Eligibility {
  if (!destination.eligibleSegmentTypes.includes(segment.type)) {
    return { eligible: false, reason: ineligibleSegmentMessage(segment.name) };
  }
  const limit = destination.limits.maxMembersPerExport;
  if (segment.memberCount > limit) {
    return {
      eligible: true,
      warning: `The segment '${segment.name}' has ${segment.memberCount.toLocaleString('en-US')} members; ${destination.displayName} takes at most ${limit.toLocaleString('en-US')} per export, so a run would be skipped.`,
    };
  }
  return { eligible: true };
}
