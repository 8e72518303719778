// The CPU one sender spends per member, without storage or network: a generated "All customers"
// partition (as the seeded lake has it) is read from memory by the lake reader, matched and
// batched as sendChunk does, and each batch goes through the Campaign Monitor adapter's sendBatch
// with fetch answered at once. What the pipeline-cost bench's instance does per member besides
// its storage and vendor round trips, measured in seconds per 1M members and GC time.
// Several senders run at once, each over its own copy of the partition, and the vendor answers
// after a delay, so batches live across their calls as in the pipeline (what the GC sees).
//   node --expose-gc dist/bench/memberPath.js [--rows 20000] [--senders 16] [--latency-ms 20] [--rounds 5]
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { PerformanceObserver } from 'node:perf_hooks';
import { stringify } from 'csv-stringify/sync';
import type { ContainerClient } from '@azure/storage-blob';
import { lakeSources } from '../local/demoData/generateProfiles.js';
import { readFieldBatches } from '../shared/lake/lakeReader.js';
import { matchRecord, matchingPlan } from '../shared/segmentSender/dataMatching.js';
import { campaignMonitor } from '../shared/destinations/campaignMonitor.js';
import type { MappedMember } from '../shared/destinations/destination.js';
import { profileKeyColumn } from '../shared/lake/profileKey.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '20000' },
    senders: { type: 'string', default: '16' },
    'latency-ms': { type: 'string', default: '20' },
    rounds: { type: 'string', default: '5' },
  },
});
const rows = Number(args.rows);
const rounds = Number(args.rounds);
const senders = Number(args.senders);
const latencyMs = Number(args['latency-ms']);
const MAPPING = { email: 'Email', firstName: 'FirstName', lastName: 'LastName', postalCode: 'PostalCode' };
/** The size of the pieces an HTTP download streams in. */
const PIECE = 64 * 1024;

const source = lakeSources('b2c', rows, { seed: 1 })[0]!;
const attributes = source.entity.attributes.map((attribute) => attribute.name);
const parts: string[] = [];
for (let from = 0; from < rows; from += 1000) {
  const batch: string[][] = [];
  for (let index = from; index < Math.min(rows, from + 1000); index++) batch.push(source.row(index).values);
  parts.push(stringify(batch, { record_delimiter: '\n' }));
}
const csv = Buffer.from(parts.join(''), 'utf8');

/** A container whose one blob is `csv`, streamed in pieces (fresh buffers, as a socket gives them) as a download would be. */
const container = {
  getBlobClient: () => ({
    download: async (offset: number, count: number) => {
      function* pieces() {
        for (let at = offset; at < offset + count; at += PIECE) yield Buffer.from(csv.subarray(at, Math.min(offset + count, at + PIECE)));
      }
      return { readableStreamBody: Readable.from(pieces()) };
    },
  }),
} as unknown as ContainerClient;

const IMPORTED = JSON.stringify({
  FailureDetails: [],
  TotalUniqueEmailsSubmitted: 1000,
  TotalExistingSubscribers: 0,
  TotalNewSubscribers: 1000,
});
let bodyBytes = 0;
const encoder = new TextEncoder();
globalThis.fetch = (async (_url: string, init: { body: string }) => {
  // As undici does with a string body: encoded to UTF-8 bytes once, the bytes kept for the call.
  const bytes = encoder.encode(init.body);
  bodyBytes += bytes.length;
  if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs, bytes));
  return new Response(IMPORTED, { status: 200, headers: { 'content-type': 'application/json' } });
}) as unknown as typeof fetch;

const plan = matchingPlan(MAPPING, attributes);
const keyColumn = profileKeyColumn(attributes);
const call = {
  settings: {},
  secrets: { apiKey: 'bench' },
  details: { listId: 'bench', customFieldKeys: { postalCode: '[PostalCode]' } },
  apiOrigin: 'http://127.0.0.1:9',
};

interface Item {
  member: MappedMember;
  offset: number;
  rowKey?: string;
}

async function oneSender(): Promise<number> {
  let members = 0;
  let batch: Item[] = [];
  const flush = async () => {
    await campaignMonitor.sendBatch(
      call,
      batch.map((item) => item.member),
    );
    batch = [];
  };
  const columns = [...plan.columns.map(([, index]) => index), keyColumn];
  for await (const records of readFieldBatches(container, 'bench.csv', 0, csv.length, columns, { delimiter: ',' })) {
    for (const record of records) {
      if (batch.length >= 1000) await flush();
      const matched = matchRecord(plan, record.values);
      if (!matched.ok) continue;
      members++;
      batch.push({ member: matched.member, offset: record.offset, rowKey: record.values[keyColumn] });
    }
  }
  await flush();
  return members;
}

async function oneRound(): Promise<number> {
  const counts = await Promise.all(Array.from({ length: senders }, () => oneSender()));
  return counts.reduce((sum, count) => sum + count, 0);
}

let gcMs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcMs += entry.duration;
}).observe({ entryTypes: ['gc'] });

await oneRound(); // warm-up
const perMillion: number[] = [];
const gcPerMillion: number[] = [];
for (let round = 0; round < rounds; round++) {
  (globalThis as { gc?: () => void }).gc?.();
  gcMs = 0;
  const cpu = process.cpuUsage();
  const members = await oneRound();
  const used = process.cpuUsage(cpu);
  // GC entries reach the observer asynchronously.
  await new Promise((resolve) => setTimeout(resolve, 50));
  perMillion.push((((used.user + used.system) / 1e6) * 1e6) / members);
  gcPerMillion.push((gcMs / 1000) * (1e6 / members));
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
console.log(
  JSON.stringify({
    rows,
    csvMb: Math.round(csv.length / 1e5) / 10,
    senders,
    bodyBytesPerMember: Math.round(bodyBytes / ((rounds + 1) * rows * senders)),
    cpuSecondsPer1M: perMillion.map((value) => Number(value.toFixed(2))),
    medianCpuSecondsPer1M: Number(median(perMillion).toFixed(2)),
    medianGcSecondsPer1M: Number(median(gcPerMillion).toFixed(2)),
  }),
);
