// Export list benchmark: 10,000 exports (on 20 connections) written straight into Azurite, then
// the list with search + sort timed two ways: the use case in this process (what the function
// does: read, shape, search, sort, page) and GET /api/exports through the local Functions host.
//   node dist/bench/listExports.js [--exports 10000] [--requests 200]
import { parseArgs } from 'node:util';
import { cpus, loadavg, tmpdir } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import pLimit from 'p-limit';
import { startStack } from '../local/stack.js';
import { signDevToken } from '../shared/auth/devToken.js';
import type { Principal } from '../shared/auth/principal.js';
import type { ConnectionRecord } from '../shared/connections/connection.js';
import type { ExportRecord } from '../shared/exports/exportDefinition.js';

const { values } = parseArgs({ options: { exports: { type: 'string', default: '10000' }, requests: { type: 'string', default: '200' } } });
const EXPORTS = Number(values.exports);
const REQUESTS = Number(values.requests);

const WORDS = [
  'Newsletter',
  'Winback',
  'Loyalty',
  'VIP',
  'Nordic',
  'Spring sale',
  'Churn risk',
  'Onboarding',
  'Birthday',
  'Abandoned cart',
  'Webinar',
  'Partners',
];
const QUERIES = [
  'search=loyalty&sort=name&order=asc',
  'search=nordic&sort=connectionName&order=desc',
  'search=campaign&sort=lastRefreshed&order=desc',
  'search=7&sort=createdAt&order=asc',
  'sort=status&order=asc',
  'search=winback&sort=schedule&order=desc',
  'search=zzz-no-match&sort=name',
  'sort=name&order=desc&top=1000',
];

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function summary(label: string, samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  return `${label}: n=${sorted.length} p50 ${percentile(sorted, 50).toFixed(1)} ms, p95 ${percentile(sorted, 95).toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms`;
}

