// The bare floor of a segment export to Campaign Monitor: one plain process reads the segment's
// lake partitions from storage (one range per partition), parses them, maps each row and posts
// batches of 1,000 to the import endpoint, a fixed number in flight. No queues, no ledger, no
// rate budget, no retries: the least work any pipeline must do for the same members.
//   AzureWebJobsStorage=… node dist/bench/bareFloor.js --api-url URL --segment Segment_AllCustomers --mapping '{"email":"Email"}' [--list-id floor] [--in-flight 8]
// Prints one JSON line: members, posts, seconds, this process's CPU-seconds and peak RSS.
import { parseArgs } from 'node:util';
import { BlobServiceClient } from '@azure/storage-blob';
import { partitionBlobs, readModel, readRecordBatches } from '../shared/lake/lakeReader.js';
import { matchingPlan, matchRecord } from '../shared/segmentSender/dataMatching.js';
import { CAMPAIGN_MONITOR_BATCH_LIMIT, campaignMonitorImportBody } from '../shared/destinations/campaignMonitor.js';
import type { MappedMember } from '../shared/destinations/destination.js';

const { values } = parseArgs({
  options: {
    'api-url': { type: 'string' },
    segment: { type: 'string', default: 'Segment_AllCustomers' },
    mapping: { type: 'string', default: '{"email":"Email"}' },
    'list-id': { type: 'string', default: 'floor' },
    'api-key': { type: 'string', default: 'bench-key' },
    'in-flight': { type: 'string', default: '8' },
  },
});
const connectionString = process.env.AzureWebJobsStorage;
if (!connectionString || !values['api-url']) throw new Error('Set AzureWebJobsStorage and --api-url.');
const inFlight = Number(values['in-flight']);
const url = `${values['api-url']!.replace(/\/$/, '')}/api/v3.3/subscribers/${encodeURIComponent(values['list-id']!)}/import.json`;
const headers = {
  authorization: `Basic ${Buffer.from(`${values['api-key']}:x`).toString('base64')}`,
  'content-type': 'application/json',
  accept: 'application/json',
};

const started = Date.now();
const cpuAtStart = process.cpuUsage();
const container = BlobServiceClient.fromConnectionString(connectionString).getContainerClient(process.env.LAKE_CONTAINER || 'lake');
const model = await readModel(container);
const entity = model.entities.find((candidate) => candidate.name === values.segment);
if (!entity) throw new Error(`No entity ${values.segment} in the lake.`);
const plan = matchingPlan(
  JSON.parse(values.mapping!) as Record<string, string>,
  entity.attributes.map((attribute) => attribute.name),
);

let members = 0;
let posts = 0;
let failedPosts = 0;
let retries = 0;
const pending = new Set<Promise<void>>();
const post = (batch: MappedMember[]) => {
  // The adapter's own encoding of the import body.
  const body = campaignMonitorImportBody(batch);
  // A connection the server closed as it was reused (keep-alive, a loaded machine) is tried again, as the engine does.
  const attempt = async (tries: number): Promise<void> => {
    try {
      const response = await fetch(url, { method: 'POST', headers, body });
      await response.text();
      posts++;
      if (!response.ok) failedPosts++;
    } catch (error) {
      if (tries >= 5) throw error;
      retries++;
      return attempt(tries + 1);
    }
  };
  const sent: Promise<void> = attempt(1).finally(() => pending.delete(sent));
  pending.add(sent);
};

for (const blob of await partitionBlobs(container, entity)) {
  let batch: MappedMember[] = [];
  // A downloaded piece's records at a time, as the senders read them.
  for await (const records of readRecordBatches(container, blob.blobName, 0, blob.size, {
    ifMatch: blob.etag,
    delimiter: blob.format.delimiter,
    columnHeaders: blob.format.columnHeaders,
  })) {
    for (const record of records) {
      const matched = matchRecord(plan, record.values);
      if (!matched.ok) continue;
      members++;
      batch.push(matched.member);
      if (batch.length === CAMPAIGN_MONITOR_BATCH_LIMIT) {
        post(batch);
        batch = [];
        while (pending.size >= inFlight) await Promise.race(pending);
      }
    }
  }
  if (batch.length > 0) post(batch);
}
await Promise.all(pending);
const cpu = process.cpuUsage(cpuAtStart);
console.log(
  JSON.stringify({
    members,
    posts,
    failedPosts,
    retries,
    seconds: (Date.now() - started) / 1000,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  }),
);
