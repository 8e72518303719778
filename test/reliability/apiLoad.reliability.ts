// API load: 50 concurrent clients (each its own caller: admins, contributors and viewers) run a
// mix of reads and writes against the local host for 60 s (20 for 5 s in the ci profile), one
// request in flight each, every request bounded by a timeout, loopback only. Records p50/p95/p99
// and every status; no 5xx, no network error. Lost updates: a few shared exports carry a counter
// in their name that clients increment by read-modify-write with If-Match; at the end every
// counter must equal the successful increments of it (412s are counted and tried again).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { performance } from 'node:perf_hooks';
import { startTestStack, type TestStack } from '../support/testStack.js';
import type { Role } from '../../shared/auth/principal.js';
import { percentile, recordResult, SIZES } from './support/results.js';
import { scanForSecrets } from './support/secretScan.js';

const CLIENTS = SIZES.apiClients;
const DURATION_MS = SIZES.apiLoadMs;
const SHARED_EXPORTS = 5;
const REQUEST_TIMEOUT_MS = 30_000;
const API_KEY = `load-key-${Math.random().toString(36).slice(2, 14)}`;

let stack: TestStack;
let connectionId: string;
const sharedExports: string[] = [];

interface Sample {
  operation: string;
  status: number; // 0: no answer (network error or timeout)
  ms: number;
}

const samples: Sample[] = [];
/** Load responses holding the connection's API key (checked on the fly: they are too many to keep). */
let responsesWithSecret = 0;
const increments = new Map<string, number>();
let unknownIncrements = 0;

class Client {
  private ownExportId: string | undefined;
  private readonly random: () => number;

  constructor(
    readonly index: number,
    readonly role: Role,
    private readonly token: string,
  ) {
    let seed = index * 7919 + 17;
    // A small seeded PRNG per client: the mix is the same on every run.
    this.random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }

