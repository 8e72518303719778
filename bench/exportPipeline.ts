// Times one segment export end to end through the real local stack: the Functions host (child
// process), Azurite queues and tables, the Key Vault emulator and the Campaign Monitor simulator.
//   node dist/bench/exportPipeline.js --profiles 1000000 [--rate 0]   (rate 0 = no vendor limit)
// Prints wall time, throughput, the host's peak RSS and the simulator's counters as JSON.
import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { startStack } from '../local/stack.js';
import { signDevToken } from '../shared/auth/devToken.js';
import type { CampaignMonitorSimulator } from '../local/simulators/campaignMonitorSimulator.js';

const { values } = parseArgs({
  options: {
    profiles: { type: 'string', default: '100000' },
    rate: { type: 'string', default: '0' },
    latency: { type: 'string', default: '0' },
  },
});
const profiles = Number(values.profiles);
const rate = Number(values.rate);

function peakRssMb(pid: number): number {
  // VmHWM: the process's peak resident set size.
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmHWM:\s+(\d+) kB/.exec(status);
  return match ? Math.round(Number(match[1]) / 1024) : NaN;
}

const dataDir = mkdtempSync(join(tmpdir(), 'outflow-bench-'));
const key = randomBytes(32).toString('base64url');
const seedStarted = Date.now();
const stack = await startStack({
  dataDir,
  seedProfiles: profiles,
  seedKind: 'b2c',
  authSigningKey: key,
  hostOutput: () => {},
  simulatorOptions: {
    CAMPAIGN_MONITOR_API_URL: {
      rateLimit: rate > 0 ? { requestsPerSecond: rate, burst: Math.max(1, Math.ceil(rate)) } : false,
      faults: Number(values.latency) > 0 ? { latencyMs: Number(values.latency) } : undefined,
    },
  },
  settings: { DESTINATION_RATE_LIMITS: JSON.stringify({ 'campaign-monitor': rate > 0 ? { requestsPerSecond: rate, burst: Math.max(1, Math.ceil(rate)) } : { requestsPerSecond: 1_000_000, burst: 1_000_000 } }) },
});
const setupSeconds = (Date.now() - seedStarted) / 1000;
try {
  const token = await signDevToken({ key, role: 'admin', sub: 'bench', issuer: 'outflow-local', audience: 'outflow-api' });
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${stack.apiUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
    const json = (await response.json()) as any;
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
    return json;
  };
  const connection = await call('POST', '/connections', { name: 'bench', type: 'campaign-monitor', secrets: { apiKey: 'bench-key' }, privacyConsent: true });
  const created = await call('POST', '/exports', { name: 'bench', connectionId: connection.id, segments: ['Segment_AllCustomers'], mapping: { email: 'Email', firstName: 'FirstName', lastName: 'LastName', postalCode: 'PostalCode' }, details: { listId: 'bench' } });
  const started = Date.now();
  const { runId } = await call('POST', `/exports/${created.id}/runs`);
  let run: any;
  for (;;) {
    run = await call('GET', `/exports/${created.id}/runs/${runId}`);
    if (['succeeded', 'partiallySucceeded', 'failed', 'skipped', 'cancelled'].includes(run.status)) break;
    if (Date.now() - started > 30 * 60_000) throw new Error('run did not finish within 30 minutes');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const wallSeconds = (Date.now() - started) / 1000;
  const simulator = stack.simulators[0]!.instance as CampaignMonitorSimulator;
  const list = simulator.inspectList('bench')!;
  const result = {
    date: new Date().toISOString(),
    machine: `${cpus().length} cores, Node ${process.version}`,
    profiles,
    vendorRate: rate > 0 ? rate : 'unlimited',
    setupSeconds,
    wallSeconds,
    membersPerSecond: Math.round(profiles / wallSeconds),
    minimumSecondsAtRate: rate > 0 ? Math.ceil(profiles / 1000) / rate : null,
    status: run.status,
    counts: run.counts,
    delivered: list.memberCount,
    deliveries: list.deliveries,
    duplicates: list.duplicates,
    requests: simulator.state.counters.requests,
    tooManyRequests: simulator.state.counters.tooManyRequests,
    hostPeakRssMb: peakRssMb(stack.host.pid!),
  };
  console.log(JSON.stringify(result, null, 2));
} finally {
  await stack.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
