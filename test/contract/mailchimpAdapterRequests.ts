// The Mailchimp adapter's requests for one connection test, one run's preparation and one batch,
// against the simulator: both Mailchimp contract tests check these same requests, one against the
// official client's operations, the other against Mailchimp's published OpenAPI document.
import { expect } from 'vitest';
import { recordRequests, type RecordedRequest } from './openApiContract.js';
import { mailchimp } from '../../shared/destinations/mailchimp.js';
import type { DestinationCall, MappedMember, SegmentRef } from '../../shared/destinations/destination.js';

/** Runs the adapter's calls on audience aud-contract and returns the requests it sent. */
export async function mailchimpAdapterRequests(
  apiOrigin: string,
  apiKey: string,
  segment: SegmentRef,
  members: MappedMember[],
): Promise<RecordedRequest[]> {
  const call = { settings: {}, secrets: { apiKey }, details: { listId: 'aud-contract' }, apiOrigin } as DestinationCall<any, any, any>;
  const { requests } = await recordRequests(async () => {
    expect(await mailchimp.testConnection(call)).toEqual({ ok: true });
    const details = await mailchimp.prepareRun!(call, {
      segments: [segment],
      segmentNames: [segment.name],
      mappedFields: Object.keys(members[0]!.fields),
    });
    expect(await mailchimp.sendBatch({ ...call, details }, members)).toEqual({ succeeded: 2, failures: [] });
  });
  expect(new Set(requests.map((request) => `${request.method} ${new URL(request.url).pathname}`))).toEqual(
    new Set([
      'GET /3.0/ping',
      'GET /3.0/lists/aud-contract',
      'GET /3.0/lists/aud-contract/merge-fields',
      'POST /3.0/lists/aud-contract/merge-fields',
      'POST /3.0/lists/aud-contract',
    ]),
  );
  return requests;
}