  async call(
    operation: string,
    method: string,
    path: string,
    options: { body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; body: any; etag: string | null }> {
    const started = performance.now();
    try {
      const response = await fetch(`${stack.apiUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...options.headers,
        },
        body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const text = await response.text();
      if (text.includes(API_KEY)) responsesWithSecret++;
      samples.push({ operation, status: response.status, ms: performance.now() - started });
      let body: unknown = text;
      if ((response.headers.get('content-type') ?? '').includes('json') && text) body = JSON.parse(text);
      return { status: response.status, body, etag: response.headers.get('etag') };
    } catch {
      samples.push({ operation, status: 0, ms: performance.now() - started });
      return { status: 0, body: undefined, etag: null };
    }
  }

  private readonly reads = [
    () =>
      this.call(
        'list exports',
        'GET',
        `/exports?search=${this.pick(['Counter', 'Load', 'x', ''])}&sort=${this.pick(['name', 'connectionName', 'lastRefreshed'])}&order=${this.pick(['asc', 'desc'])}&top=50`,
      ),
    () => this.call('get export', 'GET', `/exports/${this.pick(sharedExports)}`),
    // Viewers cannot see connections, so only writers ask for eligibility against one.
    () =>
      this.call(
        'list segments',
        'GET',
        this.role === 'viewer' ? '/segments' : this.pick(['/segments', `/segments?connectionId=${connectionId}`]),
      ),
    () => this.call('list destinations', 'GET', '/destinations'),
    () => this.call('list runs', 'GET', `/exports/${this.pick(sharedExports)}/runs`),
    () => this.call('list refreshes', 'GET', '/refreshes?top=20'),
    () => this.call('list entities', 'GET', '/entities'),
  ];

  private readonly writerReads = [
    () => this.call('list connections', 'GET', '/connections'),
    () => this.call('get connection', 'GET', `/connections/${connectionId}`),
  ];

  /** Read-modify-write of a shared export's counter, with If-Match. */
  private async increment(): Promise<void> {
    const exportId = this.pick(sharedExports);
    const current = await this.call('increment: read', 'GET', `/exports/${exportId}`);
    if (current.status !== 200) return;
    const count = Number(/#(\d+)$/.exec(current.body.name)?.[1]);
    const written = await this.call('increment: PATCH If-Match', 'PATCH', `/exports/${exportId}`, {
      body: { name: `Counter ${exportId.slice(0, 8)} #${count + 1}` },
      headers: { 'if-match': current.body.etag },
    });
    if (written.status === 200) increments.set(exportId, (increments.get(exportId) ?? 0) + 1);
    else if (written.status === 0) unknownIncrements++;
  }

  private async ownExport(): Promise<string | undefined> {
    if (this.ownExportId) return this.ownExportId;
    const created = await this.call('create export', 'POST', '/exports', {
      body: {
        name: `Load ${this.index}`,
        connectionId,
        segments: ['Segment_VIP'],
        mapping: { email: 'Email' },
        details: { listId: `load-${this.index}` },
      },
    });
    this.ownExportId = created.status === 201 ? created.body.id : undefined;
    return this.ownExportId;
  }

  private readonly writes = [
    { weight: 10, run: () => this.increment() },
    {
      weight: 3,
      run: async () => {
        const created = await this.call('create export', 'POST', '/exports', {
          body: {
            name: `Load temp ${this.index}`,
            connectionId,
            segments: ['Segment_VIP'],
            mapping: { email: 'Email', firstName: 'FirstName' },
            details: { listId: `temp-${this.index}` },
          },
        });
        if (created.status === 201)
          await this.call('delete export If-Match', 'DELETE', `/exports/${created.body.id}`, {
            headers: { 'if-match': created.body.etag },
          });
      },
    },
    {
      weight: 2,
      run: async () => {
        const copy = await this.call('duplicate export', 'POST', `/exports/${this.pick(sharedExports)}/duplicate`);
        if (copy.status === 201)
          await this.call('delete export If-Match', 'DELETE', `/exports/${copy.body.id}`, { headers: { 'if-match': copy.body.etag } });
      },
    },
    {
      weight: 3,
      run: async () => {
        const exportId = await this.ownExport();
        if (!exportId) return;
        const current = await this.call('schedule: read', 'GET', `/exports/${exportId}`);
        if (current.status !== 200) return;
        const schedule =
          this.random() < 0.5
            ? { active: false, mode: 'systemRefresh' }
            : { active: true, mode: 'custom', recurrence: { frequency: 'daily', interval: 1, time: '06:30', timeZone: 'Europe/Oslo' } };
        await this.call('set schedule If-Match', 'PUT', `/exports/${exportId}/schedule`, {
          body: schedule,
          headers: { 'if-match': current.body.etag },
        });
      },
    },
    {
      weight: 1,
      run: async () => {
        const exportId = await this.ownExport();
        if (exportId) await this.call('start run', 'POST', `/exports/${exportId}/runs`);
      },
    },
  ];

  async work(until: number): Promise<void> {
    const writer = this.role !== 'viewer';
    const reads = writer ? [...this.reads, ...this.writerReads] : this.reads;
    const totalWeight = this.writes.reduce((sum, write) => sum + write.weight, 0);
    while (performance.now() < until) {
      if (writer && this.random() < 0.4) {
        let roll = this.random() * totalWeight;
        const write = this.writes.find((candidate) => (roll -= candidate.weight) < 0) ?? this.writes[0]!;
        await write.run();
      } else {
        await this.pick(reads)();
      }
    }
  }
}

beforeAll(async () => {
  stack = await startTestStack({ seedProfiles: 300, simulatorOptions: { CAMPAIGN_MONITOR_API_URL: { rateLimit: false } } });
  const connection = await stack.api.post('/connections', {
    name: 'Load',
    type: 'campaign-monitor',
    secrets: { apiKey: API_KEY },
    sharing: 'contributors',
    privacyConsent: true,
  });
  expect(connection.status, connection.text).toBe(201);
  connectionId = connection.body.id;
  for (let index = 0; index < SHARED_EXPORTS; index++) {
    const created = await stack.api.post('/exports', {
      name: `Counter ${index} #0`,
      connectionId,
      segments: ['Segment_VIP'],
      mapping: { email: 'Email' },
      details: { listId: `counter-${index}` },
    });
    expect(created.status, created.text).toBe(201);
    sharedExports.push(created.body.id);
  }
}, 300_000);

afterAll(async () => {
  await stack?.stop();
});

describe(`API load: ${CLIENTS} clients for ${DURATION_MS / 1000} s`, () => {
  it('answers every request without a 5xx, and loses no update', { timeout: DURATION_MS + 240_000 }, async () => {
    const roles: Role[] = ['admin', 'admin', 'admin', 'admin', 'admin', 'admin', 'contributor', 'contributor', 'contributor', 'viewer'];
    const clients = await Promise.all(
      Array.from(
        { length: CLIENTS },
        async (_, index) =>
          new Client(index, roles[index % roles.length]!, await stack.tokenFor(roles[index % roles.length]!, `load-client-${index}`)),
      ),
    );
    const started = performance.now();
    await Promise.all(clients.map((client) => client.work(started + DURATION_MS)));
    const seconds = (performance.now() - started) / 1000;

    // Every counter must show exactly the increments that succeeded.
    const lost: string[] = [];
    for (const exportId of sharedExports) {
      const final = await stack.api.get(`/exports/${exportId}`);
      const count = Number(/#(\d+)$/.exec(final.body.name)?.[1]);
      const succeeded = increments.get(exportId) ?? 0;
      if (count < succeeded || count > succeeded + unknownIncrements)
        lost.push(`${exportId}: counter ${count}, ${succeeded} successful increments`);
    }

    const latencies = samples.map((sample) => sample.ms).sort((a, b) => a - b);
    const byStatus = (predicate: (status: number) => boolean) => samples.filter((sample) => predicate(sample.status)).length;
    const operations = [...new Set(samples.map((sample) => sample.operation))].sort().map((name) => {
      const own = samples.filter((sample) => sample.operation === name);
      const sorted = own.map((sample) => sample.ms).sort((a, b) => a - b);
      const statuses: Record<string, number> = {};
      for (const sample of own) statuses[sample.status] = (statuses[sample.status] ?? 0) + 1;
      return {
        name,
        requests: own.length,
        p50: round(percentile(sorted, 50)),
        p95: round(percentile(sorted, 95)),
        p99: round(percentile(sorted, 99)),
        statuses,
      };
    });
    const serverErrors = byStatus((status) => status >= 500);
    const networkErrors = byStatus((status) => status === 0);
    const otherClientErrors = byStatus((status) => status >= 400 && status < 500 && ![409, 412, 429].includes(status));
    const successfulWrites = [...increments.values()].reduce((sum, count) => sum + count, 0);
    recordResult('apiLoad', 'mixed', {
      passed: serverErrors === 0 && networkErrors === 0 && lost.length === 0 && otherClientErrors === 0,
      clients: CLIENTS,
      seconds: Math.round(seconds * 10) / 10,
      requests: samples.length,
      requestsPerSecond: Math.round(samples.length / seconds),
      p50: round(percentile(latencies, 50)),
      p95: round(percentile(latencies, 95)),
      p99: round(percentile(latencies, 99)),
      max: round(latencies[latencies.length - 1] ?? 0),
      serverErrors,
      networkErrors,
      preconditionFailed: byStatus((status) => status === 412),
      conflicts: byStatus((status) => status === 409),
      tooManyRequests: byStatus((status) => status === 429),
      otherClientErrors,
      successfulWrites,
      lostUpdates: lost.length,
      lost,
      operations,
    });
    expect(serverErrors, JSON.stringify(operations)).toBe(0);
    expect(networkErrors).toBe(0);
    expect(lost).toEqual([]);
    expect(successfulWrites).toBeGreaterThan(0);
    expect(otherClientErrors, JSON.stringify(operations)).toBe(0);
  });

  it('left no secret in any table row, queue message, response or log line', { timeout: 300_000 }, async () => {
    const scan = await scanForSecrets(stack, [API_KEY]);
    if (responsesWithSecret > 0) scan.findings.push(`${responsesWithSecret} load responses hold the API key`);
    recordResult('security', 'secret-scan-api-load', {
      passed: scan.findings.length === 0,
      title: 'Secrets nowhere (API load)',
      checked: 'the load connection’s API key, in every form',
      secrets: 1,
      ...scan,
      responses: scan.responses + samples.length,
      findings: scan.findings.slice(0, 20),
    });
    expect(scan.findings).toEqual([]);
  });
});

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