const dataDir = mkdtempSync(join(tmpdir(), 'outflow-bench-list-'));
const signingKey = randomBytes(32).toString('base64url');
// A small lake: updates check their segments against it.
const stack = await startStack({ dataDir, hostOutput: () => undefined, authSigningKey: signingKey, seedProfiles: 200 });
try {
  // The stores read AzureWebJobsStorage, so this process writes to the stack's Azurite.
  process.env.AzureWebJobsStorage = stack.azurite.connectionString;
  const { insertConnection } = await import('../shared/connections/connectionStore.js');
  const { exportListCache, insertExport } = await import('../shared/exports/exportStore.js');
  const { listExportViews } = await import('../shared/exports/manageExports.js');
  const { listExportsQuery, queryExports } = await import('../shared/exports/queryExports.js');

  const now = Date.now();
  const connections: ConnectionRecord[] = [];
  for (let index = 0; index < 20; index++) {
    const at = new Date(now - index * 86_400_000).toISOString();
    connections.push(
      await insertConnection({
        id: randomUUID(),
        name: `${index % 2 ? 'Nordic' : 'Global'} Campaign Monitor ${index}`,
        type: 'campaign-monitor',
        settings: {},
        secretName: `connection-bench-${index}`,
        secretFields: ['apiKey'],
        sharing: index % 3 ? 'contributors' : 'adminsOnly',
        limits: {},
        exportUser: { id: 'bench', name: 'Bench' },
        privacyConsent: { acceptedBy: 'bench', acceptedAt: at },
        createdAt: at,
        updatedAt: at,
        etag: '',
      }),
    );
  }

  const insertStarted = performance.now();
  const limit = pLimit(32);
  await Promise.all(
    Array.from({ length: EXPORTS }, (_, index) =>
      limit(() => {
        const at = new Date(now - index * 60_000).toISOString();
        const connection = connections[index % connections.length]!;
        const record: ExportRecord = {
          id: randomUUID(),
          name: `${WORDS[index % WORDS.length]} ${index}`,
          connectionId: index % 50 === 0 ? null : connection.id,
          connectionType: connection.type,
          kind: 'segment',
          segments: ['Segment_AllCustomers'],
          mapping: { email: 'Email', firstName: 'FirstName', lastName: 'LastName' },
          details: { listId: `list-${index}` },
          entities: [],
          schedule:
            index % 4
              ? { active: true, mode: 'systemRefresh' }
              : { active: false, mode: 'custom', recurrence: { frequency: 'daily', interval: 1, time: '06:00', timeZone: 'Europe/Oslo' } },
          createdAt: at,
          createdBy: { id: 'bench', name: 'Bench' },
          updatedAt: at,
          lastRefreshed: index % 3 ? at : null,
          lastRunStatus: index % 3 ? (index % 7 ? 'succeeded' : 'partiallySucceeded') : null,
          activeRunId: null,
          etag: '',
        };
        return insertExport(record);
      }),
    ),
  );
  console.log(`inserted ${EXPORTS.toLocaleString('en-US')} exports in ${((performance.now() - insertStarted) / 1000).toFixed(1)} s`);

  // The use case, in this process.
  const principal: Principal = { id: 'bench', name: 'Bench', roles: ['contributor'] };
  const inProcess: number[] = [];
  for (let index = 0; index < 10 + REQUESTS; index++) {
    const query = listExportsQuery.parse(Object.fromEntries(new URLSearchParams(QUERIES[index % QUERIES.length]!)));
    const started = performance.now();
    const page = queryExports(await listExportViews(principal), query);
    JSON.stringify(page);
    if (index >= 10) inProcess.push(performance.now() - started);
  }

  // Through the host, over HTTP, as a contributor (permissions per export).
  const token = await signDevToken({
    key: signingKey,
    role: 'contributor',
    sub: 'bench',
    name: 'Bench',
    issuer: 'outflow-local',
    audience: 'outflow-api',
  });
  const adminToken = await signDevToken({
    key: signingKey,
    role: 'admin',
    sub: 'bench-admin',
    name: 'Bench admin',
    issuer: 'outflow-local',
    audience: 'outflow-api',
  });
  const get = async (query: string) => {
    const started = performance.now();
    const response = await fetch(`${stack.apiUrl}/exports?${query}`, { headers: { authorization: `Bearer ${token}` } });
    const body = (await response.json()) as { items: { id: string; etag: string }[] };
    if (response.status !== 200) throw new Error(`GET /exports answered ${response.status}`);
    return { ms: performance.now() - started, body };
  };
  const firstRead = await get(QUERIES[0]!);
  const searchAndSort = QUERIES.filter((query) => !query.includes('top='));
  const pageOf100: number[] = [];
  const pageOf1000: number[] = [];
  for (let index = 0; index < 10 + REQUESTS; index++) {
    const { ms } = await get(searchAndSort[index % searchAndSort.length]!);
    if (index >= 10) pageOf100.push(ms);
    if (index % 8 === 0) pageOf1000.push((await get('sort=name&order=desc&top=1000')).ms);
  }
  // Write-then-read: each round renames one export (so the list's copy must catch up) and lists.
  const afterWrite: number[] = [];
  const ids = (await get('search=loyalty&top=50')).body.items;
  for (const item of ids.slice(0, 30)) {
    const patched = await fetch(`${stack.apiUrl}/exports/${item.id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: `Loyalty renamed ${item.id.slice(0, 8)}` }),
    });
    if (patched.status !== 200) throw new Error(`PATCH answered ${patched.status}: ${await patched.text()}`);
    const { ms, body } = await get('search=renamed&sort=name');
    if (!body.items.some((candidate) => candidate.id === item.id)) throw new Error('the list did not show the write just made');
    afterWrite.push(ms);
  }

  console.log(`in-process copy (bench process): ${JSON.stringify(exportListCache.stats)}`);
  console.log(summary('use case in process, 8 query shapes incl. top=1000', inProcess));
  console.log(`GET /api/exports first read (full read of the table into the copy): ${firstRead.ms.toFixed(1)} ms`);
  console.log(summary('GET /api/exports search + sort, page of 100 (HTTP, host)', pageOf100));
  console.log(summary('GET /api/exports sort, page of 1000 (HTTP, host)', pageOf1000));
  console.log(summary('GET /api/exports right after a PATCH (changed rows read)', afterWrite));
  console.log(`(queries: ${searchAndSort.join(' | ')})`);
  console.log(
    `node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), load average ${loadavg()
      .map((value) => value.toFixed(1))
      .join(' ')}, ${new Date().toISOString()}`,
  );
} finally {
  await stack.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
